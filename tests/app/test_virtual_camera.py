"""The virtual camera.

No virtual camera device exists on the test machine (no v4l2loopback module, no OBS), so the
worker is tested with a fake camera class injected through its `camera_factory` parameter: a
small class that records what it is sent (RGB order, even size, newest frame wins, reopen on a
new size, clean stop and join). The real window is driven with a real clip twice: once with the
real backend, which is missing here (the toggle stays off, the status bar says what to install,
frames keep flowing, also with `--virtual-camera`), and once with the fake camera plugged into
its worker (frames reach it, side-by-side reopens it at double width, closing closes it).
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.frames import ProcessedFrame
from app.workers.virtual_camera import (
    LINUX_HINT,
    CameraUnavailable,
    VirtualCameraWorker,
    backend_problem,
    install_hint,
    unavailable_message,
)
from tests.app.conftest import FRAME_TIMEOUT_MS, wait_frames, wait_style

MODPROBE = "sudo modprobe v4l2loopback devices=1 exclusive_caps=1"
NO_V4L2LOOPBACK = not Path("/sys/module/v4l2loopback").exists()


class FakeCamera:
    """Stands in for pyvirtualcam.Camera: records frames; `gate` (if given) holds each send."""

    opened: ClassVar[list[FakeCamera]] = []

    def __init__(self, width: int, height: int, fps: float, gate: threading.Event | None = None) -> None:
        self.width, self.height, self.fps, self.gate = width, height, fps, gate
        self.device = f"/dev/video-fake{len(FakeCamera.opened)}"
        self.frames: list[np.ndarray] = []
        self.closed = False
        self.sending = threading.Event()
        self.send_thread: str | None = None
        FakeCamera.opened.append(self)

    def send(self, frame: np.ndarray) -> None:
        assert not self.closed
        assert frame.shape == (self.height, self.width, 3) and frame.dtype == np.uint8
        self.send_thread = threading.current_thread().name
        self.sending.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        self.frames.append(frame)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def cameras() -> list[FakeCamera]:
    FakeCamera.opened = []
    return FakeCamera.opened


def processed(seq: int, h: int = 480, w: int = 640) -> ProcessedFrame:
    """A frame whose stylized picture has a different value in each BGR channel, and `seq` in it."""
    stylized = np.zeros((h, w, 3), np.uint8)
    stylized[..., 0], stylized[..., 1], stylized[..., 2] = 10, 100, 200  # B, G, R
    stylized[0, 0, 0] = seq % 256
    original = np.full((h, w, 3), 50, np.uint8)
    now = time.perf_counter()
    return ProcessedFrame(original, stylized, seq, now, now, 1.0, "test")


@pytest.fixture
def worker(qtbot):
    workers = []

    def make(factory) -> VirtualCameraWorker:
        w = VirtualCameraWorker(camera_factory=factory)
        w.start()
        workers.append(w)
        return w

    yield make
    for w in workers:
        w.stop()
        assert w.wait(5000)


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        assert time.perf_counter() < deadline, "timed out"
        time.sleep(0.005)


# -- the worker, with a fake camera ---------------------------------------------------------------


def test_frames_go_out_rgb_at_an_even_size_on_the_worker_thread(qtbot, worker, cameras) -> None:
    w = worker(FakeCamera)
    assert w.problem() is None  # an injected camera needs no backend
    w.submit(processed(0))
    assert not cameras  # off: submit is a no-op
    with qtbot.waitSignal(w.camera_started, timeout=5000) as started:
        w.start_camera(fps=24.0)
        w.submit(processed(1, h=481, w=641))  # odd size: cropped by one row and one column
    (camera,) = cameras
    assert started.args == [f"{camera.device} (640x480)"]
    assert (camera.width, camera.height, camera.fps) == (640, 480, 24.0)
    wait_for(lambda: camera.frames)
    frame = camera.frames[0]
    assert frame.shape == (480, 640, 3) and frame.flags["C_CONTIGUOUS"]
    assert tuple(frame[5, 5]) == (200, 100, 10)  # R, G, B: the BGR picture turned around
    assert camera.send_thread != threading.current_thread().name


def test_side_by_side_and_a_new_size_reopen_the_camera(qtbot, worker, cameras) -> None:
    w = worker(FakeCamera)
    w.start_camera()
    w.submit(processed(0))
    wait_for(lambda: cameras and cameras[0].frames)
    w.side_by_side = True
    with qtbot.waitSignal(w.camera_started, timeout=5000) as started:
        w.submit(processed(1))
    assert cameras[0].closed and (cameras[1].width, cameras[1].height) == (1280, 480)
    assert started.args == [f"{cameras[1].device} (1280x480)"]
    wait_for(lambda: cameras[1].frames)
    left, right = cameras[1].frames[0][:, :640], cameras[1].frames[0][:, 640:]
    assert (left == 50).all() and tuple(right[5, 5]) == (200, 100, 10)  # original | stylized
    w.side_by_side = False
    w.submit(processed(2, h=240, w=320))
    wait_for(lambda: len(cameras) == 3 and cameras[2].frames)
    assert cameras[1].closed and (cameras[2].width, cameras[2].height) == (320, 240)


def test_newest_frame_wins_while_the_camera_is_busy(worker, cameras) -> None:
    gate = threading.Event()
    w = worker(lambda width, height, fps: FakeCamera(width, height, fps, gate))
    w.start_camera()
    w.submit(processed(0))
    wait_for(lambda: cameras and cameras[0].sending.is_set())  # the worker is stuck in send(0)
    started = time.perf_counter()
    for seq in range(1, 11):
        w.submit(processed(seq))  # never blocks the caller (the inference thread)
    assert time.perf_counter() - started < 0.5
    gate.set()
    wait_for(lambda: len(cameras[0].frames) == 2)
    time.sleep(0.2)
    seqs = [int(f[0, 0, 2]) for f in cameras[0].frames]  # the seq sits in B, which is channel 2 in RGB
    assert seqs == [0, 10]  # the one in flight, then the newest; 1..9 were replaced unsent
    assert w.dropped == 9


def test_stop_closes_the_camera_and_joins(worker, cameras) -> None:
    w = worker(FakeCamera)
    w.start_camera()
    w.submit(processed(0))
    wait_for(lambda: cameras and cameras[0].frames)
    started = time.perf_counter()
    w.stop()
    assert w.wait(2000) and w.isFinished()
    assert time.perf_counter() - started < 1.0
    assert cameras[0].closed


def test_turning_off_closes_the_camera_and_on_opens_a_new_one(qtbot, worker, cameras) -> None:
    w = worker(FakeCamera)
    w.start_camera()
    w.submit(processed(0))
    wait_for(lambda: cameras and cameras[0].frames)
    with qtbot.waitSignal(w.camera_stopped, timeout=5000):
        w.stop_camera()
    assert cameras[0].closed
    w.submit(processed(1))
    time.sleep(0.2)
    assert len(cameras) == 1  # off: nothing opened
    w.start_camera()
    w.submit(processed(2))
    wait_for(lambda: len(cameras) == 2 and cameras[1].frames)


def test_no_backend_reports_one_line_and_the_worker_stays_usable(qtbot, worker, cameras) -> None:
    calls = []

    def missing(width: int, height: int, fps: float) -> FakeCamera:
        calls.append((width, height))
        if len(calls) == 1:
            raise CameraUnavailable(unavailable_message("no device", "linux"))
        return FakeCamera(width, height, fps)

    w = worker(missing)
    with qtbot.waitSignal(w.camera_failed, timeout=5000) as failed:
        w.start_camera()
        w.submit(processed(0))
    assert MODPROBE in failed.args[0] and "\n" not in failed.args[0]
    assert not w.active
    w.start_camera()  # e.g. after `modprobe`: the same thread opens it now
    w.submit(processed(1))
    wait_for(lambda: cameras and cameras[0].frames)


def test_a_device_lost_mid_stream_turns_the_camera_off(qtbot, worker, cameras) -> None:
    class Unplugged(FakeCamera):
        def send(self, frame: np.ndarray) -> None:
            raise RuntimeError("device disconnected")

    w = worker(Unplugged)
    with qtbot.waitSignal(w.camera_failed, timeout=5000) as failed:
        w.start_camera()
        w.submit(processed(0))
    assert failed.args[0] == f"virtual camera {cameras[0].device} stopped: device disconnected"
    assert cameras[0].closed and not w.active


# -- what the user is told --------------------------------------------------------------------------


def test_install_hints_name_the_command_or_program() -> None:
    assert MODPROBE in install_hint("linux") and "sudo apt install v4l2loopback-dkms" in install_hint("linux")
    assert "exclusive_caps=1" in LINUX_HINT and "browsers" in LINUX_HINT
    assert "OBS Studio" in install_hint("win32") and "Unity Capture" in install_hint("win32")
    assert "OBS Studio" in install_hint("darwin") and "virtual camera" in install_hint("darwin")


def test_backend_problem_checks_the_kernel_module_without_opening_a_device(tmp_path: Path) -> None:
    assert MODPROBE in backend_problem("linux", sys_module=tmp_path)
    (tmp_path / "v4l2loopback").mkdir()
    assert backend_problem("linux", sys_module=tmp_path) is None  # loaded: the worker opens it
    assert backend_problem("win32", sys_module=tmp_path / "nowhere") is None  # OBS: found out on open


# -- the real window --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not NO_V4L2LOOPBACK, reason="this machine has v4l2loopback: the backend is not missing")
def test_v_without_a_backend_stays_off_says_what_to_install_and_frames_flow(qtbot, make_window, styles, clip) -> None:
    window = make_window(str(clip))
    wait_style(qtbot, window, "alpha")
    wait_frames(qtbot, window, 3)
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_V)  # the shortcut, as a user presses it
    qtbot.waitUntil(lambda: MODPROBE in window.statusBar().currentMessage(), timeout=FRAME_TIMEOUT_MS)
    message = window.statusBar().currentMessage()
    assert "sudo apt install v4l2loopback-dkms" in message and "exclusive_caps=1" in message
    assert not window.act_virtual_camera.isChecked()
    assert not window.controller.virtual_camera_on
    assert window.virtual_camera_label.text() == "virtual camera: off (see the notice)"
    assert window.virtual_camera_label.toolTip() == message
    assert window.banner.isVisible() and window.banner.label.text() == message  # stays once the status bar moves on
    wait_frames(qtbot, window, 5)  # the app goes on
    assert not window.windowIcon().isNull() and not QApplication.windowIcon().isNull()
    assert window.controller.virtual_camera.isRunning()


@pytest.mark.slow
@pytest.mark.skipif(not NO_V4L2LOOPBACK, reason="this machine has v4l2loopback: the backend is not missing")
def test_command_line_virtual_camera_without_a_backend_prints_the_line(qtbot, styles, clip, tmp_path, capfd) -> None:
    from app.launch import create_window

    args = argparse.Namespace(source=str(clip), style=None, size=128, record=None, device="cpu", virtual_camera=True)
    window = create_window(args)
    qtbot.addWidget(window)
    window.show()
    try:
        assert not window.act_virtual_camera.isChecked()
        assert MODPROBE in window.statusBar().currentMessage()
        wait_frames(qtbot, window, 5)
    finally:
        window.close()
    err = capfd.readouterr().err
    assert "warning: No virtual camera" in err and MODPROBE in err and "Traceback" not in err


@pytest.mark.slow
def test_window_feeds_an_injected_camera_and_closing_closes_it(qtbot, make_window, styles, clip, cameras) -> None:
    window = make_window(str(clip))
    worker = window.controller.virtual_camera
    worker.camera_factory = FakeCamera  # no real device here: the fake stands in for pyvirtualcam
    wait_style(qtbot, window, "alpha")
    with qtbot.waitSignal(window.controller.virtual_camera_started, timeout=FRAME_TIMEOUT_MS):
        window.act_virtual_camera.trigger()
    assert window.act_virtual_camera.isChecked()
    wait_for(lambda: len(cameras[0].frames) >= 3, timeout=FRAME_TIMEOUT_MS / 1000)
    assert (cameras[0].width, cameras[0].height) == (640, 480)
    assert window.virtual_camera_label.text() == f"virtual camera: {cameras[0].device} (640x480)"
    window._update_readouts()
    assert window.virtual_camera_label.text() in window.view.hud_lines
    with qtbot.waitSignal(window.controller.virtual_camera_started, timeout=FRAME_TIMEOUT_MS):
        window.set_compare("side")  # the side-by-side view goes out: reopened at double width
    wait_for(lambda: len(cameras) == 2 and cameras[1].frames, timeout=FRAME_TIMEOUT_MS / 1000)
    assert (cameras[1].width, cameras[1].height) == (1280, 480) and cameras[0].closed
    wait_frames(qtbot, window, 3)
    window.close()
    assert worker.isFinished() and cameras[1].closed  # stopped, joined, camera closed on its thread
