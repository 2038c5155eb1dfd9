"""The window's panels as dock widgets: their first-start arrangement, their show/hide actions (the View menu),
bringing one to the front, and keeping the Images list wide enough for its score columns.

The arrangement leaves the canvas most of the window: the Images list on the left with the Metrics, Model, Review,
Dataset and Fine-tune panels as tabs under it (what was painted and how it scores), the Classes and Layers on the right (what to paint
with). Nothing sits under the canvas: every row of height there is worth more to the image than to a panel.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractItemView, QDockWidget, QMainWindow, QStyle, QTabWidget, QWidget

LEFT_WIDTH = 300  # the Images list's name and scores, the metrics table's IoU and Dice columns
RIGHT_WIDTH = 210  # class names and the layer controls
INSTANCES_WIDTH = 262  # the Instances panel's id, class, score, IoU and match columns
MAX_LEFT_SHARE = 0.34  # the Images list never takes more of the window's width when it grows for its columns
METRICS_HEIGHT_SHARE = 0.52  # of the left column, under the Images list


class Panel(Enum):
    """The window's panels, by title."""

    IMAGES = "Images"
    CLASSES = "Classes"
    INSTANCES = "Instances"
    LAYERS = "Layers"
    METRICS = "Metrics"
    MODEL = "Model"
    REVIEW = "Review"
    DATASET = "Dataset"
    FINE_TUNE = "Fine-tune"



# Panels of a job that shows when it starts (View menu brings them back any time): four tabs fit under the Images
# list without eliding their titles, five do not.
# The Instances panel shows while the image on screen is corrected as instances.
ON_DEMAND = frozenset({Panel.FINE_TUNE, Panel.INSTANCES})


