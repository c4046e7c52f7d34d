"""The virtual camera thread: offers the stylized stream (or original | stylized) as a system camera
that video-call apps and browsers can pick, through pyvirtualcam (Linux: v4l2loopback; Windows:
OBS Virtual Camera or Unity Capture; macOS: OBS).

Frames come from the inference thread through a one-slot mailbox (newest frame wins, like the
view's), so a slow backend drops stale frames and never holds up capture or inference. Each frame
is sent once, as it arrives: the camera runs at the rate frames come in (the source's, unless the
style is slower). Composing, cropping to even width and height (I420, which the backends convert
to, needs it) and BGR -> RGB all happen here, never on the GUI thread. The camera is opened with
the first frame's size and reopened when the size changes (compare mode, source, processing size).

With no backend on the machine (no v4l2loopback module, no OBS), `camera_failed` carries one line
saying what to install or run, and the worker waits, off, for the next `start_camera`.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from PySide6.QtCore import QThread, Signal

from app.frames import LatestSlot, ProcessedFrame
from app.workers.recording import compose

LINUX_HINT = (
    "load the v4l2loopback module: `sudo modprobe v4l2loopback devices=1 exclusive_caps=1` "
    "(package: `sudo apt install v4l2loopback-dkms`); browsers list the camera only with exclusive_caps=1"
)
OBS_HINT = "install OBS Studio (obsproject.com) and start its virtual camera once (Start Virtual Camera)"


class VirtualCamera(Protocol):
    """What the worker needs of a camera (pyvirtualcam.Camera has it)."""

    device: str

    def send(self, frame: np.ndarray) -> None: ...  # RGB uint8 HxWx3, C-contiguous

    def close(self) -> None: ...


CameraFactory = Callable[[int, int, float], VirtualCamera]  # (width, height, fps) -> an open camera


class CameraUnavailable(Exception):
    """No virtual camera backend could be opened; the message is the one line shown to the user."""


def install_hint(platform: str = sys.platform) -> str:
    """What to install or run for a virtual camera on this platform."""
    if platform.startswith("linux"):
        return LINUX_HINT
    if platform == "win32":
        return f"{OBS_HINT} (or install Unity Capture)"
    return OBS_HINT


def unavailable_message(detail: str = "", platform: str = sys.platform) -> str:
    """The one line shown when no virtual camera could be opened."""
    why = f" ({detail})" if detail else ""
    return f"No virtual camera{why}: {install_hint(platform)}."


def backend_problem(platform: str = sys.platform, sys_module: Path = Path("/sys/module")) -> str | None:
    """A cheap check before the camera is asked for (no device is opened): the one line when the
    backend is certainly missing, else None (the worker finds out the rest when it opens it)."""
    try:
        import pyvirtualcam  # noqa: F401
    except ImportError:
        return "No virtual camera: the pyvirtualcam package is missing (`pip install pyvirtualcam`)."
    if platform.startswith("linux") and not (sys_module / "v4l2loopback").exists():
        return unavailable_message("the v4l2loopback kernel module is not loaded", platform)
    return None


def open_pyvirtualcam(width: int, height: int, fps: float) -> VirtualCamera:
    """The real camera: whichever backend pyvirtualcam finds, fed RGB."""
    try:
        import pyvirtualcam
    except ImportError as err:
        raise CameraUnavailable(
            "No virtual camera: the pyvirtualcam package is missing (`pip install pyvirtualcam`)."
        ) from err
    try:
        return pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB)
    except (RuntimeError, ValueError, OSError) as err:
        # one line per backend tried ("'v4l2loopback' backend: No v4l2 loopback device found ...")
        detail = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())
        raise CameraUnavailable(unavailable_message(detail)) from err


def camera_image(frame: ProcessedFrame, side_by_side: bool) -> np.ndarray:
    """BGR frame -> the RGB picture the camera gets: stylized (or original | stylized), cropped by
    at most one row and column to an even size. One owned, C-contiguous copy."""
    image = compose(frame, side_by_side)
    h, w = image.shape[:2]
    return cv2.cvtColor(image[: h - h % 2, : w - w % 2], cv2.COLOR_BGR2RGB)


class VirtualCameraWorker(QThread):
    """`start_camera` / `stop_camera` from the GUI thread, `submit` from the inference thread; the
    camera itself is opened, fed and closed on this thread only."""

    camera_started = Signal(str)  # "DEVICE (WxH)"
    camera_stopped = Signal()
    camera_failed = Signal(str)  # one line: what to install or run; the camera is off

    def __init__(self, camera_factory: CameraFactory | None = None) -> None:
        super().__init__()
        self.setObjectName("virtual-camera")
        self.camera_factory = camera_factory  # None: pyvirtualcam (tests inject a fake)
        self._slot: LatestSlot[tuple[ProcessedFrame, bool]] = LatestSlot()
        self._stop = threading.Event()
        self.active = False  # set on the caller's thread: frames are taken only while it is on
        self.side_by_side = False
        self.fps = 30.0
        self.frames_sent = 0
        self.device = ""  # the open camera's device ("" when closed)
        self._camera: VirtualCamera | None = None
        self._size: tuple[int, int] | None = None  # (width, height) the camera was opened with

    # -- called from other threads --------------------------------------------------------
    def problem(self) -> str | None:
        """The one line when the default backend is certainly missing (a cheap check, no device opened)."""
        return None if self.camera_factory is not None else backend_problem()

    def start_camera(self, fps: float = 30.0) -> None:
        """Open on the next frame; `fps` is what the camera announces (frames are sent as they come)."""
        self.fps = min(60.0, max(5.0, float(fps)))
        self.active = True

    def stop_camera(self) -> None:
        self.active = False
        self._slot.clear()

    def submit(self, frame: ProcessedFrame) -> None:
        """Called on the inference thread for every processed frame; cheap when the camera is off."""
        if self.active:
            self._slot.put((frame, self.side_by_side))

    @property
    def dropped(self) -> int:
        """Frames replaced in the mailbox before the camera took them."""
        return self._slot.dropped

    def stop(self) -> None:
        """Close the camera and end the thread."""
        self.active = False
        self._stop.set()
        self._slot.close()

    # -- the thread ----------------------------------------------------------------------
    def run(self) -> None:
        try:
            while not self._stop.is_set():
                item = self._slot.take(timeout=0.1)
                if not self.active:
                    self._close()
                    continue
                if item is not None:
                    self._send(*item)
        finally:
            self._close()

    def _send(self, frame: ProcessedFrame, side_by_side: bool) -> None:
        image = camera_image(frame, side_by_side)
        size = (image.shape[1], image.shape[0])
        try:
            if self._camera is not None and size != self._size:
                self._close()  # compare mode or source size changed: reopen at the new size
            if self._camera is None:
                self._camera = (self.camera_factory or open_pyvirtualcam)(size[0], size[1], self.fps)
                self._size = size
                self.device = str(self._camera.device)
                self.camera_started.emit(f"{self.device} ({size[0]}x{size[1]})")
            self._camera.send(image)
            self.frames_sent += 1
        except CameraUnavailable as err:
            self._fail(str(err))
        except (RuntimeError, ValueError, OSError) as err:  # the device went away mid-stream
            name = f" {self.device}" if self.device else ""
            self._fail(f"virtual camera{name} stopped: {err}")

    def _fail(self, message: str) -> None:
        self.active = False
        self._close(quiet=True)
        self.camera_failed.emit(message)

    def _close(self, quiet: bool = False) -> None:
        """Close the camera if open (idempotent)."""
        camera, self._camera, self._size, self.device = self._camera, None, None, ""
        if camera is None:
            return
        with contextlib.suppress(RuntimeError, OSError):  # a device already gone has nothing to release
            camera.close()
        if not quiet:
            self.camera_stopped.emit()
