"""Recording timestamps: irregular capture times go onto a frame grid, strictly increasing, and stay
with real time; a file written that way decodes back with distinct ticks at its own frame rate."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import numpy as np
import pytest

from models.video_io import FrameClock, H264Writer


def assert_timestamps_increase(path: Path, frames: int) -> list:
    """Decode `path` and check its `frames` video frames have strictly increasing dts and pts, and
    that no two share a tick at 30 fps or at the rate the demuxer guesses (what `ffmpeg -i REC -f
    null -` retimes to: where "non monotonically increasing dts" came from); returns the pts in s."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        dts = [p.dts for p in container.demux(stream) if p.dts is not None]
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.guessed_rate  # av_guess_frame_rate: the rate ffmpeg retimes a stream to
        pts = [f.pts * f.time_base for f in container.decode(stream)]
    assert len(dts) == len(pts) == frames
    assert all(b > a for a, b in itertools.pairwise(dts))
    assert all(b > a for a, b in itertools.pairwise(pts))
    for fps in (30, rate):
        ticks = [round(p * fps) for p in pts]
        assert all(b > a for a, b in itertools.pairwise(ticks)), (fps, ticks)
    return pts


def placed(clock: FrameClock, times: list[float] | np.ndarray) -> list[float | None]:
    return [clock.place(float(t)) for t in times]


def test_colliding_times_get_the_next_slot_and_a_burst_is_dropped() -> None:
    # 10 ms apart (one tick at 30 fps), then two frames 0.1 ms apart, then back on time
    out = placed(FrameClock(30), [0.0, 0.010, 0.0334, 0.0335, 0.100])
    assert out == pytest.approx([0.0, 1 / 30, 2 / 30, None, 3 / 30])


def test_exact_repeats_still_strictly_increase() -> None:
    out = placed(FrameClock(30), [0.0, 0.5, 0.5, 0.6])
    assert out == pytest.approx([0.0, 0.5, 0.5 + 1 / 30, 0.6])


def test_jittery_30fps_for_a_minute_never_drifts() -> None:
    rng = np.random.default_rng(0)
    times = np.maximum.accumulate(np.arange(1800) / 30 + rng.uniform(-0.015, 0.015, 1800))
    times -= times[0]
    clock = FrameClock(30)
    out = placed(clock, times)
    kept = [(t, s) for t, s in zip(times, out, strict=True) if s is not None]
    stamps = [s for _, s in kept]
    assert all(b > a for a, b in itertools.pairwise(stamps))
    assert all(abs(s - t) <= 1.5 / 30 + 1e-9 for t, s in kept)  # at most 1.5 frames from real time
    assert len(kept) >= 0.97 * len(times)  # jitter alone drops almost nothing
    assert clock.end == pytest.approx(times[-1], abs=2.5 / 30)


def test_frames_faster_than_the_grid_are_dropped_not_drifted() -> None:
    times = np.arange(450) / 45  # 10 s at 45 fps onto a 30 fps grid
    out = placed(FrameClock(30), times)
    kept = [(t, s) for t, s in zip(times, out, strict=True) if s is not None]
    assert len(kept) == pytest.approx(300, abs=2)
    assert max(s - t for t, s in kept) <= 1.5 / 30 + 1e-9


def test_written_file_has_distinct_ticks_at_its_own_rate(tmp_path: Path) -> None:
    """The writer + clock as the recorder uses them: demuxed dts and pts strictly increase, and
    counted in frames of the file's own rate (how ffmpeg retimes it) no two frames share a tick."""
    rng = np.random.default_rng(1)
    times = np.maximum.accumulate(np.arange(90) / 30 + rng.uniform(-0.014, 0.014, 90))
    times[30] = times[29]  # a repeated capture time
    times[60] = times[59] + 0.01  # two frames 10 ms apart
    times -= times[0]
    assert len({round(t * 30) for t in times}) < len(times)  # they would collide at 1/30 s unplaced
    clock = FrameClock(30)
    path = tmp_path / "rec.mp4"
    with H264Writer(path, 64, 48, clock.fps, fragmented=True) as writer:
        for t in times:
            seconds = clock.place(float(t))
            if seconds is not None:
                writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), seconds)
        written = writer.frames_written
    assert written >= 88
    pts = assert_timestamps_increase(path, written)
    # fragmented MP4 has no edit list: every pts carries the B-frame delay, so compare from the first
    assert float(pts[-1] - pts[0]) == pytest.approx(times[-1], abs=1.5 / 30)
