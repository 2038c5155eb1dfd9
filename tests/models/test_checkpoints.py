"""Checkpoints: our safetensors format round trip, safe refusal of bad files, and foreign weight files."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import safetensors
import safetensors.torch
import segmentation_models_pytorch as smp
import torch
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st

from segstudio.core.labels import LabelSet
from segstudio.models.checkpoints import (
    FORMAT_VERSION,
    METADATA_KEY,
    CheckpointMeta,
    CheckpointProblem,
    LoadedModel,
    ProblemKind,
    WeightsFamily,
    identify_state_dict,
    load_checkpoint,
    load_weights_file,
    read_checkpoint_meta,
    save_checkpoint,
)
from segstudio.models.checkpoints.files import _Format, _sniff  # private: the sniffer alone
from segstudio.models.normalisation import InputNormalisation
from segstudio.models.registry import ModelConfig, Task, build_model

TINY_UNET = ModelConfig("unet", num_classes=3, in_channels=1, encoder="classic", options={"base_channels": 4})
# Small and quick: keep every detection (random weights score all boxes alike), but only 8 of them, from
# 50 region proposals instead of 1000 (91 classes x 1000 boxes make the NMS slow on a CPU).
SMALL_RCNN = {
    "min_size": 96,
    "max_size": 128,
    "box_score_thresh": 0.0,
    "box_detections_per_img": 8,
    "rpn_post_nms_top_n_test": 50,
}


def _problem(excinfo: pytest.ExceptionInfo[CheckpointProblem], kind: ProblemKind, *words: str) -> str:
    error = excinfo.value
    assert isinstance(error, ValueError)  # CheckpointProblem is a FileProblem, a ValueError
    assert error.kind is kind, str(error)
    text = str(error)
    for word in words:
        assert word in text, text
    return text


def _same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture
def tiny_unet() -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(TINY_UNET)
    with torch.no_grad():  # move the BatchNorm statistics away from their defaults, so they are checked too
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
    return model.eval()


@pytest.fixture
def tiny_meta() -> CheckpointMeta:
    labels = LabelSet.from_names(["background", "cell", "membrane"], ignore_index=255, ignore_name="boundary")
    return CheckpointMeta(
        TINY_UNET,
        labels,
        normalisation=InputNormalisation(1, (0.5,), (0.2,), 1.0 / 65535.0),
        training={"dataset": "isbi2012", "images": 24, "epochs": 3, "split": [20, 4]},
        metrics={"miou": 0.71, "per_class_iou": [0.9, 0.6, float("nan")]},
    )


@pytest.fixture
def saved(tmp_path: Path, tiny_unet: torch.nn.Module, tiny_meta: CheckpointMeta) -> Path:
    path = tmp_path / "tiny.safetensors"
    save_checkpoint(path, tiny_unet, tiny_meta)
    return path


# -- our format ---------------------------------------------------------------------------------------------


def test_round_trip_keeps_weights_outputs_and_metadata(
    saved: Path, tiny_unet: torch.nn.Module, tiny_meta: CheckpointMeta
) -> None:
    loaded = load_checkpoint(saved)
    assert isinstance(loaded, LoadedModel)
    assert not loaded.model.training
    _same_tensors(loaded.model.state_dict(), tiny_unet.state_dict())
    x = torch.rand(2, 1, 37, 45)
    with torch.no_grad():
        assert torch.equal(loaded.model(x)["out"], tiny_unet(x)["out"])

    meta = loaded.meta
    assert meta.config == TINY_UNET
    assert meta.task is Task.SEMANTIC
    assert meta.labels == tiny_meta.labels and meta.labels.ignore_index == 255
    assert meta.normalisation == tiny_meta.normalisation and meta.normalization is meta.normalisation
    assert meta.training == {"dataset": "isbi2012", "images": 24, "epochs": 3, "split": [20, 4]}
    assert meta.metrics["miou"] == 0.71 and np.isnan(meta.metrics["per_class_iou"][2])
    assert meta.created_at == tiny_meta.created_at and meta.created_by.startswith("segstudio ")
    assert meta.format_version == FORMAT_VERSION
    assert read_checkpoint_meta(saved).config == TINY_UNET


def test_the_file_is_plain_safetensors_with_one_json_document(saved: Path) -> None:
    with safetensors.safe_open(str(saved), framework="pt") as handle:
        metadata = handle.metadata()
        keys = set(handle.keys())
    assert set(metadata) == {METADATA_KEY}
    document = json.loads(metadata[METADATA_KEY])
    assert document["format"] == "segstudio-checkpoint" and document["format_version"] == FORMAT_VERSION
    assert document["model"]["architecture"] == "unet" and document["model"]["options"] == {"base_channels": 4}
    assert document["labels"]["classes"][1]["name"] == "cell"
    assert document["normalisation"] == {"channels": 1, "mean": [0.5], "std": [0.2], "scale": 1.0 / 65535.0}
    assert keys == set(build_model(TINY_UNET).state_dict())


def test_saving_is_atomic_and_overwrites(saved: Path, tiny_unet: torch.nn.Module, tiny_meta: CheckpointMeta) -> None:
    first = saved.read_bytes()
    with torch.no_grad():
        next(tiny_unet.parameters()).add_(1.0)
    save_checkpoint(saved, tiny_unet, tiny_meta)
    assert saved.read_bytes() != first
    assert sorted(p.name for p in saved.parent.iterdir()) == ["tiny.safetensors"]  # no temporary left behind
    _same_tensors(load_checkpoint(saved).model.state_dict(), tiny_unet.state_dict())


def test_saving_a_model_that_does_not_match_its_meta_is_refused(
    tmp_path: Path, tiny_unet: torch.nn.Module, tiny_meta: CheckpointMeta
) -> None:
    four_classes = ModelConfig(**{**TINY_UNET.to_mapping(), "num_classes": 4})
    other = CheckpointMeta(four_classes, LabelSet.with_count(4), normalisation=tiny_meta.normalisation)
    with pytest.raises(ValueError, match="is not a unet"):
        save_checkpoint(tmp_path / "x.safetensors", tiny_unet, other)
    assert not (tmp_path / "x.safetensors").exists()


def test_meta_checks_its_parts() -> None:
    with pytest.raises(ValueError, match="label set has 2 classes but the model has 3"):
        CheckpointMeta(TINY_UNET, LabelSet.with_count(2))
    with pytest.raises(ValueError, match="for 3 channels but the model takes 1"):
        CheckpointMeta(TINY_UNET, LabelSet.with_count(3), normalisation=InputNormalisation.imagenet())
    with pytest.raises(ValueError, match="JSON"):
        CheckpointMeta(TINY_UNET, LabelSet.with_count(3), training={"when": object()})
    defaulted = CheckpointMeta(ModelConfig("mask_rcnn", 2), LabelSet.with_count(2))
    assert defaulted.task is Task.INSTANCE and defaulted.normalisation == InputNormalisation.unit(3)


def test_mask_rcnn_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = ModelConfig("mask_rcnn", 2, encoder="mobilenet_v3", options=SMALL_RCNN)
    model = build_model(config).eval()
    path = tmp_path / "pedestrians.safetensors"
    save_checkpoint(path, model, CheckpointMeta(config, LabelSet.from_names(["background", "person"])))
    loaded = load_checkpoint(path, architecture="mask_rcnn")
    assert loaded.meta.task is Task.INSTANCE and loaded.meta.labels.names == ("background", "person")
    image = [torch.rand(3, 80, 100)]
    with torch.inference_mode():
        expected, got = model(image)[0], loaded.model(image)[0]
    assert len(got["scores"]) > 0
    for key in expected:
        assert torch.equal(expected[key], got[key]), key


# -- refusing bad files -------------------------------------------------------------------------------------


class _RunsCode:
    """Unpickling this would run a shell command (what a malicious .pth does)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_a_pickle_that_would_run_code_is_refused_without_running(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "weights.pth"
    payload = {"evil": _RunsCode(marker), "conv.weight": torch.zeros(2)}
    if writer == "pickle":
        del payload["conv.weight"]  # plain pickle stores tensors through torch's own code: keep it to the attack
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        with path.open("wb") as stream:
            pickle.dump(payload, stream, protocol=2)
    for load in (load_weights_file, lambda p: load_weights_file(p, config=TINY_UNET)):
        with pytest.raises(CheckpointProblem) as excinfo:
            load(path)
        _problem(excinfo, ProblemKind.UNSAFE, "is not a plain weights file", "system", "refused", str(path))
    assert not marker.exists()
    # A pickled whole model (torch.save(model)) is refused the same way: it needs code to rebuild.
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(path)
    _problem(excinfo, ProblemKind.UNSAFE, "is not a plain weights file", "torch.nn.modules.linear.Linear")


def test_a_truncated_checkpoint_is_reported_as_truncated(saved: Path, tmp_path: Path) -> None:
    data = saved.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    for load in (load_checkpoint, load_weights_file):
        with pytest.raises(CheckpointProblem) as excinfo:
            load(cut)
        _problem(excinfo, ProblemKind.TRUNCATED, "is truncated or corrupt", str(cut))
    header_only = tmp_path / "header.safetensors"
    header_only.write_bytes(data[:40])  # cut inside the JSON header
    with pytest.raises(CheckpointProblem) as excinfo:
        load_checkpoint(header_only)
    _problem(excinfo, ProblemKind.TRUNCATED, "truncated or corrupt")


def test_a_truncated_pytorch_file_is_reported_as_truncated(tmp_path: Path, tiny_unet: torch.nn.Module) -> None:
    path = tmp_path / "whole.pth"
    torch.save(tiny_unet.state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(path, config=TINY_UNET)
    _problem(excinfo, ProblemKind.TRUNCATED, "is truncated or corrupt")


def test_empty_random_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.safetensors"
    empty.touch()
    noise = tmp_path / "noise.pth"
    noise.write_bytes(bytes([0x42]) + np.random.default_rng(0).bytes(4095))  # 'B': no format's magic
    cases = [
        (empty, ProblemKind.EMPTY, "is empty"),
        (noise, ProblemKind.NOT_WEIGHTS, "is not a weights file"),
        (tmp_path / "absent.pth", ProblemKind.MISSING, "does not exist"),
        (tmp_path, ProblemKind.MISSING, "is a folder"),
    ]
    for path, kind, words in cases:
        for load in (load_checkpoint, load_weights_file):
            with pytest.raises(CheckpointProblem) as excinfo:
                load(path)
            _problem(excinfo, kind, words, str(path))


def test_a_pickle_of_no_tensors_is_not_a_weights_file(tmp_path: Path) -> None:
    path = tmp_path / "numbers.pth"
    torch.save({"epoch": 3, "lr": 0.1}, path)
    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(path)
    _problem(excinfo, ProblemKind.NOT_WEIGHTS, "not tensors by name")


def test_wrong_architecture_and_class_count_are_named(saved: Path) -> None:
    with pytest.raises(CheckpointProblem) as excinfo:
        load_checkpoint(saved, architecture="segnet")
    _problem(excinfo, ProblemKind.WRONG_ARCHITECTURE, "was saved for 'unet' but 'segnet' was asked")
    with pytest.raises(CheckpointProblem) as excinfo:
        load_checkpoint(saved, labels=LabelSet.with_count(12))
    _problem(excinfo, ProblemKind.CLASS_MISMATCH, "has 3 classes; the label set has 12")
    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(saved, config=ModelConfig("segnet", 3))
    _problem(excinfo, ProblemKind.WRONG_ARCHITECTURE, "was saved for 'unet' but 'segnet' was asked")
    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(saved, config=ModelConfig("unet", 3, 1, encoder="vgg16"))
    _problem(excinfo, ProblemKind.WRONG_ARCHITECTURE, "encoder 'classic' but encoder 'vgg16' was asked")


def _poison(model: torch.nn.Module) -> tuple[str, str]:
    """One NaN in the first convolution, two infinities in a BatchNorm variance: what a diverged training saves."""
    with torch.no_grad():
        model.encoder.stages[0][0].weight[0, 0, 1, 1] = float("nan")
        model.encoder.stages[0][4].running_var[:2] = float("inf")
    return "encoder.stages.0.0.weight", "encoder.stages.0.4.running_var"


def test_a_checkpoint_with_non_finite_weights_is_refused_naming_them(
    tmp_path: Path, tiny_unet: torch.nn.Module, tiny_meta: CheckpointMeta
) -> None:
    path = tmp_path / "diverged.safetensors"
    save_checkpoint(path, tiny_unet, tiny_meta)
    good = path.read_bytes()
    first, second = _poison(tiny_unet)
    with pytest.raises(CheckpointProblem) as refused:  # segstudio never writes such a file, nor replaces a good one
        save_checkpoint(path, tiny_unet, tiny_meta)
    assert "not saved" in _problem(refused, ProblemKind.NON_FINITE, str(path), first, second)
    assert path.read_bytes() == good
    # ... but other programs do (or a disk flips bits): written here by hand, with our metadata.
    with safetensors.safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    state = {k: v.detach().contiguous().clone() for k, v in tiny_unet.state_dict().items()}
    path.write_bytes(safetensors.torch.save(state, metadata=metadata))
    assert read_checkpoint_meta(path).config == TINY_UNET  # the metadata alone is still readable
    for load in (
        load_checkpoint,
        load_weights_file,
        lambda p: load_weights_file(p, labels=LabelSet.with_count(5), replace_heads=True),
    ):
        with pytest.raises(CheckpointProblem) as excinfo:
            load(path)
        text = _problem(excinfo, ProblemKind.NON_FINITE, str(path), "2 of its", "1 NaN", "2 infinite", first, second)
        assert "not loaded" in text


def test_foreign_weights_with_non_finite_values_are_refused(tmp_path: Path, tiny_unet: torch.nn.Module) -> None:
    first, _ = _poison(tiny_unet)
    with torch.no_grad():
        tiny_unet.encoder.stages[0][4].running_var.fill_(1.0)  # only the NaN left
    state = {k: v.contiguous() for k, v in tiny_unet.state_dict().items()}
    pth = tmp_path / "diverged.pth"
    torch.save({"epoch": 9, "model": state}, pth)
    plain = tmp_path / "diverged.safetensors"
    safetensors.torch.save_file(state, str(plain))
    for path in (pth, plain):
        with pytest.raises(CheckpointProblem) as excinfo:
            load_weights_file(path, config=TINY_UNET)
        _problem(excinfo, ProblemKind.NON_FINITE, str(path), "1 of its", "1 NaN", first)


def _rewrite_metadata(source: Path, target: Path, change: dict) -> None:
    with safetensors.safe_open(str(source), framework="pt") as handle:
        document = json.loads(handle.metadata()[METADATA_KEY])
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    for dotted, value in change.items():
        node = document
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    safetensors.torch.save_file(tensors, str(target), metadata={METADATA_KEY: json.dumps(document)})


def test_unknown_architecture_and_newer_format_are_named(saved: Path, tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.safetensors"
    _rewrite_metadata(saved, unknown, {"model.architecture": "hypernet"})
    with pytest.raises(CheckpointProblem) as excinfo:
        load_checkpoint(unknown)
    _problem(excinfo, ProblemKind.UNKNOWN_ARCHITECTURE, "'hypernet'", "does not know")

    newer = tmp_path / "newer.safetensors"
    _rewrite_metadata(saved, newer, {"format_version": FORMAT_VERSION + 1, "model.architecture": "hypernet"})
    for load in (load_checkpoint, read_checkpoint_meta, load_weights_file):
        with pytest.raises(CheckpointProblem) as excinfo:
            load(newer)
        _problem(excinfo, ProblemKind.NEWER_FORMAT, f"format version {FORMAT_VERSION + 1}", "update segstudio")

    broken = tmp_path / "broken.safetensors"
    _rewrite_metadata(saved, broken, {"labels.classes": []})
    with pytest.raises(CheckpointProblem) as excinfo:
        load_checkpoint(broken)
    _problem(excinfo, ProblemKind.BAD_METADATA, "metadata is invalid")


def test_a_checkpoint_whose_tensors_do_not_fit_its_config_is_refused(saved: Path, tmp_path: Path) -> None:
    lying = tmp_path / "lying.safetensors"
    _rewrite_metadata(saved, lying, {"model.options.base_channels": 8})
    with pytest.raises(CheckpointProblem) as excinfo:
        load_checkpoint(lying)
    _problem(excinfo, ProblemKind.INCOMPATIBLE, "does not fit unet (classic)", "other shapes")


def test_plain_files_are_not_checkpoints_for_load_checkpoint(tmp_path: Path, tiny_unet: torch.nn.Module) -> None:
    plain = tmp_path / "plain.safetensors"
    safetensors.torch.save_file({k: v.contiguous() for k, v in tiny_unet.state_dict().items()}, str(plain))
    torch_file = tmp_path / "plain.pth"
    torch.save(tiny_unet.state_dict(), torch_file)
    for path, words in ((plain, "without segstudio metadata"), (torch_file, "is a PyTorch weights file")):
        with pytest.raises(CheckpointProblem) as excinfo:
            load_checkpoint(path)
        _problem(excinfo, ProblemKind.NOT_A_CHECKPOINT, words)


# -- recognising the file format ----------------------------------------------------------------------------

# A safetensors file starts with its JSON header's length, a little-endian u64, so its first byte is that
# length modulo 256: 0x80 (a pickle's PROTO opcode) for one header length in 256.
PICKLE_PROTOCOLS = (2, 3, 4, 5)


def _header_length(data: bytes) -> int:
    return int.from_bytes(data[:8], "little")


def _with_header_length_residue(data: bytes, residue: int) -> bytes:
    """The safetensors file ``data`` with its header padded by spaces (as safetensors pads it) to a length
    of ``residue`` modulo 256; the tensors are unchanged (their offsets count from the header's end)."""
    length = _header_length(data)
    header = data[8 : 8 + length].rstrip(b" ")
    padded = header + b" " * ((residue - len(header)) % 256)
    return len(padded).to_bytes(8, "little") + padded + data[8 + length :]


def _is_structurally_safetensors(data: bytes) -> bool:
    """What a safetensors file must at least be: a length within safetensors' limit, then that many header
    bytes starting with ``{``."""
    length = _header_length(data) if len(data) >= 8 else 0
    return len(data) >= 9 and data[8:9] == b"{" and 2 <= length <= 100_000_000 and 8 + length <= len(data)


def _header_closes(data: bytes) -> bool:
    return data[8 : 8 + _header_length(data)].rstrip(b" ").endswith(b"}")


def test_a_checkpoint_whose_header_length_starts_like_a_pickle_loads(
    tmp_path: Path, tiny_unet: torch.nn.Module, tiny_meta: CheckpointMeta
) -> None:
    """The reported bug: ``segstudio train`` wrote a checkpoint that ``segstudio predict`` took for a pickle."""
    path = tmp_path / "trained.safetensors"
    save_checkpoint(path, tiny_unet, replace(tiny_meta, training={"history": ""}))
    # The stored header is padded to a multiple of 8 and 0x80 is one: lengthen the training history by the
    # missing bytes (a multiple of 8 too, so the padding stays as it is).
    missing = (0x80 - _header_length(path.read_bytes())) % 256
    meta = replace(tiny_meta, training={"history": "x" * missing})
    save_checkpoint(path, tiny_unet, meta)
    data = path.read_bytes()
    assert _header_length(data) % 256 == 0x80 and data[0] == 0x80

    loaded = load_checkpoint(path)
    _same_tensors(loaded.model.state_dict(), tiny_unet.state_dict())
    assert loaded.meta.training == {"history": "x" * missing}
    assert read_checkpoint_meta(path).config == TINY_UNET
    _same_tensors(load_weights_file(path).model.state_dict(), tiny_unet.state_dict())


def test_checkpoints_of_every_header_length_residue_are_safetensors(saved: Path, tmp_path: Path) -> None:
    data = saved.read_bytes()
    path = tmp_path / "padded.safetensors"
    for residue in range(256):
        padded = _with_header_length_residue(data, residue)
        assert padded[0] == residue
        path.write_bytes(padded)
        assert _sniff(path) is _Format.SAFETENSORS, residue
        assert read_checkpoint_meta(path).config == TINY_UNET, residue
        if residue == 0x80:  # PROTO, the first byte of every pickle of protocol 2+
            _same_tensors(load_checkpoint(path).model.state_dict(), load_checkpoint(saved).model.state_dict())
    plain = safetensors.torch.save({"w": torch.zeros(3)}, metadata={"note": ""})
    # A header of 0x0280 bytes starts 0x80 0x02, exactly like a protocol-2 pickle (PyTorch's legacy format).
    header = plain[8 : 8 + _header_length(plain)].rstrip(b" ")
    path.write_bytes((0x0280).to_bytes(8, "little") + header.ljust(0x0280) + plain[8 + _header_length(plain) :])
    assert path.read_bytes()[:2] == b"\x80\x02" and _sniff(path) is _Format.SAFETENSORS
    assert torch.equal(safetensors.torch.load_file(str(path))["w"], torch.zeros(3))


@pytest.mark.parametrize("protocol", PICKLE_PROTOCOLS)
def test_pytorch_legacy_files_of_every_pickle_protocol_are_pickles(
    tmp_path: Path, tiny_unet: torch.nn.Module, protocol: int
) -> None:
    path = tmp_path / "legacy.pth"
    torch.save(tiny_unet.state_dict(), path, pickle_protocol=protocol, _use_new_zipfile_serialization=False)
    assert path.read_bytes()[:2] == bytes([0x80, protocol])
    assert _sniff(path) is _Format.PICKLE
    try:
        loaded = load_weights_file(path, config=TINY_UNET)
    except CheckpointProblem as problem:
        # torch's weights-only unpickler does not know protocol 4's FRAME opcode: refused unread, never run.
        assert protocol >= 4 and problem.kind is ProblemKind.UNSAFE, problem
    else:
        _same_tensors(loaded.model.state_dict(), tiny_unet.state_dict())
    zipped = tmp_path / "zipped.pth"
    torch.save(tiny_unet.state_dict(), zipped, pickle_protocol=protocol)
    assert _sniff(zipped) is _Format.TORCH_ZIP


_TENSOR_DICTS = st.dictionaries(
    st.text(min_size=1, max_size=12),
    st.lists(st.integers(0, 4), max_size=3).map(lambda shape: torch.zeros(shape)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(tensors=_TENSOR_DICTS, protocol=st.sampled_from(PICKLE_PROTOCOLS), legacy_torch=st.booleans())
def test_pickles_of_tensors_are_sniffed_as_pickles(
    tensors: dict[str, torch.Tensor], protocol: int, legacy_torch: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "weights.pth"
        if legacy_torch:
            torch.save(tensors, path, pickle_protocol=protocol, _use_new_zipfile_serialization=False)
        else:
            path.write_bytes(pickle.dumps(tensors, protocol=protocol))
        assert _sniff(path) is _Format.PICKLE
        try:
            load_weights_file(path)
        except CheckpointProblem as problem:  # random names are no network segstudio knows, but nothing else
            assert problem.kind in (ProblemKind.UNRECOGNISED, ProblemKind.UNSAFE, ProblemKind.NOT_WEIGHTS), problem


_HEADER_LENGTHS = st.one_of(
    st.integers(0, 1100),
    st.integers(0, 100_000_100),
    st.integers(0, 2**64 - 1),
    st.sampled_from([0x80, 0x0280, 0x0380, 0x0480, 0x0580]),  # lengths whose first bytes are a pickle's
)


@st.composite
def _weights_like_bytes(draw: st.DrawFn) -> bytes:
    """Files that start like a safetensors file, every first byte alike: a length then bytes, often a ``{``,
    sometimes a whole header of exactly that length closed by ``}``."""
    kind = draw(st.sampled_from(["any", "brace", "header"]))
    if kind == "header":
        length = draw(st.integers(2, 1100))
        header = b"{" + draw(st.binary(min_size=length - 2, max_size=length - 2)) + b"}"
        return length.to_bytes(8, "little") + header + draw(st.binary(max_size=64))
    length = draw(_HEADER_LENGTHS)
    body = draw(st.binary(max_size=1200))
    return length.to_bytes(8, "little") + (b"{" + body if kind == "brace" else body)


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(_weights_like_bytes(), st.binary(max_size=64)))
def test_only_structural_safetensors_are_sniffed_as_safetensors(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "weights.bin"
        path.write_bytes(data)
        try:
            found = _sniff(path)
        except CheckpointProblem as problem:
            found = problem.kind
        looks_like_pickle = data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
        if found is _Format.SAFETENSORS:
            assert _is_structurally_safetensors(data)
        if _is_structurally_safetensors(data) and (_header_closes(data) or not looks_like_pickle):
            assert found is _Format.SAFETENSORS
        if not data:
            assert found is ProblemKind.EMPTY
        if found is _Format.PICKLE:
            assert looks_like_pickle
        for load in (load_weights_file, load_checkpoint, read_checkpoint_meta):
            try:
                load(path)
            except CheckpointProblem:
                pass


# -- our own weights in other wrappings ---------------------------------------------------------------------


def test_a_plain_state_dict_of_a_named_model_loads(tmp_path: Path, tiny_unet: torch.nn.Module) -> None:
    wrapped = tmp_path / "train_state.pt"
    # What training scripts save: weights inside a dict, keys prefixed by DataParallel.
    torch.save({"epoch": 7, "model": {f"module.{k}": v for k, v in tiny_unet.state_dict().items()}}, wrapped)
    loaded = load_weights_file(wrapped, config=TINY_UNET)
    _same_tensors(loaded.model.state_dict(), tiny_unet.state_dict())
    plain = tmp_path / "plain.safetensors"
    safetensors.torch.save_file({k: v.contiguous() for k, v in tiny_unet.state_dict().items()}, str(plain))
    _same_tensors(load_weights_file(plain, config=TINY_UNET).model.state_dict(), tiny_unet.state_dict())

    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(wrapped)
    _problem(excinfo, ProblemKind.UNRECOGNISED, "name the model")
    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(wrapped, config=ModelConfig(**{**TINY_UNET.to_mapping(), "num_classes": 5}))
    _problem(excinfo, ProblemKind.CLASS_MISMATCH, "has 3 classes; the model asked for has 5")
    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(wrapped, config=ModelConfig("fcn_resnet50", 3))
    _problem(excinfo, ProblemKind.WRONG_ARCHITECTURE, "is not a set of weights for fcn_resnet50")


def test_own_checkpoint_with_new_heads_for_fine_tuning(saved: Path, tiny_unet: torch.nn.Module) -> None:
    labels = LabelSet.with_count(5)
    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(saved, labels=labels)
    _problem(excinfo, ProblemKind.CLASS_MISMATCH, "has 3 classes; the label set has 5", "replace_heads=True")
    loaded = load_weights_file(saved, labels=labels, replace_heads=True)
    assert loaded.meta.config.num_classes == 5 and loaded.meta.labels == labels
    assert loaded.meta.normalisation == InputNormalisation(1, (0.5,), (0.2,), 1.0 / 65535.0)
    assert loaded.meta.training["fine_tuned_from"]["model"]["num_classes"] == 3
    new, old = loaded.model.state_dict(), tiny_unet.state_dict()
    changed = {k for k in new if new[k].shape != old[k].shape}
    assert changed and all(k.startswith("head.") for k in changed)
    for key in new.keys() - changed:
        assert torch.equal(new[key], old[key]), key


# -- torchvision's files ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def coco_maskrcnn(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """A stand-in for torchvision's COCO file: its architecture and name, random weights, small test sizes."""
    torch.manual_seed(1)
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, **SMALL_RCNN)
    model.eval()
    path = tmp_path_factory.mktemp("torchvision") / "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth"
    torch.save(model.state_dict(), path)
    return path, model


def test_torchvision_maskrcnn_file_builds_our_mask_rcnn_with_equal_outputs(
    coco_maskrcnn: tuple[Path, torch.nn.Module], tmp_path: Path
) -> None:
    path, source = coco_maskrcnn
    # Recognised by its tensors, not its name.
    renamed = tmp_path / "downloaded.bin"
    os.link(path, renamed)
    loaded = load_weights_file(renamed, config=ModelConfig("mask_rcnn", 91, options=SMALL_RCNN))
    assert loaded.meta.config.encoder == "resnet50" and loaded.meta.task is Task.INSTANCE
    assert loaded.meta.labels.names[:3] == ("background", "person", "bicycle")
    assert loaded.meta.normalisation == InputNormalisation.unit(3)
    assert loaded.meta.training["source"]["network"] == "maskrcnn_resnet50_fpn"
    image = [torch.rand(3, 90, 120)]
    with torch.inference_mode():
        expected, got = source(image)[0], loaded.model(image)[0]
    assert len(expected["scores"]) > 0
    for key in expected:
        assert torch.equal(expected[key], got[key]), key

    default = load_weights_file(path)  # no config: what the file holds
    assert default.meta.config == ModelConfig("mask_rcnn", 91, 3, "resnet50", {})


def test_official_files_without_batchnorm_counters_load(
    coco_maskrcnn: tuple[Path, torch.nn.Module], tmp_path: Path
) -> None:
    # torchvision's real COCO file was saved from FrozenBatchNorm2d layers: no num_batches_tracked entries.
    path, source = coco_maskrcnn
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    frozen = tmp_path / "frozen.pth"
    torch.save(state, frozen)
    for options in ({}, {"frozen_batchnorm": True}):
        loaded = load_weights_file(frozen, config=ModelConfig("mask_rcnn", 91, options=options))
        body = loaded.model.backbone.body.state_dict()
        assert torch.equal(body["layer1.0.bn1.running_var"], state["backbone.body.layer1.0.bn1.running_var"])


def test_torchvision_maskrcnn_with_new_heads_for_other_classes(coco_maskrcnn: tuple[Path, torch.nn.Module]) -> None:
    path, source = coco_maskrcnn
    labels = LabelSet.from_names(["background", "pedestrian"])
    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(path, labels=labels)
    _problem(excinfo, ProblemKind.CLASS_MISMATCH, "has 91 classes; the label set has 2")
    loaded = load_weights_file(path, labels=labels, replace_heads=True)
    model = loaded.model
    assert model.roi_heads.box_predictor.cls_score.out_features == 2
    assert model.roi_heads.mask_predictor.mask_fcn_logits.out_channels == 2
    assert loaded.meta.labels == labels and loaded.meta.training["source"]["heads_replaced"] is True
    assert any("start afresh" in note for note in loaded.notes)
    theirs = source.state_dict()
    for key, value in model.state_dict().items():
        if not key.startswith(("roi_heads.box_predictor.", "roi_heads.mask_predictor.mask_fcn_logits.")):
            assert torch.equal(value, theirs[key]), key


def test_torchvision_maskrcnn_into_another_architecture_is_refused(coco_maskrcnn: tuple[Path, torch.nn.Module]) -> None:
    path, _ = coco_maskrcnn
    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(path, config=ModelConfig("unet", 91))
    _problem(excinfo, ProblemKind.WRONG_ARCHITECTURE, "Mask R-CNN", "'mask_rcnn', but 'unet' was asked")
    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(path, config=ModelConfig("mask_rcnn", 91, encoder="mobilenet_v3"))
    _problem(excinfo, ProblemKind.WRONG_ARCHITECTURE, "encoder 'resnet50', but encoder 'mobilenet_v3' was asked")


def test_torchvision_fcn_resnet50_file_with_aux_head(tmp_path: Path) -> None:
    torch.manual_seed(2)
    source = torchvision.models.segmentation.fcn_resnet50(
        weights=None, weights_backbone=None, num_classes=21, aux_loss=True
    ).eval()
    path = tmp_path / "fcn_resnet50_coco-1167a1af.pth"
    torch.save(source.state_dict(), path)
    assert identify_state_dict(source.state_dict()).has_aux

    loaded = load_weights_file(path)
    assert loaded.meta.config.architecture == "fcn_resnet50" and loaded.meta.config.num_classes == 21
    assert loaded.meta.config.options == {"aux": True}
    assert loaded.meta.labels == LabelSet.voc()
    assert loaded.meta.normalisation == InputNormalisation.imagenet()
    x = torch.rand(1, 3, 40, 52)
    with torch.no_grad():
        expected, got = source(x), loaded.model(x)
    torch.testing.assert_close(got["out"], expected["out"], rtol=0, atol=0)

    without_aux = load_weights_file(path, config=ModelConfig("fcn_resnet50", 21, options={"aux": False}))
    assert any("auxiliary head" in note for note in without_aux.notes)
    with torch.no_grad():
        torch.testing.assert_close(without_aux.model(x)["out"], expected["out"], rtol=0, atol=0)

    grey = load_weights_file(path, config=ModelConfig("fcn_resnet50", 21, in_channels=1))
    with torch.no_grad():
        g = torch.rand(1, 1, 40, 52)
        torch.testing.assert_close(grey.model(g)["out"], source(g.expand(1, 3, -1, -1))["out"], rtol=1e-4, atol=1e-4)

    fine_tune = load_weights_file(path, labels=LabelSet.with_count(4), replace_heads=True)
    assert fine_tune.model.state_dict()["classifier.4.weight"].shape[0] == 4


# -- ImageNet encoder weights -------------------------------------------------------------------------------


def _vgg16_file(path: Path) -> dict[str, torch.Tensor]:
    """torchvision's vgg16 state dict (names and shapes) with random features; the 120M-parameter classifier
    is stored as zero-stride views so the file stays small (only its names and shapes matter here)."""
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in torchvision.models.vgg16(weights=None).state_dict().items()}
    generator = torch.Generator().manual_seed(3)
    state = {
        k: torch.randn(s, generator=generator) * 0.05 if k.startswith("features.") else torch.zeros(()).expand(s)
        for k, s in shapes.items()
    }
    torch.save(state, path)
    return state


@pytest.mark.parametrize(
    ("network", "architecture", "encoder"),
    [
        ("resnet50", "unet", "resnet50"),
        ("mobilenet_v2", "unet", "mobilenet_v2"),
        ("vgg16", "unet", "vgg16"),
        ("resnet50", "mask_rcnn", "resnet50"),
        ("mobilenet_v3_large", "mask_rcnn", "mobilenet_v3"),
    ],
)
def test_imagenet_weights_initialise_the_encoder(tmp_path: Path, network: str, architecture: str, encoder: str) -> None:
    path = tmp_path / f"{network}-0123abcd.pth"
    if network == "vgg16":
        state = _vgg16_file(path)
    else:
        torch.manual_seed(4)
        state = getattr(torchvision.models, network)(weights=None).state_dict()
        torch.save(state, path)
    assert identify_state_dict(state).network == network

    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(path)
    _problem(excinfo, ProblemKind.ENCODER_ONLY, "an encoder only")

    loaded = load_weights_file(path, config=ModelConfig(architecture, 3))  # the encoder follows the file
    assert loaded.meta.config.encoder == encoder
    model_state = loaded.model.state_dict()
    if architecture == "mask_rcnn":
        prefix, strip = "backbone.body.", ("features." if encoder == "mobilenet_v3" else "")
    else:
        prefix, strip = "encoder.", ""
    compared = 0
    for key, value in model_state.items():
        if key.startswith(prefix) and not key.endswith("num_batches_tracked"):
            source_key = strip + key[len(prefix) :]
            if source_key in state:
                assert torch.equal(value, state[source_key]), key
                compared += 1
    assert compared >= 20
    assert any("ImageNet" in note for note in loaded.notes)


def test_imagenet_weights_of_another_network_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mobilenet_v2-b0353104.pth"
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), path)
    for config, words in (
        (ModelConfig("unet", 3, encoder="resnet50"), "weights for 'mobilenet_v2'"),
        (ModelConfig("mask_rcnn", 3), "weights for 'mobilenet_v2'"),
        (ModelConfig("unet", 3, encoder="classic"), "no encoder that takes torchvision ImageNet weights"),
    ):
        with pytest.raises(CheckpointProblem) as excinfo:
            load_weights_file(path, config=config)
        _problem(excinfo, ProblemKind.WRONG_ARCHITECTURE, words)
    vgg = tmp_path / "vgg16-397923af.pth"
    _vgg16_file(vgg)
    for config, words in ((ModelConfig("segnet", 3), "which takes 'vgg16_bn' weights"),):
        with pytest.raises(CheckpointProblem) as excinfo:
            load_weights_file(path, config=config)
        _problem(excinfo, ProblemKind.WRONG_ARCHITECTURE, words)


# -- segmentation_models_pytorch ----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".bin", ".safetensors"])
def test_smp_unet_state_dict_builds_our_unet_with_equal_outputs(tmp_path: Path, suffix: str) -> None:
    torch.manual_seed(5)
    source = smp.Unet("mobilenet_v2", encoder_weights=None, classes=4, in_channels=3).eval()
    path = tmp_path / f"smp_unet{suffix}"
    if suffix == ".bin":
        torch.save(source.state_dict(), path)
    else:
        safetensors.torch.save_file(source.state_dict(), str(path))
    loaded = load_weights_file(path)
    assert loaded.meta.config == ModelConfig("unet", 4, 3, "mobilenet_v2", {})
    assert loaded.meta.training["source"]["kind"] == str(WeightsFamily.SMP)
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x)["out"], source(x), rtol=1e-5, atol=1e-5)

    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(path, labels=LabelSet.with_count(2))
    _problem(excinfo, ProblemKind.CLASS_MISMATCH, "has 4 classes; the label set has 2")
    tuned = load_weights_file(path, labels=LabelSet.with_count(2), replace_heads=True)
    assert tuned.model.state_dict()["head.weight"].shape[0] == 2
    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(path, config=ModelConfig("unet", 4, encoder="vgg16"))
    _problem(excinfo, ProblemKind.WRONG_ARCHITECTURE, "encoder 'mobilenet_v2', but encoder 'vgg16' was asked")


def test_smp_unet_with_an_encoder_we_lack_is_named(tmp_path: Path) -> None:
    path = tmp_path / "smp_resnet34.pth"
    torch.save(smp.Unet("resnet34", encoder_weights=None, classes=2).state_dict(), path)
    with pytest.raises(CheckpointProblem) as excinfo:
        load_weights_file(path)
    _problem(excinfo, ProblemKind.UNRECOGNISED, "resnet34", "has no resnet34 encoder")


def test_loaded_models_go_to_the_device_asked(saved: Path) -> None:
    assert next(load_checkpoint(saved, device="cpu").model.parameters()).device.type == "cpu"
    with pytest.raises(ValueError, match="not a device"):
        load_checkpoint(saved, device="toaster")
    shutil.copy(saved, saved.with_name("copy.safetensors"))
    assert load_weights_file(saved.with_name("copy.safetensors")).meta.config == TINY_UNET
