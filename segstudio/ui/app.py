"""Starting the desktop app: ``run_app(folder, image=..., screenshot=...)``."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from segstudio.io.demo_dataset import ensure_demo_dataset
from segstudio.io.project_file import user_data_dir
from segstudio.ui.main_window import MainWindow

SCREENSHOT_TIMEOUT_MS = 60000


def demo_folder() -> Path:
    return ensure_demo_dataset(user_data_dir() / "demo")


def application() -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("segstudio")
        app.setOrganizationName("segstudio")
    return app  # type: ignore[return-value]


def wait_until_loaded(window: MainWindow, timeout_ms: int = SCREENSHOT_TIMEOUT_MS) -> bool:
    """Run the event loop until the window shows an image (or loading failed / timed out); True if shown."""
    if window.canvas.session is not None and window._loading_key is None:  # noqa: SLF001
        return True
    loop = QEventLoop()
    outcome = {"ok": False}

    def done(ok: bool) -> None:
        outcome["ok"] = ok
        loop.quit()

    window.sample_loaded.connect(lambda _key: done(True))
    window.load_failed.connect(lambda _message: done(False))
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


def run_app(folder: Path | None, *, image: str | None = None, screenshot: Path | None = None) -> int:
    """Open the main window on ``folder`` (None: the last folder, else the demo dataset). With ``screenshot``:
    load, render the window to that PNG, and exit (no dialogs). Returns the exit status."""
    app = application()
    window = MainWindow(interactive=screenshot is None)
    if folder is None:
        last = window.settings.value("last_folder")
        folder = Path(last) if screenshot is None and last and Path(str(last)).is_dir() else demo_folder()
    window.open_folder(Path(folder), image=image)
    window.show()
    if screenshot is not None:
        if window.dataset is not None and window.dataset.samples and not wait_until_loaded(window):
            print("segstudio: warning: the image did not load; the screenshot shows the window without it", file=sys.stderr)
        save_screenshot(window, Path(screenshot))
        window.close()
        print(f"wrote {screenshot}")
        return 0
    return app.exec()
