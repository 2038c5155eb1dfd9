"""The window hands "Predict all images" to a Ray cluster when an address is set (issue 15): the same mask and
certainty files as predicting on this machine, the list's uncertain column filled, the address remembered, and
a clear word where Ray is not installed. The cluster is a local one of two CPUs that the test starts (the window
joins it as any running cluster) and shuts down. Skipped without Ray or CamVid."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from segstudio.app.project_predictions import PredictedFolder
from segstudio.ui import cluster_setting
from segstudio.ui.actions import Command
from segstudio.ui.main_window import MainWindow
from tests.ui.test_main_window import open_and_wait


@pytest.fixture
def ray_running() -> Iterator[None]:
    pytest.importorskip("ray.data", reason='Ray is not installed (pip install "segstudio[ray]")')
    import ray

    if ray.is_initialized():
        pytest.skip("Ray is already initialised in this process")
    temp = Path(tempfile.mkdtemp(prefix="sgwin", dir="/tmp"))  # short: Ray's socket paths live under it
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024 * 1024, log_to_driver=False,
             _temp_dir=str(temp))
    try:
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def _predict_all(qtbot, window: MainWindow) -> PredictedFolder:  # noqa: ANN001
    with qtbot.waitSignal(window.predictions.folder_written, timeout=180000) as written:
        window.model_panel.predict_all_button.click()
    return written.args[0]


def test_predict_all_on_a_ray_cluster_writes_what_this_machine_writes(
    qtbot, ray_running: None, camvid_folder: Path, tiny_camvid_model: Path, tmp_path: Path  # noqa: ANN001
) -> None:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(interactive=False, settings=settings)
    qtbot.addWidget(window)
    try:
        open_and_wait(qtbot, window, camvid_folder)
        with qtbot.waitSignal(window.model_panel.model_loaded, timeout=60000):
            window.load_model(tiny_camvid_model)

        here = _predict_all(qtbot, window)
        assert len(here.written) == 3 and here.uncertain
        local = {key: (path.read_bytes(), Path(str(path)[:-4] + ".certainty.tif").read_bytes())
                 for key, path in here.written.items()}
        for path in here.written.values():
            path.unlink()

        assert window.cluster.set_address("auto")
        assert window.model_panel.predict_all_button.text() == "Predict all images on Ray"
        assert "Ray cluster at auto" in window.model_panel.predict_all_button.toolTip()
        started: list[str] = []
        real_start = window.model_panel.start
        window.model_panel.start = lambda text, what="predict": (started.append(text), real_start(text, what))
        on_ray = _predict_all(qtbot, window)
        assert started == ["predicting 3 images on the Ray cluster at auto..."]
        assert window.model_panel.message.text().startswith("predicted 3 images on the Ray cluster at auto into ")
        assert set(on_ray.written) == set(local)
        for key, path in on_ray.written.items():
            mask, certainty = local[key]
            assert path.read_bytes() == mask, key
            assert Path(str(path)[:-4] + ".certainty.tif").read_bytes() == certainty, key
        assert dict(on_ray.uncertain) == dict(here.uncertain)
    finally:
        window.pool.shutdown(5000)
        window.close()

    again = MainWindow(interactive=False, settings=settings)  # the address is remembered
    qtbot.addWidget(again)
    try:
        assert again.cluster.address == "auto"
        assert again.model_panel.predict_all_button.text() == "Predict all images on Ray"
        again.cluster.set_address("")
        assert again.cluster.address is None and again.model_panel.predict_all_button.text() == "Predict all images"
    finally:
        again.pool.shutdown(5000)
        again.close()


def test_without_ray_an_address_is_refused_with_the_reason(qtbot, window: MainWindow, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(cluster_setting, "ray_installed", lambda: False)
    messages: list[str] = []
    window.cluster.status.connect(lambda message, _ms: messages.append(message))
    assert not window.cluster.set_address("auto")
    assert window.cluster.address is None
    assert messages and 'pip install "segstudio[ray]"' in messages[-1]
    assert window.commands.action(Command.CLUSTER_FOR_PREDICT_ALL).text() == "Ray cluster for Predict all..."
