"""Starting the desktop app: ``run_app(folder, image=..., screenshot=...)``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from segstudio.io.demo_dataset import ensure_demo_dataset
from segstudio.io.project_file import user_data_dir
from segstudio.ui.main_window import MainWindow
from segstudio.ui.resources import app_icon

SCREENSHOT_TIMEOUT_MS = 60000
DEMO_SCREENSHOT_TIMEOUT_MS = 240000  # training the demo model on first start: about half a minute, more on a busy CPU


def demo_folder() -> Path:
    return ensure_demo_dataset(user_data_dir() / "demo")


def _is_demo(folder: Path) -> bool:
    try:
        return folder.resolve() == (user_data_dir() / "demo").resolve()
    except OSError:
        return False


def application() -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("segstudio")
        app.setOrganizationName("segstudio")
        app.setDesktopFileName("segstudio")  # Wayland matches the window to the installed menu entry and its icon
        app.setWindowIcon(app_icon())
    return app  # type: ignore[return-value]


STARTUP_PROBE_VARIABLE = "SEGSTUDIO_STARTUP_PROBE"  # "print": say when the first frame is painted; "exit": and quit


class _FirstFrameProbe(QObject):
    """Prints ``segstudio: first frame`` when the window is first painted (bench/bench_startup.py times the
    process from its start to that line); with ``exit``, quits there."""

    def __init__(self, window: MainWindow, quit_after: bool) -> None:
        super().__init__(window)
        self._quit_after = quit_after
        self._done = False
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if not self._done and event.type() == QEvent.Type.Paint:
            self._done = True
            print("segstudio: first frame", flush=True)
            if self._quit_after:
                QTimer.singleShot(0, lambda: os._exit(0))  # nothing else to wait for: measuring start-up only
        return False


def install_crash_reporter(window: MainWindow) -> None:
    """An exception escaping a Qt slot is a bug: log it (segstudio.crash_log), tell the user where the log is,
    and keep the window running (its unsaved work is still autosaved); PySide would only print it."""
    from segstudio.crash_log import report_crash

    reported: list[str] = []

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, trace)
            return
        message = report_crash(error, trace)
        print(message, file=sys.stderr)
        window.statusBar().showMessage(message, 30000)
        if window.interactive and not reported:  # one dialog, not one per repaint of a broken widget
            reported.append(message)
            QMessageBox.critical(window, "segstudio: unexpected error", message)

    sys.excepthook = hook


def wait_until_loaded(window: MainWindow, timeout_ms: int = SCREENSHOT_TIMEOUT_MS) -> bool:
    """Run the event loop until the window shows an image (or loading failed / timed out); True if shown."""
    if window.canvas.session is not None and window.loading_key is None:
        return True
    return _wait_for(window.sample_loaded, [window.load_failed], timeout_ms)


def wait_until_predicted(window: MainWindow, timeout_ms: int = SCREENSHOT_TIMEOUT_MS) -> bool:
    """Run the event loop until the shown image has the model's prediction (or a worker error / timeout)."""
    return _wait_for(window.prediction_applied, [window.load_failed, window.worker_error], timeout_ms)


def _wait_for(success, failures, timeout_ms: int) -> bool:  # noqa: ANN001
    loop = QEventLoop()
    outcome = {"ok": False}

    def done(ok: bool) -> None:
        outcome["ok"] = ok
        loop.quit()

    success.connect(lambda *_args: done(True))
    for failure in failures:
        failure.connect(lambda *_args: done(False))
    QTimer.singleShot(timeout_ms, lambda: done(False))
    loop.exec()
    return outcome["ok"]


def save_screenshot(window: MainWindow, path: Path) -> None:
    app = QApplication.instance()
    for _ in range(3):
        app.processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(path)):
        raise ValueError(f"could not write the screenshot {path}")


def run_app(
    folder: Path | None, *, image: str | None = None, screenshot: Path | None = None, model: Path | None = None,
    window_size: tuple[int, int] | None = None,
) -> int:
    """Open the main window on ``folder`` (None: the last folder, else the demo dataset); ``model``: load that
    checkpoint and predict the shown image (on workers). With ``screenshot``: load (and predict), render the
    window to that PNG, and exit (no dialogs). ``window_size``: (width, height) instead of the remembered size.
    Returns the exit status (1 when the prediction failed)."""
    app = application()
    window = MainWindow(interactive=screenshot is None)
    if window_size is not None:
        window.resize(*window_size)
    install_crash_reporter(window)
    probe = os.environ.get(STARTUP_PROBE_VARIABLE)
    if probe:
        _FirstFrameProbe(window, quit_after=probe == "exit")
    window.show()  # first: the window answers while the demo is written and the folder is read
    app.processEvents()
    if folder is None:
        last = window.remembered.last_folder
        folder = last if screenshot is None and last is not None else demo_folder()
    is_demo = _is_demo(Path(folder))
    if is_demo:
        folder = demo_folder()  # regenerated when this version makes other scenes
    errors: list[str] = []
    applied: list[str] = []
    window.worker_error.connect(errors.append)
    window.load_failed.connect(errors.append)
    window.prediction_applied.connect(applied.append)
    window.show()  # first, so the window answers while the folder is read on the worker
    window.open_folder(Path(folder), image=image)
    if not _wait_for(window.dataset_opened, [window.load_failed], SCREENSHOT_TIMEOUT_MS):
        reason = errors[-1] if errors else "it could not be read"
        print(f"segstudio: could not open {folder}: {reason}", file=sys.stderr)
        if screenshot is not None:
            save_screenshot(window, Path(screenshot))
            window.close()
            return 1
        return app.exec()
    demo_done: list[bool] = []
    demo = None
    if model is not None:
        window.load_model(Path(model), predict=True)
    elif is_demo:
        demo = window.start_demo(Path(folder))
        demo.shown.connect(lambda: demo_done.append(True))
        demo.failed.connect(lambda _message: demo_done.append(False))
    window.show()
    if screenshot is not None:
        status = 0
        has_images = window.dataset is not None and bool(window.dataset.samples)
        if has_images and not wait_until_loaded(window):
            reason = f" ({errors[-1]})" if errors else ""  # the file and what is wrong with it
            print(f"segstudio: warning: the image did not load{reason}; the screenshot shows the window without it",
                  file=sys.stderr)
        elif has_images and model is not None and not applied and (errors or not wait_until_predicted(window)):
            status = 1
            reason = errors[-1] if errors else "it timed out"
            print(f"segstudio: the prediction failed ({reason}); the screenshot shows the window without it",
                  file=sys.stderr)
        if demo is not None and not demo_done:
            shown = _wait_for(demo.shown, [demo.failed], DEMO_SCREENSHOT_TIMEOUT_MS)
            if not shown:
                status = 1
                print("segstudio: the demo model did not get ready; the screenshot shows the synthetic predictions",
                      file=sys.stderr)
        save_screenshot(window, Path(screenshot))
        window.close()
        print(f"wrote {screenshot}")
        return status
    return app.exec()
