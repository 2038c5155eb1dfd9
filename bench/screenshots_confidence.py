"""Screenshots of the certainty tools at 1600x1000 (issue 13): a weak U-Net predicts a CamVid val image in the window;
the Model panel's "uncertain below" threshold leaves the pixels it was unsure of unlabelled, U marks them in orange,
and the list's "uncertain" column says how much of the image that is (``confidence_uncertain.png``); then the model
doubt layer (Shift+U) shows its certainty everywhere, with its legend in the Layers panel (``confidence_doubt.png``).
PNGs go to ``bench/out/screenshots/``.

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/screenshots_confidence.py [--weak CHECKPOINT]

Without ``--weak`` it trains the weak model first (bench_correction_effort's: a 16-channel U-Net, one epoch of
256 px crops on CamVid train, about a minute here). Reads ``../shared/data`` read-only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshots_layers import OUT, camvid_frames, open_window, settle, wait_for  # noqa: E402

FRAMES = ("0016E5_07959", "0016E5_07961", "0016E5_07963")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weak", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("SEGSTUDIO_DATA_DIR", tempfile.mkdtemp(prefix="segstudio-shots-"))
    from PySide6.QtWidgets import QApplication

    from bench_correction_effort import _link
    from segstudio.ui.actions import Command
    from segstudio.ui.docks import Panel

    tmp = Path(tempfile.mkdtemp(prefix="segstudio-confidence-"))
    checkpoint = args.weak
    if checkpoint is None:
        from segstudio.app.training import train
        from segstudio.models.training import TrainingConfig

        config = TrainingConfig(architecture="unet", encoder="classic", options={"base_channels": 16}, epochs=1,
                                crop_size=256, batch_size=4, seed=0, device="cpu")
        checkpoint = train(_link(tmp / "train", "train", "trainannot"), config, tmp / "weak.safetensors").checkpoint
    app = QApplication.instance() or QApplication(sys.argv)
    window = open_window(app, camvid_frames(tmp / "camvid", FRAMES))
    window.load_model(checkpoint)
    wait_for(app, window.model_panel.model_loaded)
    window.predict_current()
    wait_for(app, window.prediction_applied, 120000)
    window.model_panel.certainty.setValue(0.2)  # a weak model is unsure of most pixels: its least sure ones
    wait_for(app, window.prediction_applied)
    window.commands.action(Command.SHOW_UNCERTAIN).trigger()
    window.docks.bring_forward(Panel.MODEL)
    settle(app, 600)
    window.grab().save(str(OUT / "confidence_uncertain.png"))
    print("model panel:", window.model_panel.uncertain.text())
    print(f"{OUT}/confidence_uncertain.png")

    window.commands.action(Command.SHOW_UNCERTAIN).trigger()  # the orange marks off
    window.model_panel.certainty.setValue(0.0)  # the prediction as the model gave it
    wait_for(app, window.prediction_applied)
    window.commands.action(Command.TOGGLE_ERROR_MAP).trigger()  # the doubt over the image and the working mask
    window.commands.action(Command.TOGGLE_PREDICTION).trigger()
    window.commands.action(Command.TOGGLE_CERTAINTY).trigger()
    window.docks.bring_forward(Panel.LAYERS)
    settle(app, 600)
    window.grab().save(str(OUT / "confidence_doubt.png"))
    print(f"{OUT}/confidence_doubt.png")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
