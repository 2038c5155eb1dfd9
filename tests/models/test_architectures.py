"""Semantic architectures and encoders: one shared base over every registered architecture x encoder (x U-Net
upsampling), then what each one specifically promises (paper structure, torchvision/smp compatibility).

Everything runs on the CPU on tiny inputs; nothing downloads (torchvision/smp models are built with
``weights=None`` / ``encoder_weights=None``); paper-size models are only built on the ``meta`` device.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from segstudio.models.architectures.fcn import FCN, adapt_torchvision_fcn_state_dict, bilinear_kernel, upsampler
from segstudio.models.architectures.segnet import SegNet
from segstudio.models.architectures.unet import UNET_UPSAMPLING
from segstudio.models.encoder_contract import ENCODERS, pad_input
from segstudio.models.encoders import build_encoder
from segstudio.models.torchvision_encoders import VGGEncoder, adapt_input_channels
from segstudio.models.registry import ModelConfig, Task, architectures, build_model
from segstudio.models.smp_compat import load_smp_state_dict

# Options that keep a model small where its paper size is not what a test is about (FCN's fc6 alone has 103M
# parameters at the paper's width 4096).
SMALL_OPTIONS: dict[str, dict[str, Any]] = {"fcn32s": {"width": 64}, "fcn16s": {"width": 64}, "fcn8s": {"width": 64}}
# Architectures with an auxiliary head: "aux" in training mode, never in eval mode.
WITH_AUX = {"pspnet", "fcn_resnet50"}
ODD_SIZES = [(33, 47), (1, 7), (18, 31)]  # 32x32 and 40x36 are in the other base tests


@dataclass(frozen=True)
class Case:
    architecture: str
    encoder: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        extra = "-".join(str(v) for k, v in sorted(self.options.items()) if k != "width")
        return "-".join(p for p in (self.architecture, self.encoder, extra) if p)

    def build(self, *, num_classes: int, in_channels: int, seed: int = 0) -> nn.Module:
        torch.manual_seed(seed)
        config = ModelConfig(
            architecture=self.architecture,
            num_classes=num_classes,
            in_channels=in_channels,
            encoder=self.encoder,
            options=self.options,
        )
        return build_model(config)


def semantic_cases() -> Iterator[Case]:
    for name, architecture in sorted(architectures().items()):
        if architecture.task is not Task.SEMANTIC:
            continue
        for encoder in architecture.encoders:
            options = dict(SMALL_OPTIONS.get(name, {}))
            if "upsampling" in architecture.options:
                for mode in UNET_UPSAMPLING:
                    yield Case(name, encoder, {**options, "upsampling": mode.value})
            else:
                yield Case(name, encoder, options)


CASES = list(semantic_cases())


def calibrate_batchnorm(model: nn.Module, x: torch.Tensor) -> None:
    """BatchNorm statistics of one random batch, as training leaves them: eval outputs then stay near unit scale
    (kaiming-initialised nets with unit running statistics blow activations up by orders of magnitude)."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average: after one batch, exactly its statistics
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()


