"""The real recording thread on real frames whose capture times collide: the file decodes back with
strictly increasing timestamps, even counted in frames of its own rate (as ffmpeg counts them)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import av
import numpy as np
import pytest

from app.frames import ProcessedFrame
from app.workers.recording import RecordingWorker, recording_rate
from models.video_io import FrameClock, VideoReader
from tests.app.conftest import FRAME_TIMEOUT_MS
from tests.conftest import shared_path
from tests.models.test_video_io import assert_timestamps_increase


def test_recording_rate_is_30_unless_clearly_faster() -> None:
    assert [recording_rate(f) for f in (8.0, 29.6, 31.0, 45.0, 60.0, 120.0)] == [30, 30, 30, 60, 60, 60]


@pytest.mark.shared_data
def test_recording_with_colliding_capture_times_decodes_strictly_increasing(qtbot, tmp_path: Path) -> None:
    with VideoReader(shared_path("videos", "sister.mkv")) as reader:
        images = [image for image, _ in itertools.islice(reader.frames(), 75)]
    # capture times as a busy machine gives them: 30 fps with jitter, a frame 10 ms after the one
    # before, one capture time repeated, and a burst of three
    rng = np.random.default_rng(3)
    times = np.arange(len(images)) / 30 + rng.uniform(-0.014, 0.014, len(images))
    times[20] = times[19] + 0.010
    times[40] = times[39]
    times[60], times[61] = times[59] + 0.001, times[59] + 0.002
    times = np.maximum.accumulate(times)
    assert len({round((t - times[0]) * 30) for t in times}) < len(times) - 3  # collide on a 1/30 s grid
    clock = FrameClock(30)
    expected = sum(clock.place(float(t - times[0])) is not None for t in times)

    worker = RecordingWorker()
    worker.start()
    target = tmp_path / "rec.mp4"
    try:
        with qtbot.waitSignal(worker.recording_started, timeout=FRAME_TIMEOUT_MS):
            worker.start_recording(target, fps_hint=30.0)
            base = time.perf_counter()
            for seq, (image, t) in enumerate(zip(images, times, strict=True)):
                worker.submit(ProcessedFrame(image, image, seq, base + t, base + t, 0.0, "test"))
                deadline = time.perf_counter() + 10
                while worker._pending_frames and time.perf_counter() < deadline:  # never drop for a slow encoder
                    time.sleep(0.002)
        with qtbot.waitSignal(worker.recording_finished, timeout=FRAME_TIMEOUT_MS) as finished:
            worker.stop_recording()
    finally:
        worker.stop()
        worker.wait(10_000)
    path, frames, seconds = finished.args
    assert Path(path) == target and frames == expected >= len(images) - 5  # the burst and what follows it
    assert worker.dropped == len(images) - expected

    pts = assert_timestamps_increase(target, frames)
    with av.open(str(target)) as container:
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    # real time kept: the length and the last frame's place follow the capture times
    assert float(pts[-1] - pts[0]) == pytest.approx(times[-1] - times[0], abs=1.5 / 30)
    assert seconds == pytest.approx(float(pts[-1] - pts[0]) + 1 / 30, abs=1e-6)
    # and the pictures are the clip's, in order (H.264 at crf 20: close, not equal)
    assert np.abs(decoded[-1].astype(int) - images[-1].astype(int)).mean() < 6
