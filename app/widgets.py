"""Small widgets the window is assembled from: the notice banner, the record icon and the app icon."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

ASSETS = Path(__file__).resolve().parent / "assets"


def app_icon() -> QIcon:
    """The StyleCam icon (a lens painted as a swirl): the SVG, with a 256 px PNG for when Qt's SVG
    plugin is missing. Shipped inside the `app` package, so an installed app finds it too."""
    icon = QIcon()
    for name in ("stylecam.svg", "stylecam.png"):
        if (ASSETS / name).is_file():
            icon.addFile(str(ASSETS / name))
    return icon


def record_icon() -> QIcon:
    """A red dot (no bundled icon files)."""
    pixmap = QPixmap(32, 32)
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(220, 30, 30))
    painter.setPen(QColor(120, 0, 0))
    painter.drawEllipse(4, 4, 24, 24)
    painter.end()
    return QIcon(pixmap)


class Banner(QWidget):
    """A one-line notice above the view, with a Reconnect button when a source was lost."""

    def __init__(self, on_reconnect: Callable[[], None]) -> None:
        super().__init__()
        self.setStyleSheet("background: #4a3b12; color: #ffe9a8; padding: 3px;")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 8, 2)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.reconnect = QPushButton("Reconnect")
        self.reconnect.clicked.connect(on_reconnect)
        dismiss = QPushButton("✕")
        dismiss.setFlat(True)
        dismiss.setToolTip("Dismiss this notice")
        dismiss.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.reconnect)
        layout.addWidget(dismiss)
        self.hide()

    def show_message(self, text: str, reconnect: bool = False) -> None:
        self.label.setText(text)
        self.reconnect.setVisible(reconnect)
        self.show()
