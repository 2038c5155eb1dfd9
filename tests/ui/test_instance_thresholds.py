"""An instance model's score and mask thresholds in the Model panel: changing them re-reads the shown image's kept
detections without running the network again, hands the result over like a new prediction (a painted stroke and
the undo history stay), and the panel says how many detections are kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segstudio.ui.main_window import MainWindow

torch = pytest.importorskip("torch")

from segstudio.app.loaded_model import InstanceThresholds  # noqa: E402
from segstudio.io.mask_files import read_class_mask  # noqa: E402
from segstudio.io.demo_dataset import DEMO_LABELS, write_demo_dataset  # noqa: E402
from segstudio.models.checkpoints import CheckpointMeta, save_checkpoint  # noqa: E402
from segstudio.models.registry import ModelConfig, build_model  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Small and quick: few proposals and detections, every detection kept by the model itself.
SMALL = {"min_size": 128, "max_size": 160, "rpn_post_nms_top_n_test": 50, "box_detections_per_img": 8,
         "box_score_thresh": 0.0}


@pytest.fixture
def mask_rcnn_checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    config = ModelConfig("mask_rcnn", DEMO_LABELS.num_classes, 3, "mobilenet_v3", SMALL)
    path = tmp_path / "tiny-mask-rcnn.safetensors"
    save_checkpoint(path, build_model(config), CheckpointMeta(config, DEMO_LABELS))
    return path


def test_thresholds_rethreshold_the_shown_image_without_running_the_network(
        qtbot, window: MainWindow, tmp_path: Path, mask_rcnn_checkpoint: Path) -> None:  # noqa: ANN001
    folder = write_demo_dataset(tmp_path / "demo", count=2)
    with qtbot.waitSignal(window.sample_loaded, timeout=20000):
        window.open_folder(folder)
    panel = window.model_panel
    assert panel.threshold_row.isHidden()  # no model yet
    with qtbot.waitSignal(panel.model_loaded, timeout=60000):
        window.load_model(mask_rcnn_checkpoint)
    assert panel.instance_model and not panel.threshold_row.isHidden()
    assert panel.thresholds == InstanceThresholds(0.5, 0.5)  # the predictor's own defaults

    calls: list[int] = []
    predictor = panel.model.predictor
    network = predictor.predict

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return network(*args, **kwargs)

    predictor.predict = counting
    # A randomly initialised head scores about 1/4 everywhere: keep every detection and every covered pixel.
    panel.set_thresholds(InstanceThresholds(0.0, 0.0))  # nothing predicted yet: nothing to re-read
    with qtbot.waitSignal(window.prediction_applied, timeout=60000):
        window.predict_current()
    assert len(calls) == 1
    kept = window.predictions.detections
    assert kept is not None and kept.candidates is not None
    candidates = kept.candidates
    total = len(candidates)
    assert total > 0
    session = window.canvas.session
    expected = candidates.resolve(0.0, 0.0)
    assert np.array_equal(session.prediction, expected.to_class_mask(np.uint8))
    assert expected.num_instances > 0
    written = folder / "segstudio-predictions" / "tiny-mask-rcnn" / f"{window.current_key}.png"
    assert np.array_equal(read_class_mask(written, DEMO_LABELS), session.prediction)
    assert panel.detections.text() == f"{expected.num_instances} of {total} detection{'s' if total > 1 else ''} kept"

    # The user paints: that work and its undo history survive a threshold change, as for a re-prediction.
    session.begin_stroke()
    session.paint((5, 5), (30, 30), radius=4, value=2)
    session.end_stroke()
    painted = session.mask.copy()
    assert session.dirty and session.can_undo

    middle = float(np.median(candidates.scores))
    with qtbot.waitSignal(window.prediction_applied, timeout=20000):
        panel.set_thresholds(InstanceThresholds(middle, 0.0))
    fewer = candidates.resolve(middle, 0.0)
    assert window.canvas.session is session
    assert np.array_equal(session.prediction, fewer.to_class_mask(np.uint8))
    assert np.array_equal(session.mask, painted) and session.can_undo
    assert fewer.num_instances <= expected.num_instances
    assert panel.detections.text().startswith(f"{fewer.num_instances} of {total} ")

    with qtbot.waitSignal(window.prediction_applied, timeout=20000):
        panel.mask_threshold.setValue(1.0)  # no probability exceeds 1: nothing is covered
    assert not window.canvas.session.prediction.any()
    assert panel.detections.text().startswith(f"0 of {total} ")
    assert np.array_equal(window.canvas.session.mask, painted)
    assert len(calls) == 1, "a threshold change ran the network again"
    # The mask file the image was predicted into follows the latest thresholds (so coming back shows them).
    qtbot.waitUntil(lambda: not read_class_mask(written, DEMO_LABELS).any(), timeout=10000)

    window.canvas.session.undo()  # the stroke is still undoable
    assert not np.array_equal(window.canvas.session.mask, painted)


def test_a_semantic_model_has_no_thresholds(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    config = ModelConfig("unet", DEMO_LABELS.num_classes, 3, "classic", {"base_channels": 4})
    path = tmp_path / "tiny.safetensors"
    save_checkpoint(path, build_model(config), CheckpointMeta(config, DEMO_LABELS))
    with qtbot.waitSignal(window.model_panel.model_loaded, timeout=60000):
        window.load_model(path)
    assert not window.model_panel.instance_model and window.model_panel.threshold_row.isHidden()


def test_predict_all_reads_every_image_with_the_panels_thresholds(tmp_path: Path, mask_rcnn_checkpoint: Path) -> None:
    from segstudio.app.loaded_model import load_model
    from segstudio.app.project_predictions import predict_all
    from segstudio.io.datasets import open_dataset
    from segstudio.io.images import read_image
    from segstudio.io.mask_files import read_tagged_instance_mask

    folder = write_demo_dataset(tmp_path / "demo", count=2)
    dataset = open_dataset(folder)
    model = load_model(mask_rcnn_checkpoint)
    done = predict_all(model, dataset, thresholds=InstanceThresholds(0.0, 0.0))
    assert len(done.written) == 2 and not done.skipped
    for key, path in done.written.items():
        expected = model.predictor.predict(read_image(dataset.sample(key).image)).candidates.resolve(0.0, 0.0)
        assert expected.num_instances > 0
        assert read_tagged_instance_mask(path) == expected  # objects, classes and scores, as the thresholds keep them
    strict = predict_all(model, dataset, keys=[next(iter(done.written))], thresholds=InstanceThresholds(0.0, 1.0))
    written = read_tagged_instance_mask(next(iter(strict.written.values())))
    assert written is not None and written.num_instances == 0  # no probability exceeds 1: nothing covered


def test_a_written_instance_prediction_reads_back_with_its_objects(tmp_path: Path) -> None:
    # After "Predict all" the image on screen is handed the file just written: its objects must come with it, or an
    # instance session would rebuild them from the classes (merging people who touch).
    from segstudio.app.project_predictions import read_prediction
    from segstudio.core.instances import InstanceMask
    from segstudio.io.datasets import open_dataset
    from segstudio.io.mask_files import write_class_mask, write_instance_mask

    folder = write_demo_dataset(tmp_path / "demo", count=1)
    dataset = open_dataset(folder)
    key = dataset.samples[0].key
    ids = np.zeros((20, 30), dtype=np.uint8)
    ids[2:10, 2:10], ids[2:10, 10:18] = 1, 2  # two objects touching: one region of class 1
    objects = InstanceMask(ids, {1: 1, 2: 1}, {1: 0.9, 2: 0.6})
    path = tmp_path / "written.png"
    write_instance_mask(path, objects)
    back = read_prediction(dataset, key, path, "m")
    assert back.instances == objects and np.array_equal(back.classes, objects.to_class_mask())
    write_class_mask(path, objects.to_class_mask(), DEMO_LABELS)
    assert read_prediction(dataset, key, path, "m").instances is None
