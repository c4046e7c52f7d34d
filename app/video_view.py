"""The video view: draws the newest processed frame (stylized, side-by-side, or a draggable split
between original and stylized) with a small HUD and the recording indicator.

Frames become QImages without a copy: the QImage points into the numpy array (Format_BGR888, no
colour conversion), and the view keeps that array referenced for as long as the QImage is used.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.frames import ProcessedFrame


def to_qimage(array: np.ndarray) -> QImage:
    """A QImage viewing `array` (BGR uint8, C-contiguous); the caller keeps `array` alive."""
    h, w = array.shape[:2]
    return QImage(array.data, w, h, array.strides[0], QImage.Format.Format_BGR888)


def fit(width: int, height: int, area: QRectF) -> QRectF:
    """The largest rectangle of aspect width:height centred in `area`."""
    scale = min(area.width() / width, area.height() / height)
    w, h = width * scale, height * scale
    return QRectF(area.x() + (area.width() - w) / 2, area.y() + (area.height() - h) / 2, w, h)


class VideoView(QWidget):
    frame_shown = Signal(object, float)  # ProcessedFrame, perf_counter when it was painted

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self.mode = "off"
        self.split = 0.5  # position of the split line, as a fraction of the picture's width
        self.hud_lines: list[str] = []
        self.message = "Starting..."
        self.recording_since: float | None = None
        self.display_names: dict[str, str] = {}  # style name -> what the label on the picture says
        self._frame: ProcessedFrame | None = None
        self._images: tuple[QImage, QImage] | None = None
        self._unshown = False
        self._image_rect = QRectF()
        self._dragging = False

    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    # -- inputs ------------------------------------------------------------------------------
    def show_frame(self, frame: ProcessedFrame) -> None:
        # the ProcessedFrame holds the arrays, so they live exactly as long as these QImages
        self._frame = frame
        self._images = (to_qimage(frame.original), to_qimage(frame.stylized))
        self._unshown = True
        self.update()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.setCursor(Qt.CursorShape.SplitHCursor if mode == "split" else Qt.CursorShape.ArrowCursor)
        self.update()

    def set_message(self, text: str) -> None:
        self.message = text
        self.update()

    # -- drawing -----------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(20, 20, 24))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self._images is not None:
            self._draw_frame(painter, *self._images)
        self._draw_overlay(painter)
        painter.end()
        if self._unshown and self._frame is not None:
            self._unshown = False
            self.frame_shown.emit(self._frame, time.perf_counter())

    def _draw_frame(self, painter: QPainter, original: QImage, stylized: QImage) -> None:
        area = QRectF(self.rect())
        if self.mode == "side":
            w, h = original.width() + stylized.width(), max(original.height(), stylized.height())
            rect = fit(w, h, area)
            left_w = rect.width() * original.width() / w
            left = QRectF(rect.x(), rect.y(), left_w, rect.height())
            right = QRectF(rect.x() + left_w, rect.y(), rect.width() - left_w, rect.height())
            painter.drawImage(left, original)
            painter.drawImage(right, stylized)
            self._label(painter, left, "Original")
            name = self._frame.style_name
            self._label(painter, right, self.display_names.get(name, name) or "Original (no style)")
        elif self.mode == "split":
            rect = fit(stylized.width(), stylized.height(), area)
            painter.drawImage(rect, stylized)
            x = rect.x() + rect.width() * self.split
            painter.save()
            painter.setClipRect(QRectF(rect.x(), rect.y(), x - rect.x(), rect.height()))
            painter.drawImage(rect, original)
            painter.restore()
            painter.setPen(QPen(QColor(255, 255, 255, 220), 2))
            painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            painter.setBrush(QColor(255, 255, 255, 220))
            painter.drawEllipse(QPointF(x, rect.center().y()), 7, 7)
            self._label(painter, rect, "Original")
        else:
            rect = fit(stylized.width(), stylized.height(), area)
            painter.drawImage(rect, stylized)
        self._image_rect = rect

    def _label(self, painter: QPainter, rect: QRectF, text: str) -> None:
        painter.save()
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, font.pointSizeF()))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        box = QRectF(
            rect.x() + 8,
            rect.bottom() - metrics.height() - 14,
            metrics.horizontalAdvance(text) + 12,
            metrics.height() + 6,
        )
        painter.fillRect(box, QColor(0, 0, 0, 150))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def _draw_overlay(self, painter: QPainter) -> None:
        metrics = painter.fontMetrics()
        line_h = metrics.height() + 2
        if self.hud_lines:
            width = max(metrics.horizontalAdvance(line) for line in self.hud_lines) + 16
            box = QRectF(8, 8, width, line_h * len(self.hud_lines) + 8)
            painter.fillRect(box, QColor(0, 0, 0, 140))
            painter.setPen(QColor(235, 235, 235))
            for i, line in enumerate(self.hud_lines):
                painter.drawText(QPointF(16, 8 + 4 + metrics.ascent() + i * line_h), line)
        if self.recording_since is not None:
            elapsed = time.perf_counter() - self.recording_since
            text = f"REC {int(elapsed // 60):02d}:{int(elapsed % 60):02d}"
            width = metrics.horizontalAdvance(text) + 36
            box = QRectF(self.width() - width - 8, 8, width, line_h + 8)
            painter.fillRect(box, QColor(0, 0, 0, 160))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(230, 30, 30))
            painter.drawEllipse(QPointF(box.x() + 14, box.center().y()), 6, 6)
            painter.setPen(QColor(255, 90, 90))
            painter.drawText(box.adjusted(26, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, text)
        if self.message:
            width = min(self.width() - 32, metrics.horizontalAdvance(self.message) + 24)
            box = QRectF((self.width() - width) / 2, self.height() - 3 * line_h - 16, width, 3 * line_h)
            painter.fillRect(box, QColor(0, 0, 0, 170))
            painter.setPen(QColor(255, 220, 120))
            painter.drawText(
                box.adjusted(12, 0, -12, 0), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message
            )

    # -- dragging the split line ---------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.mode == "split" and event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            self._move_split(event.position().x())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._dragging:
            self._move_split(event.position().x())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._dragging = False

    def _move_split(self, x: float) -> None:
        rect = self._image_rect
        if rect.width() > 0:
            self.split = min(1.0, max(0.0, (x - rect.x()) / rect.width()))
            self.update()