def randomise_batchnorm(model: nn.Module, seed: int = 1) -> None:
    """Non-trivial BatchNorm statistics and affine parameters, so eval-mode comparisons cover them."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- The shared base --------------------------------------------------------------------------------------------


def test_every_builtin_architecture_is_registered() -> None:
    names = set(architectures())
    assert {"fcn32s", "fcn16s", "fcn8s", "fcn_resnet50", "segnet", "unet", "pspnet"} <= names
    assert {c.architecture for c in CASES} >= {"fcn32s", "fcn16s", "fcn8s", "fcn_resnet50", "segnet", "unet", "pspnet"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_train_step_and_eval_outputs(case: Case) -> None:
    model = case.build(num_classes=5, in_channels=3)
    model.train()
    x = torch.randn(2, 3, 32, 32)
    target = torch.randint(0, 5, (2, 32, 32))
    out = model(x)
    expected_keys = {"out", "aux"} if case.architecture in WITH_AUX else {"out"}
    assert set(out) == expected_keys
    for logits in out.values():
        assert logits.shape == (2, 5, 32, 32)
    loss = sum(F.cross_entropy(logits, target) for logits in out.values())
    loss.backward()
    without_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not without_grad, f"parameters left out of the graph: {without_grad[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)

    model.eval()
    with torch.inference_mode():
        first, second = model(x), model(x)
    assert set(first) == {"out"}, "auxiliary outputs belong to training mode only"
    assert first["out"].shape == (2, 5, 32, 32)
    assert torch.equal(first["out"], second["out"]), "eval mode must be deterministic (no dropout)"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_output_matches_any_input_size_single_channel(case: Case) -> None:
    model = case.build(num_classes=2, in_channels=1).eval()
    with torch.inference_mode():
        for height, width in ODD_SIZES:
            logits = model(torch.randn(1, 1, height, width))["out"]
            assert logits.shape == (1, 2, height, width), (height, width)
            assert torch.isfinite(logits).all()
    model.train()  # the training path on an odd size too (batch 2: BatchNorm needs more than one value)
    out = model(torch.randn(2, 1, 33, 47))
    assert all(logits.shape == (2, 2, 33, 47) for logits in out.values())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_state_dict_round_trip(case: Case) -> None:
    source = case.build(num_classes=1, in_channels=3, seed=0)
    randomise_batchnorm(source)
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    target = case.build(num_classes=1, in_channels=3, seed=1)
    x = torch.randn(1, 3, 40, 36)
    source.eval(), target.eval()
    with torch.inference_mode():
        expected = source(x)["out"]
        assert not torch.equal(target(x)["out"], expected), "two seeds should give two different models"
        target.load_state_dict(torch.load(buffer, weights_only=True), strict=True)
        assert torch.equal(target(x)["out"], expected)
    assert expected.shape == (1, 1, 40, 36)


def test_bad_configurations_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="upsampling"):
        build_model(ModelConfig("unet", 2, options={"upsampling": "max-unpool"}))
    with pytest.raises(ValueError, match="decoder_channels"):
        build_model(ModelConfig("unet", 2, encoder="resnet50", options={"decoder_channels": (64, 32)}))
    with pytest.raises(ValueError, match="base_channels"):
        build_model(ModelConfig("unet", 2, encoder="resnet50", options={"base_channels": 16}))
    with pytest.raises(ValueError, match="output_stride"):
        build_model(ModelConfig("pspnet", 2, options={"output_stride": 32}))
    with pytest.raises(ValueError, match="no encoder"):
        build_model(ModelConfig("segnet", 2, encoder="resnet50"))


# --- Encoders -------------------------------------------------------------------------------------------------


ENCODER_CASES = [(name, None) for name in ENCODERS] + [
    ("resnet50", 16),
    ("resnet50", 8),
    ("mobilenet_v2", 8),
    ("mobilenet_v3", 8),
]


@pytest.mark.parametrize(("name", "output_stride"), ENCODER_CASES)
def test_encoder_feature_contract(name: str, output_stride: int | None) -> None:
    encoder = build_encoder(name, in_channels=2, output_stride=output_stride).eval()
    with torch.inference_mode():
        features = encoder(torch.randn(1, 2, 64, 64))
    assert len(features) == len(encoder.out_channels) == len(encoder.reductions)
    assert list(encoder.reductions) == sorted(encoder.reductions), "high to low resolution"
    for feature, channels, reduction in zip(features, encoder.out_channels, encoder.reductions):
        assert feature.shape == (1, channels, 64 // reduction, 64 // reduction)
    assert encoder.output_stride == (output_stride or (16 if name == "classic" else 32))


def test_encoder_contract_values() -> None:
    assert build_encoder("vgg16").reductions == (1, 2, 4, 8, 16, 32)
    assert build_encoder("resnet50", output_stride=8).reductions == (2, 4, 8, 8, 8)
    assert build_encoder("mobilenet_v2").out_channels == (16, 24, 32, 96, 1280)
    assert build_encoder("mobilenet_v3").out_channels == (16, 24, 40, 112, 960)
    with pytest.raises(ValueError, match="fixed output stride"):
        build_encoder("vgg16", output_stride=8)
    with pytest.raises(ValueError, match="unknown encoder"):
        build_encoder("resnet18")


TORCHVISION_ENCODERS = [  # our name, torchvision's network, its trunk (everything but pooling + classifier)
    ("vgg16", torchvision.models.vgg16, lambda tv, x: tv.features(x)),
    ("resnet50", torchvision.models.resnet50, lambda tv, x: nn.Sequential(*list(tv.children())[:-2])(x)),
    ("mobilenet_v2", torchvision.models.mobilenet_v2, lambda tv, x: tv.features(x)),
    ("mobilenet_v3", torchvision.models.mobilenet_v3_large, lambda tv, x: tv.features(x)),
]


@pytest.mark.parametrize(("name", "make", "trunk"), TORCHVISION_ENCODERS, ids=[c[0] for c in TORCHVISION_ENCODERS])
def test_encoder_loads_torchvision_imagenet_state_dict(name: str, make: Any, trunk: Any) -> None:
    torch.manual_seed(0)
    reference = make(weights=None).eval()
    randomise_batchnorm(reference)
    torch.manual_seed(1)
    encoder = build_encoder(name).eval()
    encoder.load_torchvision_state_dict(reference.state_dict())  # classifier keys included: ignored
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(encoder(x)[-1], trunk(reference, x))


def test_torchvision_state_dict_of_another_network_is_refused() -> None:
    with torch.device("meta"):
        resnet_keys = torchvision.models.resnet50().state_dict()
    encoder = build_encoder("mobilenet_v2")
    with pytest.raises(ValueError, match=r"not a torchvision mobilenet_v2 state dict: missing keys: features\.0\.0"):
        encoder.load_torchvision_state_dict(resnet_keys)
    with pytest.raises(ValueError, match=r"unexpected keys: bn1\.bias, .*\(320 in all\)"):
        encoder.load_torchvision_state_dict(resnet_keys)


def test_grey_encoder_sees_a_grey_image_as_the_rgb_network_sees_it() -> None:
    torch.manual_seed(0)
    reference = torchvision.models.mobilenet_v2(weights=None).eval()
    randomise_batchnorm(reference)
    grey = build_encoder("mobilenet_v2", in_channels=1).eval()
    grey.load_torchvision_state_dict(reference.state_dict())
    assert grey.features[0][0].weight.shape[1] == 1
    image = torch.rand(1, 1, 48, 40)
    with torch.inference_mode():
        torch.testing.assert_close(grey(image)[-1], reference.features(image.expand(1, 3, 48, 40)), rtol=1e-4, atol=1e-5)


def test_adapt_input_channels() -> None:
    weight = torch.randn(8, 3, 3, 3)
    assert torch.equal(adapt_input_channels(weight, 3), weight)
    torch.testing.assert_close(adapt_input_channels(weight, 1), weight.sum(1, keepdim=True))
    five = adapt_input_channels(weight, 5)
    torch.testing.assert_close(five, weight[:, [0, 1, 2, 0, 1]] * 3 / 5)
    with pytest.raises(ValueError, match="RGB"):
        adapt_input_channels(torch.randn(8, 4, 3, 3), 1)


def test_pad_input() -> None:
    x = torch.randn(1, 1, 33, 47)
    padded, size = pad_input(x, multiple=32)
    assert padded.shape[-2:] == (64, 64) and size == (33, 47)
    assert torch.equal(padded[..., :33, :47], x) and padded[..., 33:, :].abs().sum() == 0
    assert pad_input(x, minimum=32)[0] is x


# --- FCN ------------------------------------------------------------------------------------------------------


def test_fcn_trunk_is_vgg16_and_fc6_fc7_are_its_classifier_at_paper_width() -> None:
    with torch.device("meta"):  # paper size (134M parameters): shapes only, no memory
        fcn = build_model(ModelConfig("fcn8s", 21))
        vgg = torchvision.models.vgg16()
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(fcn.encoder.features) == count(vgg.features) == 14_714_688
    assert {k: v.shape for k, v in fcn.encoder.features.state_dict().items()} == {
        k: v.shape for k, v in vgg.features.state_dict().items()
    }
    assert count(fcn.fc6) + count(fcn.fc7) == count(vgg.classifier[0]) + count(vgg.classifier[3])
    assert fcn.fc6.weight.shape == (4096, 512, 7, 7) and fcn.fc7.weight.shape == (4096, 4096, 1, 1)


def test_fcn_variants_differ_only_by_skip_fusion() -> None:
    models = {s: build_model(ModelConfig(f"fcn{s}s", 3, options={"width": 32})) for s in (32, 16, 8)}
    keys = {s: {k.rsplit(".", 1)[0] for k in m.state_dict()} for s, m in models.items()}
    trunk = {k for k in keys[32] if k.startswith(("encoder.", "fc6", "fc7", "score_fr"))}
    assert trunk <= keys[16] and trunk <= keys[8]
    assert keys[32] - trunk == {"upscore"}
    assert keys[16] - trunk == {"upscore2", "score_pool4", "upscore16"}
    assert keys[8] - trunk == {"upscore2", "score_pool4", "upscore_pool4", "score_pool3", "upscore8"}
    # The paper's staged training: FCN-16s starts from FCN-32s, FCN-8s from FCN-16s.
    result = models[16].load_state_dict(models[32].state_dict(), strict=False)
    assert {k.rsplit(".", 1)[0] for k in result.missing_keys} == {"upscore2", "score_pool4", "upscore16"}
    assert result.unexpected_keys == ["upscore.weight"]
    # Skip scores start at zero; once they are not, the skip changes the prediction.
    x = torch.randn(1, 3, 64, 64)
    model = models[8].eval()
    assert model.score_pool3.weight.abs().sum() == 0 and model.score_pool4.weight.abs().sum() == 0
    with torch.inference_mode():
        before = model(x)["out"]
        nn.init.normal_(model.score_pool3.weight)
        assert not torch.allclose(model(x)["out"], before)


@pytest.mark.parametrize("factor", [2, 8, 16, 32])
def test_fcn_upsampling_starts_as_aligned_bilinear_interpolation(factor: int) -> None:
    layer = upsampler(3, factor)
    assert layer.bias is None and torch.equal(layer.weight.detach(), bilinear_kernel(3, factor))
    x = torch.randn(1, 3, 5, 6)
    with torch.inference_mode():
        learned, reference = layer(x), F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    assert learned.shape == reference.shape == (1, 3, 5 * factor, 6 * factor)
    interior = (..., slice(factor, -factor), slice(factor, -factor))  # borders: zero padding vs edge clamping
    torch.testing.assert_close(learned[interior], reference[interior], rtol=0, atol=1e-5)


def test_fcn_loads_a_convolutionalised_vgg16_classifier() -> None:
    torch.manual_seed(0)
    width = 16
    state = {k: v.clone() for k, v in VGGEncoder().state_dict().items()}
    state |= {
        "classifier.0.weight": torch.randn(width, 512 * 7 * 7) * 0.01,
        "classifier.0.bias": torch.randn(width),
        "classifier.3.weight": torch.randn(width, width) * 0.1,
        "classifier.3.bias": torch.randn(width),
        "classifier.6.weight": torch.randn(1000, width),
        "classifier.6.bias": torch.randn(1000),
    }
    model: FCN = build_model(ModelConfig("fcn32s", 2, options={"width": width}))
    model.load_torchvision_vgg16(state)
    pool5 = torch.randn(1, 512, 7, 7)
    with torch.inference_mode():
        centre = model.fc6(pool5)[0, :, 3, 3]  # the one position whose 7x7 window is the whole map
        torch.testing.assert_close(  # 25088-term sums: float32 rounding differs between conv and linear
            centre,
            F.linear(pool5.flatten(1), state["classifier.0.weight"], state["classifier.0.bias"])[0],
            rtol=1e-4,
            atol=1e-5,
        )
        hidden = torch.randn(1, width, 1, 1)
        torch.testing.assert_close(
            model.fc7(hidden).flatten(), F.linear(hidden.flatten(1), state["classifier.3.weight"], state["classifier.3.bias"])[0]
        )
    with pytest.raises(ValueError, match="width=16"):
        build_model(ModelConfig("fcn32s", 2, options={"width": 8})).load_torchvision_vgg16(state)


def test_fcn_resnet50_is_torchvisions_and_loads_its_state_dict_unchanged() -> None:
    torch.manual_seed(0)
    reference = torchvision.models.segmentation.fcn_resnet50(
        weights=None, weights_backbone=None, num_classes=21, aux_loss=True
    ).eval()
    randomise_batchnorm(reference)
    ours = build_model(ModelConfig("fcn_resnet50", 21)).eval()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 45, 37)
    with torch.inference_mode():
        expected = reference(x)
        got = ours(x)
    assert set(expected) == {"out", "aux"} and set(got) == {"out"}  # aux: training only, here
    assert torch.equal(got["out"], expected["out"])
    # A grey model from the same (RGB) file: conv1's RGB kernels summed.
    grey = build_model(ModelConfig("fcn_resnet50", 21, in_channels=1)).eval()
    assert grey.backbone.conv1.weight.shape == (64, 1, 7, 7)
    grey.load_state_dict(adapt_torchvision_fcn_state_dict(reference.state_dict(), 1), strict=True)
    image = torch.rand(1, 1, 45, 37)
    with torch.inference_mode():
        torch.testing.assert_close(grey(image)["out"], reference(image.expand(1, 3, 45, 37))["out"], rtol=1e-4, atol=1e-4)
    with torch.device("meta"):
        assert build_model(ModelConfig("fcn_resnet50", 2, options={"aux": False})).aux_classifier is None


# --- SegNet ---------------------------------------------------------------------------------------------------


def test_segnet_encoder_is_vgg16_bn_and_decoder_mirrors_it() -> None:
    model = build_model(ModelConfig("segnet", 4))
    with torch.device("meta"):
        vgg_bn = torchvision.models.vgg16_bn()
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(model.encoder.features) == count(vgg_bn.features) == 14_723_136
    assert {k: v.shape for k, v in model.encoder.features.state_dict().items()} == {
        k: v.shape for k, v in vgg_bn.features.state_dict().items()
    }
    encoder_convs = sum(isinstance(m, nn.Conv2d) for m in model.encoder.modules())
    decoder_convs = sum(isinstance(m, nn.Conv2d) for m in model.decoder.modules()) + 1  # + the classifier
    assert encoder_convs == decoder_convs == 13
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in model.modules()), "no learned upsampling"


def test_segnet_unpools_with_the_encoders_max_indices() -> None:
    torch.manual_seed(0)
    model: SegNet = build_model(ModelConfig("segnet", 3)).eval()
    calls: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def record(module: nn.Module, args: tuple, kwargs: dict, output: torch.Tensor) -> None:
        calls.append((args[0], args[1], output))

    handle = model.unpool.register_forward_hook(record, with_kwargs=True)
    x = torch.randn(1, 3, 67, 45)  # odd: every unpooling must restore an odd pre-pool size
    with torch.inference_mode():
        logits = model(x)["out"]
        stages = model.encoder.forward_pooled(x, return_indices=True)
    handle.remove()
    assert logits.shape == (1, 3, 67, 45)
    assert len(calls) == 5
    for (values, indices, output), stage in zip(calls, reversed(stages)):
        assert torch.equal(indices, stage.indices), "the decoder must use the encoder's pooling indices"
        assert output.shape[-2:] == stage.size
        flat_out, flat_idx = output.flatten(2), indices.flatten(2)
        assert torch.equal(flat_out.gather(2, flat_idx), values.flatten(2)), "values go back to their maxima"
        at_maxima = torch.zeros_like(flat_out, dtype=torch.bool).scatter_(2, flat_idx, True)
        assert flat_out[~at_maxima].abs().sum() == 0, "everything else stays zero (sparse)"


# --- U-Net ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoder", ["resnet50", "vgg16", "mobilenet_v2"])
def test_unet_loads_an_smp_unet_with_the_same_outputs(encoder: str) -> None:
    smp = pytest.importorskip("segmentation_models_pytorch")
    torch.manual_seed(0)
    theirs = smp.Unet(encoder, encoder_weights=None, classes=3)
    calibrate_batchnorm(theirs, torch.randn(2, 3, 64, 96))
    ours = build_model(ModelConfig("unet", 3, encoder=encoder, options={"upsampling": "nearest"})).eval()
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    load_smp_state_dict(ours, theirs.state_dict())
    x = torch.randn(1, 3, 64, 96)  # smp needs multiples of 32
    with torch.inference_mode():
        # Our U-Net runs channels-last; the same layout gives the same arithmetic...
        channels_last = copy.deepcopy(theirs).to(memory_format=torch.channels_last)
        expected = channels_last(x.contiguous(memory_format=torch.channels_last))
        torch.testing.assert_close(ours(x)["out"], expected, rtol=0, atol=1e-5)
        # ...and in smp's default NCHW layout, our model follows its weights' layout.
        ours.to(memory_format=torch.contiguous_format)
        torch.testing.assert_close(ours(x)["out"], theirs(x), rtol=0, atol=1e-5)


def test_unet_refuses_an_smp_unet_of_another_structure() -> None:
    smp = pytest.importorskip("segmentation_models_pytorch")
    theirs = smp.Unet("mobilenet_v2", encoder_weights=None, classes=3, decoder_channels=(128, 64, 32, 16, 8))
    ours = build_model(ModelConfig("unet", 3, encoder="mobilenet_v2", options={"upsampling": "nearest"}))
    with pytest.raises(ValueError, match=r"different shapes: decoder\.blocks\.0\.conv1\.0\.weight"):
        load_smp_state_dict(ours, theirs.state_dict())
    transposed = build_model(ModelConfig("unet", 3, encoder="mobilenet_v2", options={"upsampling": "transposed"}))
    with pytest.raises(ValueError, match=r"only in our mobilenet_v2 unet: decoder\.blocks\.0\.up\.bias"):
        load_smp_state_dict(transposed, smp.Unet("mobilenet_v2", encoder_weights=None, classes=3).state_dict())
    with pytest.raises(ValueError, match="not into SegNet"):
        load_smp_state_dict(build_model(ModelConfig("segnet", 3)), theirs.state_dict())


def test_classic_unet_is_the_papers_layout() -> None:
    model = build_model(ModelConfig("unet", 2))
    assert model.encoder.out_channels == (64, 128, 256, 512, 1024)
    assert [block.conv2[0].out_channels for block in model.decoder.blocks] == [512, 256, 128, 64]
    assert [block.up.out_channels for block in model.decoder.blocks] == [512, 256, 128, 64]  # halving up-convs
    assert model.decoder.skip_indices == (3, 2, 1, 0)  # every level, the full-resolution one included
    assert model.head.kernel_size == (1, 1)
    small = build_model(ModelConfig("unet", 2, options={"base_channels": 8, "upsampling": "bilinear"}))
    assert small.encoder.out_channels == (8, 16, 32, 64, 128)


# --- PSPNet ---------------------------------------------------------------------------------------------------


def test_pspnet_pools_a_dilated_stride_8_map_into_its_bins() -> None:
    model = build_model(ModelConfig("pspnet", 3, options={"bins": [1, 2, 4]}))
    assert model.encoder.reductions == (2, 4, 8, 8, 8)
    assert [stage[0].output_size for stage in model.ppm.stages] == [1, 2, 4]
    assert model.ppm.out_channels == 2048 + 3 * (2048 // 3)
    features = model.encoder.eval()(torch.randn(1, 3, 64, 64))
    assert features[-1].shape[-2:] == (8, 8)
