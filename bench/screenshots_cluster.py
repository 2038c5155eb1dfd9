"""Screenshots of "Predict all images" handed to a Ray cluster at 1600x1000 (issue 15): the File menu with
"Ray cluster for Predict all..." (``cluster_file_menu.png``), the Model panel while the cluster predicts
(``cluster_predicting.png``) and after (``cluster_predicted.png``). The cluster is a local one of two CPUs started
here (the window joins it as it would a running cluster at ``auto``); the model is a random-weight U-Net, so the
picture is of the workflow, not of a model's quality. PNGs go to ``bench/out/screenshots/``.

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/screenshots_cluster.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshots_layers import OUT, camvid_frames, open_window, settle, wait_for  # noqa: E402

FRAMES = ("0016E5_07959", "0016E5_07961", "0016E5_07963", "0016E5_07965")


def main() -> int:
    os.environ.setdefault("SEGSTUDIO_DATA_DIR", tempfile.mkdtemp(prefix="segstudio-shots-"))
    import ray
    import torch
    from PySide6.QtWidgets import QApplication

    from segstudio.core.labels import LabelSet
    from segstudio.models.checkpoints import CheckpointMeta, save_checkpoint
    from segstudio.models.registry import ModelConfig, build_model
    from segstudio.ui.actions import Menu

    tmp = Path(tempfile.mkdtemp(prefix="sgshot", dir="/tmp"))
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024 * 1024, log_to_driver=False,
             _temp_dir=str(tmp / "ray"))
    app = QApplication.instance() or QApplication(sys.argv)
    window = open_window(app, camvid_frames(tmp / "camvid", FRAMES))
    torch.manual_seed(0)
    labels = LabelSet.camvid()
    config = ModelConfig("unet", labels.num_classes, 3, "classic", {"base_channels": 4})
    model = tmp / "camvid-unet.safetensors"
    save_checkpoint(model, build_model(config), CheckpointMeta(config, labels))
    window.load_model(model)
    wait_for(app, window.model_panel.model_loaded, 60000)
    window.cluster.set_address("auto")
    from segstudio.ui.docks import Panel

    window.docks.bring_forward(Panel.MODEL)
    settle(app, 300)

    menu = window.commands.menu(Menu.FILE)
    bar = window.menuBar()
    menu.popup(bar.mapToGlobal(bar.actionGeometry(menu.menuAction()).bottomLeft()))
    settle(app, 500)
    menu.grab().save(str(OUT / "cluster_file_menu.png"))
    menu.hide()

    window.model_panel.predict_all_button.click()
    settle(app, 1500)
    window.grab().save(str(OUT / "cluster_predicting.png"))
    wait_for(app, window.predictions.folder_written, 180000)
    settle(app, 1000)
    window.grab().save(str(OUT / "cluster_predicted.png"))
    print("status:", window.status_line.message)
    print(f"{OUT}/cluster_file_menu.png\n{OUT}/cluster_predicting.png\n{OUT}/cluster_predicted.png")
    window.close()
    ray.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