class WindowDocks:
    """One dock per :class:`Panel` in ``window``; :meth:`arrange_default` lays them out as on a first start."""

    def __init__(self, window: QMainWindow, widgets: Mapping[Panel, QWidget]) -> None:
        self._window = window
        self._docks: dict[Panel, QDockWidget] = {}
        window.setTabPosition(Qt.DockWidgetArea.AllDockWidgetAreas, QTabWidget.TabPosition.North)
        window.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        for panel in Panel:
            dock = QDockWidget(panel.value, window)
            dock.setObjectName(f"dock-{panel.value.lower()}")  # saveState/restoreState find docks by name
            dock.setWidget(widgets[panel])
            toggle = dock.toggleViewAction()
            toggle.setText(f"{panel.value} panel")
            toggle.setToolTip(f"Show or hide the {panel.value} panel")
            self._docks[panel] = dock
            for changed in (dock.dockLocationChanged, dock.topLevelChanged, toggle.toggled):
                changed.connect(self._schedule_title_bars)
        self._title_timer = QTimer(window)
        self._title_timer.setSingleShot(True)
        self._title_timer.setInterval(0)
        self._title_timer.timeout.connect(self._update_title_bars)
        self.arrange_default()

    def _schedule_title_bars(self, *_args: object) -> None:
        self._title_timer.start()

    def _update_title_bars(self) -> None:
        """A docked panel that shares tabs with another shows no title bar: its tab names it (and drags it out);
        alone or floating it gets its title bar back (to move, float and close it)."""
        for dock in self._docks.values():
            tabbed = not dock.isFloating() and any(
                other.toggleViewAction().isChecked() and not other.isFloating()
                for other in self._window.tabifiedDockWidgets(dock)
            )
            if tabbed and dock.titleBarWidget() is None:
                dock.setTitleBarWidget(QWidget(dock))
            elif not tabbed and dock.titleBarWidget() is not None:
                dock.setTitleBarWidget(None)

    def has_title_bar(self, panel: Panel) -> bool:
        return self._docks[panel].titleBarWidget() is None

    def dock(self, panel: Panel) -> QDockWidget:
        return self._docks[panel]

    def toggle_actions(self) -> list[QAction]:
        """The panels' show/hide actions, in :class:`Panel` order (checked while shown)."""
        return [self._docks[panel].toggleViewAction() for panel in Panel]

    def arrange_default(self) -> None:
        """Every panel docked where a first start puts it, at its first-start size, shown unless :data:`ON_DEMAND`."""
        window, docks = self._window, self._docks
        for dock in docks.values():
            dock.setFloating(False)  # before it is removed: a removed dock keeps floating
            window.removeDockWidget(dock)
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        window.addDockWidget(left, docks[Panel.IMAGES])
        window.splitDockWidget(docks[Panel.IMAGES], docks[Panel.METRICS], Qt.Orientation.Vertical)
        window.tabifyDockWidget(docks[Panel.METRICS], docks[Panel.MODEL])
        window.tabifyDockWidget(docks[Panel.MODEL], docks[Panel.REVIEW])
        window.tabifyDockWidget(docks[Panel.REVIEW], docks[Panel.DATASET])
        window.tabifyDockWidget(docks[Panel.DATASET], docks[Panel.FINE_TUNE])
        window.addDockWidget(right, docks[Panel.CLASSES])
        window.splitDockWidget(docks[Panel.CLASSES], docks[Panel.LAYERS], Qt.Orientation.Vertical)
        window.splitDockWidget(docks[Panel.CLASSES], docks[Panel.INSTANCES], Qt.Orientation.Vertical)
        for panel, dock in docks.items():
            dock.setVisible(panel not in ON_DEMAND)
        docks[Panel.METRICS].raise_()
        self._update_title_bars()
        self.size_default()

    def size_default(self) -> None:
        """The first-start sizes: the side columns as narrow as their contents allow, the Layers panel as tall as
        its rows, the metrics table under the Images list."""
        window, docks = self._window, self._docks
        height = max(400, window.height())
        layers = docks[Panel.LAYERS].widget().sizeHint().height() + 24
        window.resizeDocks([docks[Panel.IMAGES], docks[Panel.CLASSES]], [LEFT_WIDTH, RIGHT_WIDTH], Qt.Orientation.Horizontal)
        window.resizeDocks([docks[Panel.CLASSES], docks[Panel.LAYERS]], [height - layers, layers], Qt.Orientation.Vertical)
        metrics = round(height * METRICS_HEIGHT_SHARE)
        window.resizeDocks([docks[Panel.IMAGES], docks[Panel.METRICS]], [height - metrics, metrics], Qt.Orientation.Vertical)

    def show_instances(self, shown: bool) -> None:
        """The Instances panel shows while the image on screen is corrected as instances (the right column widened
        to its columns), and goes when it is not."""
        dock = self._docks[Panel.INSTANCES]
        if shown == dock.isVisible():
            return
        dock.setVisible(shown)
        if shown and not dock.isFloating():
            classes = self._docks[Panel.CLASSES]
            self._window.resizeDocks([classes], [max(INSTANCES_WIDTH, classes.width())], Qt.Orientation.Horizontal)
            layers = self._docks[Panel.LAYERS]
            height = max(400, self._window.height())
            wanted = [classes.widget().sizeHint().height() + 24, 0, layers.widget().sizeHint().height() + 24]
            wanted[1] = max(200, height - wanted[0] - wanted[2])
            self._window.resizeDocks([classes, dock, layers], wanted, Qt.Orientation.Vertical)

    def show_large(self, panel: Panel, share: float = 0.8) -> None:
        """``panel`` floating over the window at ``share`` of its size (figures need the room a tab does not have)."""
        dock = self._docks[panel]
        dock.show()
        dock.setFloating(True)
        window = self._window.frameGeometry()
        width, height = round(window.width() * share), round(window.height() * share)
        dock.setGeometry(window.x() + (window.width() - width) // 2, window.y() + (window.height() - height) // 2,
                         width, height)
        dock.raise_()

    def bring_forward(self, panel: Panel) -> None:
        """Show ``panel`` and raise it above the panels it shares tabs with."""
        dock = self._docks[panel]
        dock.show()
        dock.raise_()

    def in_front(self, panel: Panel) -> bool:
        """Whether ``panel`` shows (docked and not behind another panel's tab, or floating)."""
        dock = self._docks[panel]
        return dock.isVisible() and not dock.visibleRegion().isEmpty()

    def fit_list_columns(self, view: QAbstractItemView, last_header: str) -> None:
        """Widen the Images panel so ``view``'s columns up to the one headed ``last_header`` show whole (never
        narrower, never beyond :data:`MAX_LEFT_SHARE` of the window); a floating or hidden panel stays as it is."""
        dock = self._docks[Panel.IMAGES]
        header = getattr(view, "horizontalHeader", lambda: None)()
        model = view.model()
        if header is None or model is None or dock.isFloating() or not dock.isVisible():
            return
        sections = [s for s in range(header.count()) if not header.isSectionHidden(s)]
        last = next((s for s in sections if model.headerData(s, Qt.Orientation.Horizontal) == last_header), None)
        if last is None:
            return
        needed_view = header.sectionViewportPosition(last) + header.horizontalOffset() + header.sectionSize(last)
        scrollbar = view.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        chrome = dock.width() - view.viewport().width()  # frames, margins and the scroll bar when it shows
        if view.verticalScrollBar().isVisible():
            scrollbar = 0
        needed = needed_view + chrome + scrollbar + 2
        limit = round(self._window.width() * MAX_LEFT_SHARE)
        if dock.width() < needed:
            self._window.resizeDocks([dock], [min(needed, limit)], Qt.Orientation.Horizontal)


__all__ = ["ON_DEMAND", "Panel", "WindowDocks"]
