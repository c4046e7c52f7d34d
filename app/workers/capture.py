"""The capture thread: reads the current source at its own pace and drops every frame into the
one-slot mailbox (newest wins), so capture never waits for inference. Opening, switching and
closing sources (cameras included) all happen on this thread."""

from __future__ import annotations

import threading
import time

import cv2
from PySide6.QtCore import QThread, Signal

from app.frames import CapturedFrame, LatestSlot
from app.sources import DemoSource, FrameSource, enumerate_cameras, open_source
from models.errors import StyleCamError

AUTO = "auto"  # the first camera that works, else the demo scene


class CaptureWorker(QThread):
    """Owns the active `FrameSource`; requests from the GUI thread land in a one-slot request."""

    source_started = Signal(str, str)  # spec, description
    source_message = Signal(str)  # a one-line notice, e.g. "no camera found; showing the demo scene"
    source_lost = Signal(str)  # the source failed mid-stream (camera unplugged, corrupt file)
    cameras_found = Signal(list)

    def __init__(self, mailbox: LatestSlot[CapturedFrame], resolution: tuple[int, int] = (640, 480)) -> None:
        super().__init__()
        self.setObjectName("capture")
        self.mailbox = mailbox
        self.resolution = resolution
        self.mirror = False  # read once per frame; a plain bool is safe to flip from the GUI thread
        self.frames_captured = 0
        self.streams = 0  # sources opened so far: each frame carries its source's number
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._request: str | FrameSource | None = None
        self._enumerate = False

    # -- called from the GUI thread ------------------------------------------------------
    def request_source(self, source: str | FrameSource) -> None:
        """Switch to a source spec ('auto', 'demo', camera index, path) or a ready source object."""
        with self._lock:
            self._request = source
        self._wake.set()

    def request_camera_list(self) -> None:
        with self._lock:
            self._enumerate = True
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    # -- the thread ----------------------------------------------------------------------
    def run(self) -> None:
        source: FrameSource | None = None
        try:
            while not self._stop.is_set():
                with self._lock:
                    request, self._request = self._request, None
                    enumerate_now, self._enumerate = self._enumerate, False
                if enumerate_now:
                    self.cameras_found.emit(enumerate_cameras())
                if request is not None:
                    if source is not None:
                        source.close()
                    source = self._open(request)
                if source is None:
                    self._wake.wait(0.1)
                    self._wake.clear()
                    continue
                try:
                    image = source.read(self._stop)
                except StyleCamError as err:
                    source.close()
                    source = None
                    self.source_lost.emit(str(err))
                    continue
                if image is None:
                    continue
                captured_at = time.perf_counter()
                if self.mirror:
                    image = cv2.flip(image, 1)  # a new array: the source's buffer stays untouched
                self.frames_captured += 1
                self.mailbox.put(CapturedFrame(image, self.frames_captured, captured_at, self.streams))
        finally:
            if source is not None:
                source.close()  # the camera is released on the thread that opened it

    def _open(self, request: str | FrameSource) -> FrameSource:
        self.streams += 1  # a new stream even when the same spec is opened again (reconnect)
        if isinstance(request, FrameSource):
            source = request
        elif request == AUTO:
            source = self._first_camera_or_demo()
        else:
            try:
                source = open_source(request, self.resolution)
            except StyleCamError as err:
                self.source_message.emit(f"{err}; showing the demo scene instead")
                source = DemoSource(*self.resolution)
        self.source_started.emit(source.spec, source.describe())
        return source

    def _first_camera_or_demo(self) -> FrameSource:
        cameras = enumerate_cameras()
        self.cameras_found.emit(cameras)
        for index in cameras:
            try:
                return open_source(str(index), self.resolution)
            except StyleCamError:
                continue
        self.source_message.emit(
            "No camera found: showing the demo scene. Use Source > Open video file... or pick a camera."
        )
        return DemoSource(*self.resolution)
