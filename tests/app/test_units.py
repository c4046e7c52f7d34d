"""Fast checks of the app's plain-Python parts: the mailbox, sources, settings, the display check."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app.frames import LatestSlot
from app.launch import display_problem, run_app
from app.sources import DemoSource, ImageSource, open_source
from models.errors import MediaError


def test_mailbox_newest_wins_and_counts_drops() -> None:
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is True  # empty: the consumer needs a wake-up
    assert slot.put(2) is False
    assert slot.put(3) is False
    assert slot.take() == 3
    assert slot.dropped == 2
    assert slot.take(timeout=0.01) is None


def test_mailbox_close_wakes_a_waiting_consumer() -> None:
    slot: LatestSlot[int] = LatestSlot()
    result = []
    consumer = threading.Thread(target=lambda: result.append(slot.take(timeout=5.0)))
    consumer.start()
    time.sleep(0.05)
    start = time.perf_counter()
    slot.close()
    consumer.join(1.0)
    assert result == [None] and time.perf_counter() - start < 0.5


def test_demo_source_makes_new_moving_frames() -> None:
    source, stop = DemoSource(320, 240, fps=60), threading.Event()
    a, b = source.read(stop), source.read(stop)
    assert a.shape == (240, 320, 3) and a.dtype == np.uint8 and a.flags.c_contiguous
    assert a is not b


def test_video_file_plays_at_native_rate_and_loops(clip: Path) -> None:
    source, stop = open_source(str(clip)), threading.Event()
    assert source.kind == "video" and source.fps == pytest.approx(30, abs=0.1)
    start = time.perf_counter()
    for _ in range(16):
        source.read(stop)
    # 15 frame periods at 30 fps: paced, not decoded as fast as possible
    assert time.perf_counter() - start == pytest.approx(0.5, abs=0.2)
    source.close()


def test_image_source_repeats_the_image(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "still.png"
    cv2.imwrite(str(path), np.full((90, 120, 3), 77, np.uint8))
    source = open_source(str(path))
    assert source.kind == "image"
    frame = source.read(threading.Event())
    assert frame.shape == (90, 120, 3) and frame[0, 0, 0] == 77


def test_bad_sources_have_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not a camera index"):
        open_source(str(tmp_path / "missing.mp4"))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(MediaError, match="cannot be read"):
        ImageSource(broken)


def test_no_display_gives_one_line_error(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "QT_QPA_PLATFORM=offscreen" in display_problem({}, "linux")
    assert display_problem({"QT_QPA_PLATFORM": "xcb"}, "linux") is not None
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert run_app(None) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "stylize" in err


def test_qt_binding_keeps_none_and_bool_references(qapp) -> None:
    """PySide6 6.12.0 on CPython 3.11 dropped a reference to None (and True/False) on every void
    or bool call, so a painting window aborted with `none_dealloc` after minutes; requirements.txt
    pins a version without the bug, and this catches a regression."""
    import sys

    from PySide6.QtWidgets import QLabel

    label = QLabel()
    before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(20_000):
        label.update()
        label.setText("x")
        label.isVisible()
    after = sys.getrefcount(None), sys.getrefcount(True)
    assert after[0] >= before[0] - 100 and after[1] >= before[1] - 100, (before, after)
