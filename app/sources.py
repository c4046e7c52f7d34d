"""Frame sources the capture worker reads from: a camera, a video file (looping, at its native
rate), a still image, the demo scene. Plain Python (no Qt), so they are easy to test and fake.

`read(stop)` blocks until the next frame is due and returns a new BGR uint8 array; it raises
`MediaError` with a one-line message when the source fails (camera unplugged, corrupt file).
Sleeps use `stop.wait(...)`, so stopping the capture thread never waits for a frame period.
"""

from __future__ import annotations

import glob
import re
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from app.demo_scene import DemoScene
from models.errors import MediaError
from models.video_io import VideoReader

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
RESOLUTIONS = ((640, 480), (1280, 720), (1920, 1080))


class FrameSource:
    """Base class: a name for the UI and a paced `read`."""

    kind = "source"
    spec = ""  # what the settings store and `--source` accepts

    def describe(self) -> str:
        return self.spec

    def read(self, stop: threading.Event) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file (called on the capture thread)."""


class _Paced:
    """Keeps a steady frame period without drifting; resyncs after a long stall."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / max(1.0, fps)
        self._next = time.perf_counter()

    def wait(self, stop: threading.Event) -> None:
        delay = self._next - time.perf_counter()
        if delay > 0:
            stop.wait(delay)
        now = time.perf_counter()
        self._next = max(self._next + self.period, now - self.period)


class DemoSource(FrameSource):
    kind = "demo"
    spec = "demo"

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30.0) -> None:
        self.scene = DemoScene(width, height)
        self._pace = _Paced(fps)
        self._t0 = time.perf_counter()

    def describe(self) -> str:
        return f"demo scene {self.scene.width}x{self.scene.height}"

    def read(self, stop: threading.Event) -> np.ndarray:
        self._pace.wait(stop)
        return self.scene.render(time.perf_counter() - self._t0)


class ImageSource(FrameSource):
    """A still image, offered at a modest rate so strength/size/style changes show live."""

    kind = "image"

    def __init__(self, path: Path, fps: float = 15.0) -> None:
        self.path = Path(path)
        self.spec = str(self.path)
        image = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
        if image is None:
            raise MediaError(f"image {self.path} cannot be read; is it a PNG/JPEG file?")
        self.image = image  # shared read-only by every frame: nothing downstream writes to it
        self._pace = _Paced(fps)

    def describe(self) -> str:
        return f"image {self.path.name}"

    def read(self, stop: threading.Event) -> np.ndarray:
        self._pace.wait(stop)
        return self.image


class VideoFileSource(FrameSource):
    """A video file played at its own frame rate (timestamps), looping at the end."""

    kind = "video"

    def __init__(self, path: Path, loop: bool = True) -> None:
        self.path = Path(path)
        self.spec = str(self.path)
        self.loop = loop
        self._reader = VideoReader(self.path)
        info = self._reader.info
        self.width, self.height, self.fps = info.width, info.height, float(info.fps)
        self._frames = self._reader.frames()
        self._clock_start: float | None = None  # wall time that maps to media time 0 of this loop
        self._fallback_pts = 0.0

    def describe(self) -> str:
        return f"video {self.path.name} ({self.width}x{self.height} @ {self.fps:.3g} fps)"

    def read(self, stop: threading.Event) -> np.ndarray | None:
        try:
            frame, pts = next(self._frames)
        except StopIteration:
            if not self.loop:
                raise MediaError(f"video {self.path} ended") from None
            self._reader.close()
            self._reader = VideoReader(self.path)
            self._frames = self._reader.frames()
            self._clock_start = None
            try:
                frame, pts = next(self._frames)
            except StopIteration:
                raise MediaError(f"video {self.path} has no decodable frames") from None
        if pts is None:
            pts = self._fallback_pts
        self._fallback_pts = pts + 1.0 / self.fps
        now = time.perf_counter()
        if self._clock_start is None:
            self._clock_start = now - pts
        delay = self._clock_start + pts - now
        if delay > 0:
            stop.wait(delay)
        elif delay < -0.5:  # stalled (e.g. machine busy): resync instead of racing to catch up
            self._clock_start = now - pts
        return frame

    def close(self) -> None:
        self._reader.close()


class CameraSource(FrameSource):
    """An OpenCV camera; a run of failed reads means it was unplugged."""

    kind = "camera"
    MAX_FAILED_READS = 5

    def __init__(self, index: int, resolution: tuple[int, int] | None = (640, 480)) -> None:
        self.index = index
        self.spec = str(index)
        api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        self._cap = cv2.VideoCapture(index, api)
        if not self._cap.isOpened():
            self._cap.release()
            raise MediaError(f"camera {index} cannot be opened (in use by another app, or not connected)")
        if resolution:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, resolution[0])
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, resolution[1])
        ok, frame = self._cap.read()
        if not ok or frame is None:
            self._cap.release()
            raise MediaError(f"camera {index} opened but delivers no frames; check its permissions")
        self.width, self.height = frame.shape[1], frame.shape[0]

    def describe(self) -> str:
        return f"camera {self.index} ({self.width}x{self.height})"

    def read(self, stop: threading.Event) -> np.ndarray | None:
        for _ in range(self.MAX_FAILED_READS):
            ok, frame = self._cap.read()  # blocks until the camera's next frame: the camera paces us
            if ok and frame is not None:
                return frame
            if stop.wait(0.02):
                return None
        raise MediaError(f"camera {self.index} stopped delivering frames (unplugged?)")

    def close(self) -> None:
        self._cap.release()


def camera_candidates(limit: int = 8) -> list[int]:
    """Indices worth probing: the /dev/video* nodes on Linux, else 0..limit-1."""
    if sys.platform.startswith("linux"):
        found = sorted(int(m.group(1)) for p in glob.glob("/dev/video*") if (m := re.fullmatch(r"/dev/video(\d+)", p)))
        return [i for i in found if i < 64][:limit]
    return list(range(limit))


def enumerate_cameras(limit: int = 8) -> list[int]:
    """Camera indices that open and deliver a frame (slow-ish: call it off the GUI thread)."""
    working = []
    for index in camera_candidates(limit):
        try:
            CameraSource(index, None).close()
        except MediaError:
            continue
        working.append(index)
    return working


def open_source(spec: str, resolution: tuple[int, int] = (640, 480)) -> FrameSource:
    """'demo', a camera index ('0'), or a video/image path; raises MediaError with one line."""
    spec = spec.strip()
    if spec == "demo":
        return DemoSource(*resolution)
    if spec.isdigit():
        return CameraSource(int(spec), resolution)
    path = Path(spec).expanduser()
    if not path.exists():
        raise MediaError(f"source {spec!r} is not a camera index, 'demo', or an existing file")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(path)
    return VideoFileSource(path)
