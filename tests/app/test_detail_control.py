"""The Detail control in the real window: slider, D / Shift+D and F reach the engine in use, show
in the HUD, persist (the command line's values for one run only), and the recording carries the
detailed picture."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from models.detail import DEFAULT_DETAIL
from models.video_io import VideoReader
from tests.app.conftest import FRAME_TIMEOUT_MS, wait_frames, wait_style

pytestmark = pytest.mark.slow


def edge_correlation(a: np.ndarray, b: np.ndarray) -> float:
    def grad(x: np.ndarray) -> np.ndarray:
        y = cv2.cvtColor(x, cv2.COLOR_BGR2GRAY).astype(np.float32)
        return cv2.magnitude(cv2.Sobel(y, cv2.CV_32F, 1, 0), cv2.Sobel(y, cv2.CV_32F, 0, 1)).ravel()

    return float(np.corrcoef(grad(a), grad(b))[0, 1])


def hud(window) -> str:
    return " ".join(window.view.hud_lines)


def test_detail_keys_slider_and_faces_reach_the_engine_and_persist(qtbot, make_window, styles, clip) -> None:
    from PySide6.QtCore import Qt

    window = make_window(str(clip))
    wait_style(qtbot, window, "alpha")
    wait_frames(qtbot, window, 3)
    engine = window.controller.engine
    # the defaults: the measured Detail, face-aware mode on, both in use and on the HUD
    assert window.detail.value() == round(DEFAULT_DETAIL * 100) and window.act_faces.isChecked()
    assert engine.detail == pytest.approx(DEFAULT_DETAIL) and engine.faces
    qtbot.waitUntil(lambda: f"detail {DEFAULT_DETAIL:.2f} faces" in hud(window), timeout=2000)
    assert {window.act_more_detail, window.act_less_detail, window.act_faces} <= set(window.view_menu.actions())

    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_D)  # as a user presses it
    assert window.detail.value() == round(DEFAULT_DETAIL * 100) + 10
    wait_frames(qtbot, window, 3)
    assert window.controller.engine.detail == pytest.approx(DEFAULT_DETAIL + 0.1)
    qtbot.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(window, Qt.Key.Key_F)
    wait_frames(qtbot, window, 3)
    assert window.controller.engine.detail == pytest.approx(DEFAULT_DETAIL) and not window.controller.engine.faces
    qtbot.waitUntil(lambda: f"detail {DEFAULT_DETAIL:.2f} |" in hud(window), timeout=2000)

    # Detail 1 brings the frame's edges back; 0 is the soft plain resize of the 128-px picture
    # (an untrained test style: its edges follow the frame less than a real style's, see
    # tests/models/test_detail.py for the figure on a shipped one)
    sharpness = {}
    for value in (0, 100):
        window.detail.setValue(value)
        wait_frames(qtbot, window, 3)
        frame = window.view._frame
        sharpness[value] = edge_correlation(frame.original, frame.stylized)
    assert sharpness[100] > sharpness[0] + 0.15, sharpness
    window.detail.setValue(50)
    window.close()

    again = make_window(source=None, size=None)
    assert again.detail.value() == 50 and not again.act_faces.isChecked()
    again.close()
    once = make_window(source="demo", detail=0.9, faces=True)  # `--detail 0.9 --faces`: this run only
    assert once.detail.value() == 90 and once.act_faces.isChecked()
    once.close()
    last = make_window(source=None, size=None)
    assert last.detail.value() == 50 and not last.act_faces.isChecked()


def recorded_sharpness(qtbot, make_window, clip, path, detail: float) -> float:
    """Edge correlation of stylized to original in a side-by-side recording made at `detail`."""
    window = make_window(str(clip), detail=detail, record=path)
    window.act_record_sbs.setChecked(True)  # original | stylized in one file
    wait_style(qtbot, window, "alpha")
    wait_frames(qtbot, window, 15)
    with qtbot.waitSignal(window.controller.recording_finished, timeout=FRAME_TIMEOUT_MS):
        window.act_record.trigger()
    window.close()
    with VideoReader(path) as reader:
        frames = [f for f, _ in reader.frames() if f.shape[1] == 1280][-3:]
    assert frames, "no side-by-side frame in the recording"
    return float(np.mean([edge_correlation(f[:, :640], f[:, 640:]) for f in frames]))


def test_the_recording_carries_the_detailed_picture(qtbot, make_window, styles, clip, tmp_path) -> None:
    plain = recorded_sharpness(qtbot, make_window, clip, tmp_path / "plain.mp4", 0.0)
    detailed = recorded_sharpness(qtbot, make_window, clip, tmp_path / "detail.mp4", 1.0)
    assert detailed > plain + 0.15, (plain, detailed)


def virtual_camera_sharpness(qtbot, make_window, clip, detail: float) -> float:
    """Edge correlation of stylized to original in what the virtual camera is sent, side by side."""
    from tests.app.test_virtual_camera import FakeCamera

    FakeCamera.opened = []
    window = make_window(str(clip), detail=detail)
    window.controller.virtual_camera.camera_factory = FakeCamera  # no device here: the fake records
    window.set_compare("side")
    wait_style(qtbot, window, "alpha")
    with qtbot.waitSignal(window.controller.virtual_camera_started, timeout=FRAME_TIMEOUT_MS):
        window.act_virtual_camera.trigger()
    qtbot.waitUntil(lambda: len(FakeCamera.opened[-1].frames) >= 5, timeout=FRAME_TIMEOUT_MS)
    window.close()
    frames = [f for f in FakeCamera.opened[-1].frames if f.shape[1] == 1280][-3:]
    assert frames, "no side-by-side frame reached the virtual camera"
    return float(np.mean([edge_correlation(f[:, :640], f[:, 640:]) for f in frames]))  # RGB: the same edges


def test_the_virtual_camera_carries_the_detailed_picture(qtbot, make_window, styles, clip) -> None:
    plain = virtual_camera_sharpness(qtbot, make_window, clip, 0.0)
    detailed = virtual_camera_sharpness(qtbot, make_window, clip, 1.0)
    assert detailed > plain + 0.15, (plain, detailed)
