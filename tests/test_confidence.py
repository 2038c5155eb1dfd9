"""A semantic model's certainty per pixel, kept small: built from real probabilities of a small U-Net on a CamVid
image, its re-derived prediction equals thresholding a fresh run's probabilities, at 3 bytes a pixel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segstudio.core.confidence import Confidence
from segstudio.core.labels import LabelSet

torch = pytest.importorskip("torch")


@pytest.fixture
def camvid_probabilities(shared_data: Path):  # noqa: ANN201
    from segstudio.io.images import read_image
    from segstudio.models.checkpoints import default_normalisation
    from segstudio.models.predictor import Predictor
    from segstudio.models.registry import ModelConfig, build_model

    torch.manual_seed(0)
    labels = LabelSet.camvid()
    config = ModelConfig("unet", labels.num_classes, 3, "classic", {"base_channels": 4})
    model = build_model(config)
    image = read_image(next((shared_data / "camvid" / "val").glob("*.png")))[:240, :320]

    def run():  # noqa: ANN202 - a fresh predictor each time: nothing kept between runs
        predictor = Predictor(model, normalisation=default_normalisation(config), num_classes=labels.num_classes,
                              device="cpu", tile_size=128)
        return predictor.predict(image, probabilities=True)

    return labels, run


def test_certainty_is_the_probability_of_the_class_shown(camvid_probabilities) -> None:  # noqa: ANN001
    _labels, run = camvid_probabilities
    prediction = run()
    confidence = Confidence.from_probabilities(prediction.classes, prediction.probabilities)
    expected = np.take_along_axis(prediction.probabilities, prediction.classes[None].astype(np.intp), axis=0)[0]
    assert np.array_equal(confidence.certainty, expected)
    assert np.array_equal(confidence.classes, prediction.classes)
    assert confidence.nbytes == 3 * prediction.classes.size  # whatever the number of classes
    assert not confidence.certainty.flags.writeable


@pytest.mark.parametrize("quantile", [0.25, 0.5, 0.75])
def test_rederived_prediction_equals_a_fresh_run_thresholded(camvid_probabilities, quantile: float) -> None:  # noqa: ANN001
    labels, run = camvid_probabilities
    kept = run()
    confidence = Confidence.from_probabilities(kept.classes, kept.probabilities)
    # A random-weight model is unsure everywhere (about 1/11 per class): thresholds from its own spread.
    threshold = float(np.quantile(confidence.certainty.astype(np.float32), quantile))
    fresh = run()  # the network again, at this threshold
    fresh_certainty = np.take_along_axis(fresh.probabilities, fresh.classes[None].astype(np.intp), axis=0)[0]
    expected = np.where(fresh_certainty < np.float16(threshold), labels.ignore_index, fresh.classes)
    derived = confidence.classes_at(threshold, unlabelled=labels.ignore_index)
    assert np.array_equal(derived, expected)
    uncertain = confidence.uncertain(threshold)
    assert 0 < uncertain.sum() < uncertain.size  # a random-weight model: unsure of some pixels, not all
    assert confidence.uncertain_share(threshold) == uncertain.mean()
    assert np.array_equal(confidence.classes_at(threshold, unlabelled=None), kept.classes)  # nothing to mark with


def test_bad_input_is_refused() -> None:
    classes = np.zeros((4, 5), dtype=np.uint8)
    with pytest.raises(ValueError, match="do not fit"):
        Confidence.from_probabilities(classes, np.zeros((2, 5, 4), dtype=np.float16))
    with pytest.raises(ValueError, match="class 3"):
        Confidence.from_probabilities(np.full((4, 5), 3, np.uint8), np.zeros((2, 4, 5), dtype=np.float16))
    confidence = Confidence.from_probabilities(classes, np.ones((2, 4, 5), dtype=np.float16))
    with pytest.raises(ValueError, match="between 0 and 1"):
        confidence.uncertain(1.5)


def test_doubt_is_one_byte_a_pixel_from_sure_to_no_idea() -> None:
    from segstudio.core.confidence import Confidence

    certainty = np.array([[1.0, 0.75, 0.5], [0.25, 0.0, 0.999]], dtype=np.float16)
    classes = np.zeros(certainty.shape, dtype=np.uint8)
    doubt = Confidence(classes, certainty).doubt()
    assert doubt.dtype == np.uint8 and doubt.shape == certainty.shape
    expected = np.rint(255.0 - certainty.astype(np.float32) * 255.0).astype(np.uint8)
    assert np.array_equal(doubt, expected)
    assert doubt.tolist() == [[0, 64, 128], [191, 255, 0]]


def test_doubt_of_a_band_wider_than_one_megapixel_row_block_is_exact() -> None:
    from segstudio.core.confidence import Confidence

    rng = np.random.default_rng(3)
    certainty = rng.random((1500, 1000)).astype(np.float16)  # more than one band of rows
    doubt = Confidence(np.zeros(certainty.shape, np.uint8), certainty).doubt()
    assert np.array_equal(doubt, np.rint(255.0 - certainty.astype(np.float32) * 255.0).astype(np.uint8))


def test_the_doubt_ramp_is_clear_when_sure_as_opaque_as_unsure_and_brightens_with_doubt() -> None:
    from segstudio.core.compositing import composite
    from segstudio.core.geometry import Rect
    from segstudio.core.labels import cielab
    from segstudio.core.layers import LayerKind, LayerStyle
    from segstudio.core.palettes import Palettes, doubt_palette

    table = doubt_palette()
    assert table[:, 3].tolist() == list(range(256))  # as opaque as the model was unsure
    assert (np.diff(table[:, 3].astype(int)) >= 0).all()
    lightness = cielab(table[:, :3])[:, 0]
    assert (np.diff(lightness) > -0.5).all() and lightness[-1] > lightness[1] + 50  # dark purple to yellow

    # The canvas composites the layer through that table: over grey, a sure pixel leaves the grey as it is, an
    # unsure one is the ramp's colour (opaque), one in between is the "over" blend.
    doubt = np.array([[0, 255, 64]], dtype=np.uint8)
    image = np.full((1, 3), 100, dtype=np.uint8)
    out = np.empty((1, 3, 4), dtype=np.uint8)
    composite(out, Rect(0, 0, 1, 3), image=image, layers=[(LayerKind.CERTAINTY, doubt, LayerStyle(True, 1.0))],
              palettes=Palettes(np.zeros((1, 4), np.uint8)))
    assert out[0, 0, :3].tolist() == [100, 100, 100]
    assert out[0, 1, :3].tolist() == table[255, :3].tolist()
    alpha = table[64, 3] / 255.0
    blended = np.rint(100 * (1 - alpha) + table[64, :3] * alpha)
    assert np.abs(out[0, 2, :3].astype(int) - blended).max() <= 1
