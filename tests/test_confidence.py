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
