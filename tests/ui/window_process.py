"""The start of a script that runs a real window in its own process (``python -c OPEN_WINDOW + ...``): an
offscreen-ready QApplication, a non-interactive MainWindow on the folder in ``sys.argv[1]``, waited for until its
first image is loaded (up to 60 s); then ``window`` and ``session`` are there for the rest of the script."""

OPEN_WINDOW = """
import random, sys, time
from pathlib import Path
from PySide6.QtWidgets import QApplication
app = QApplication([])
from segstudio.ui.main_window import MainWindow
window = MainWindow(interactive=False)
loaded = []
window.sample_loaded.connect(loaded.append)
window.open_folder(Path(sys.argv[1]))
deadline = time.monotonic() + 60
while not loaded and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.01)
session = window.canvas.session
"""
