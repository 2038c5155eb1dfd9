"""Click-to-segment's model: SAM built to the shape its weights say (the official ViT-B/L/H layouts, and a tiny
network of the same design a test saves itself), loaded safely, refused clearly when the file is not SAM's, and
answering prompts exactly as Segment Anything's own predictor does on the region it is shown."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from segstudio.core.geometry import Rect
from segstudio.models.checkpoints import CheckpointProblem, ProblemKind
from segstudio.models.promptable import (
    MAX_REGION_SIDE,
    TINY_SAM,
    Prompts,
    SamShape,
    load_promptable,
    prompt_region,
)

segment_anything = pytest.importorskip("segment_anything")

TINY = TINY_SAM


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised SAM (0.24 M parameters), saved as the official files are: a torch state dict."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("sam") / "tiny_sam.pth"
    torch.save(TINY.build().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def tiny(tiny_weights: Path):  # noqa: ANN201
    return load_promptable(tiny_weights, device="cpu")


@pytest.mark.parametrize(("variant", "width", "depth", "heads", "global_blocks"), [
    ("vit_b", 768, 12, 12, (2, 5, 8, 11)),
    ("vit_l", 1024, 24, 16, (5, 11, 17, 23)),
    ("vit_h", 1280, 32, 16, (7, 15, 23, 31)),
])
def test_the_official_layouts_are_read_as_what_they_are(variant: str, width: int, depth: int, heads: int,
                                                        global_blocks: tuple[int, ...]) -> None:
    with torch.device("meta"):  # the shapes only: no memory, no weights
        state = segment_anything.sam_model_registry[variant]().state_dict()
    shape = SamShape.of(Path(f"sam_{variant}.pth"), state)
    assert (shape.encoder_width, shape.encoder_depth, shape.encoder_heads, shape.global_blocks) == (
        width, depth, heads, global_blocks)
    assert (shape.image_size, shape.patch, shape.window, shape.prompt_width, shape.decoder_mlp) == (1024, 16, 14, 256, 2048)
    assert shape.name == f"SAM ViT-{variant[-1].upper()}"
    with torch.device("meta"):
        rebuilt = shape.build().state_dict()
    assert {k: v.shape for k, v in rebuilt.items()} == {k: v.shape for k, v in state.items()}


def test_weights_load_exactly_from_torch_and_safetensors_files(tiny_weights: Path, tmp_path: Path, tiny) -> None:  # noqa: ANN001
    saved = torch.load(tiny_weights, weights_only=True)
    assert tiny.shape == TINY and tiny.path == tiny_weights
    assert all(torch.equal(tiny.sam.state_dict()[k], v) for k, v in saved.items())
    as_safetensors = tmp_path / "tiny_sam.safetensors"
    safetensors.torch.save_file(saved, str(as_safetensors))
    again = load_promptable(as_safetensors, device="cpu")
    assert all(torch.equal(again.sam.state_dict()[k], v) for k, v in saved.items())


def test_files_that_are_not_sam_weights_are_refused_naming_the_file(tiny_weights: Path, tmp_path: Path) -> None:
    other = tmp_path / "unet.pth"
    torch.save({"encoder.conv.weight": torch.zeros(8, 3, 3, 3)}, other)
    with pytest.raises(CheckpointProblem, match="not a Segment Anything") as refused:
        load_promptable(other)
    assert refused.value.kind is ProblemKind.UNRECOGNISED and "unet.pth" in str(refused.value)

    truncated = tmp_path / "cut.pth"
    truncated.write_bytes(tiny_weights.read_bytes()[:5000])
    with pytest.raises(CheckpointProblem, match="cut.pth") as refused:
        load_promptable(truncated)
    assert refused.value.kind is ProblemKind.TRUNCATED

    class Payload:
        def __reduce__(self):  # noqa: ANN204 - would run a command if the file were unpickled
            return (print, ("ran",))

    hostile = tmp_path / "hostile.pth"
    hostile.write_bytes(pickle.dumps({"image_encoder.pos_embed": Payload()}))
    with pytest.raises(CheckpointProblem) as refused:
        load_promptable(hostile)
    assert refused.value.kind is ProblemKind.UNSAFE

    state = torch.load(tiny_weights, weights_only=True)
    state["mask_decoder.iou_token.weight"] = torch.zeros(1, 7)  # one tensor of another size
    odd = tmp_path / "odd.pth"
    torch.save(state, odd)
    with pytest.raises(CheckpointProblem, match="odd.pth") as refused:
        load_promptable(odd)
    assert refused.value.kind is ProblemKind.INCOMPATIBLE


def test_answers_equal_segment_anything_s_own_predictor_on_the_region(tiny, shared_data: Path) -> None:  # noqa: ANN001
    import cv2

    path = next(iter(sorted((shared_data / "camvid" / "val").glob("*.png"))))
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    region = Rect(40, 60, 300, 420)  # a part of the image, as on a large one
    prompts = Prompts().adding(200, 150, True).adding(300, 100, False)
    found = tiny.segment(image, region, prompts, image_key="a")
    assert found.rect == region and found.pixels.shape == (region.height, region.width) and found.pixels.dtype == bool

    reference = segment_anything.SamPredictor(tiny.sam)
    reference.set_image(np.ascontiguousarray(image[region.slices]))
    masks, scores, _ = reference.predict(point_coords=np.array([[140.0, 110.0], [240.0, 60.0]]),
                                         point_labels=np.array([1, 0]), multimask_output=False)
    assert np.array_equal(found.pixels, masks[0]) and found.score == pytest.approx(float(scores[0]))

    alone = tiny.segment(image, region, Prompts().adding(200, 150, True), image_key="a")  # one point: best of three
    masks, scores, _ = reference.predict(point_coords=np.array([[140.0, 110.0]]), point_labels=np.array([1]),
                                         multimask_output=True)
    assert np.array_equal(alone.pixels, masks[int(np.argmax(scores))])

    boxed = tiny.segment(image, region, Prompts(box=Rect(100, 150, 200, 260)), image_key="a")
    masks, _, _ = reference.predict(box=np.array([90.0, 60.0, 199.0, 159.0]), multimask_output=False)
    assert np.array_equal(boxed.pixels, masks[0])


def test_the_embedding_is_kept_for_the_same_image_and_region_only(tiny, monkeypatch) -> None:  # noqa: ANN001
    image = (np.random.default_rng(1).random((120, 160, 3)) * 255).astype(np.uint8)
    calls: list[tuple[int, ...]] = []
    predictor_type = type(tiny._embed(image, Rect.full(image.shape), "warm"))
    original = predictor_type.set_image
    monkeypatch.setattr(predictor_type, "set_image", lambda self, pixels, *a: (calls.append(pixels.shape),
                                                                               original(self, pixels, *a))[1])
    whole = Rect.full(image.shape)
    tiny.prepare(image, whole, "first")
    tiny.segment(image, whole, Prompts().adding(10, 10, True), "first")
    tiny.segment(image, whole, Prompts().adding(10, 10, True).adding(50, 50, True), "first")
    assert len(calls) == 1
    tiny.segment(image, whole, Prompts().adding(10, 10, True), "second")  # another image: embedded afresh
    tiny.segment(image, Rect(0, 0, 60, 80), Prompts().adding(10, 10, True), "second")  # another region too
    assert calls == [(120, 160, 3), (120, 160, 3), (60, 80, 3)]


def test_grey_and_16_bit_images_are_shown_to_the_model_as_8_bit_rgb(tiny, shared_data: Path) -> None:  # noqa: ANN001
    import cv2

    path = next(iter(sorted((shared_data / "isbi2012" / "train" / "images").glob("*"))))
    grey = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert grey.ndim == 2
    grey[0, :2] = (0, 255)  # its full range, so stretching the 16-bit copy gives back these values
    deep = grey.astype(np.uint16) * 257  # the same picture in 16 bits
    prompts = Prompts().adding(256, 256, True)
    first = tiny.segment(grey, Rect.full(grey.shape), prompts, "grey")
    second = tiny.segment(deep, Rect.full(deep.shape), prompts, "deep")
    assert first.pixels.shape == grey.shape
    assert np.array_equal(first.pixels, second.pixels)


def test_prompts_outside_the_region_or_none_at_all_are_refused(tiny) -> None:  # noqa: ANN001
    image = np.zeros((100, 100, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="inside the region"):
        tiny.segment(image, Rect(0, 0, 50, 50), Prompts().adding(70, 10, True), "x")
    with pytest.raises(ValueError, match="click on the object"):
        tiny.segment(image, Rect(0, 0, 50, 50), Prompts(), "x")


def test_the_region_is_the_whole_image_unless_it_is_very_large() -> None:
    assert prompt_region((720, 960), Rect(0, 0, 10, 10)) == Rect(0, 0, 720, 960)
    side = MAX_REGION_SIDE
    huge = (40000, 50000)
    view = Rect(10000, 20000, 11000, 21500)
    assert prompt_region(huge, view) == view  # the part on screen when it is small enough
    wide = prompt_region(huge, Rect(0, 0, 40000, 50000))  # zoomed out on all of it: the centre's 4096 px
    assert (wide.height, wide.width) == (side, side)
    assert wide.top == 20000 - side // 2 and wide.left == 25000 - side // 2


def test_a_click_past_qts_32767_pixel_limit_segments_the_part_on_screen(tiny) -> None:  # noqa: ANN001
    from segstudio.core.labels import LabelSet
    from segstudio.core.session import ImageSession
    from segstudio.core.stamp import Stamp

    image = np.zeros((300, 33000, 3), dtype=np.uint8)
    image[100:200, 32300:32700] = (200, 60, 60)  # an object near the far end
    session = ImageSession.start(image, LabelSet.with_count(3))
    view = Rect(0, 32100, 300, 33000)  # what is on screen
    region = prompt_region(session.shape, view)
    assert region == view
    found = tiny.segment(image, region, Prompts().adding(32500, 150, True), "wide")
    assert found.rect == region
    before = session.mask.copy()
    session.write_selection(lambda mask, key, scope: Stamp(found.rect, found.pixels & scope.writable(
        mask[found.rect.slices], key), key), 2)
    changed = session.mask != before
    assert not changed[:, : region.left].any()  # nothing outside the part the model saw
    assert np.array_equal(changed[region.slices], found.pixels)
