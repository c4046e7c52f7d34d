"""Photos for a new style, taken from the live source: one every half second for 30 seconds.

The grabber listens to the controller's `frame_ready` (on the GUI thread) and keeps a reference
to the newest frame's original, the stylizer's input (never written after capture: no copy).
A timer takes it every `interval` seconds and hands it to the task thread to be encoded and
written, so the GUI thread only counts.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.frames import ProcessedFrame
from app.make_style.tasks import TaskThread, write_photo

PROMPT = "Move, show your face and the room"


class FrameGrabber(QObject):
    tick = Signal(float, int)  # seconds left, photos taken
    finished = Signal(int)  # photos taken

    def __init__(
        self,
        frames_signal,
        tasks: TaskThread,
        seconds: float = 30.0,
        interval: float = 0.5,
        shown: ProcessedFrame | None = None,
    ) -> None:
        """`shown`: the frame on screen when the grabber is made (None before the first), so a
        live view that is paused or slow to send the next one still gives photos."""
        super().__init__()
        self.tasks, self.seconds, self.interval = tasks, seconds, interval
        self.latest: np.ndarray | None = shown.original if shown is not None else None
        self.taken = 0
        self.folder: Path | None = None
        self._started = 0.0
        self._timer = QTimer(self, timeout=self._shoot)
        frames_signal.connect(self._on_frame)

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def _on_frame(self, frame) -> None:
        self.latest = frame.original

    def start(self, folder: Path) -> None:
        self.folder, self.taken = folder, 0
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("frame_*.jpg"):  # a new take replaces an old one
            old.unlink(missing_ok=True)
        self._started = time.monotonic()
        self._timer.start(round(self.interval * 1000))
        self.tick.emit(self.seconds, 0)

    def stop(self) -> None:
        self._timer.stop()

    def _shoot(self) -> None:
        left = self.seconds - (time.monotonic() - self._started)
        if self.latest is not None and self.folder is not None:
            path, image = self.folder / f"frame_{self.taken:03d}.jpg", self.latest
            self.tasks.submit("photo", lambda: write_photo(path, image))
            self.taken += 1
        self.tick.emit(max(0.0, left), self.taken)
        if left <= self.interval / 2 or self.taken >= round(self.seconds / self.interval):
            self._timer.stop()
            self.finished.emit(self.taken)
