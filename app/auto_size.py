"""The "Auto" processing size: the largest size on a ladder that holds the source's frame rate on
this machine, chosen at start by timing the style and kept right while it runs (plain Python, no
Qt, so the policy is tested on its own).

- At start, `calibrate` times the current style's engine at the ladder's sizes, smallest first,
  on a frame of the source's shape, and picks the largest whose frame time fits `up_share` of
  the budget (so the running policy does not step down again at once).
- While it runs, `AutoSize.observe` sees every stylized frame: its engine time, and its sequence
  number and capture time, from which it measures how many captured frames inference skipped
  (newest frame wins). `note_capture` (every frame taken, stylized or not, so it is known before
  the first style is timed) measures the source's frame interval. The budget is `budget_share` of the
  frame interval: the rest of the frame's time on a 2-core CPU goes to capture (decoding),
  the display and the detail step beside inference.
- Hysteresis, so it does not oscillate: it steps down when the window's median frame time is
  over the budget or more than `drop_limit` of the frames were skipped, but steps up only when
  the next size's predicted time (the median scaled by the pixel count) fits `up_share` of the
  budget with almost no drops; a size must be held `dwell_s` before the next change, and a
  size stepped down from is not tried again for `ban_s` (twice as long each time it fails).
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

AUTO_SIZE = -1  # the settings value (and `Controller.set_size` argument) meaning "Auto"
# The model a style runs (app/workers/inference.py, StyleLoader): its own, its fast twin, or "auto":
# the twin when the full model's calibrated size is below FAST_BELOW (a laptop CPU).
MODELS = ("auto", "full", "fast")
FAST_BELOW = 360
LADDER = (256, 288, 320, 360, 384, 432, 480, 540, 576, 720)  # processing short sides


@dataclass(frozen=True)
class AutoSizeConfig:
    ladder: tuple[int, ...] = LADDER
    budget_share: float = 0.8  # of the source's frame interval that one frame's engine time may use
    up_share: float = 0.8  # of the budget the next size must fit (predicted) to step up
    drop_limit: float = 0.1  # skipped share of captured frames over the window that means overload
    window_s: float = 2.0  # the frames a decision looks at
    min_frames: int = 20  # (or 3 spread over most of the window, when frames are that slow)
    dwell_s: float = 3.0  # at least this long at a size before the next change
    ban_s: float = 20.0  # a size stepped down from waits this long before it is tried again
    pending_s: float = 15.0  # a requested size not in use after this long is given up on
    default_fps: float = 30.0  # until the source's rate is measured


def ladder_for(short_side: int, ladder: tuple[int, ...] = LADDER) -> tuple[int, ...]:
    """The ladder's sizes up to the source's own short side (larger would only upscale it)."""
    sizes = tuple(s for s in ladder if s <= short_side)
    return sizes or ladder[:1]


def calibrate(
    time_at: Callable[[int], float], sizes: tuple[int, ...], budget_ms: float
) -> tuple[int, dict[int, float]]:
    """Time `time_at(size)` (ms per frame) from the smallest size up, stopping at the first that
    does not fit `budget_ms`; returns the largest that fits (else the smallest) and the timings."""
    timings: dict[int, float] = {}
    for size in sizes:
        timings[size] = time_at(size)
        if timings[size] > budget_ms:
            break
    fitting = [s for s, ms in timings.items() if ms <= budget_ms]
    return (max(fitting) if fitting else sizes[0]), timings


@dataclass
class _Sample:
    at: float
    frame_ms: float
    seq: int
    captured_at: float


@dataclass
class AutoSize:
    """The running policy; `observe` is called by the inference thread for every stylized frame."""

    config: AutoSizeConfig = field(default_factory=AutoSizeConfig)
    sizes: tuple[int, ...] = LADDER  # the ladder for the current source (`ladder_for`)
    size: int | None = None  # the size the samples were measured at
    changes: int = 0
    _samples: deque[_Sample] = field(default_factory=deque)
    _since: float = 0.0  # when `size` took effect (or the last hold ended)
    _pending: tuple[int, float] | None = None  # (size asked for, when)
    _banned: dict[int, tuple[float, float]] = field(default_factory=dict)  # size -> (until, ban length)
    _marks: deque[tuple[int, float]] = field(default_factory=deque)  # (seq, captured_at) of frames taken
    interval_s: float = 0.0  # the source's frame interval as measured (0 = not yet)

    def budget_ms(self) -> float:
        interval = self.interval_s or 1.0 / self.config.default_fps
        return self.config.budget_share * interval * 1000.0

    def start_budget_ms(self) -> float:
        """What a size must fit at start (`calibrate`): the same bar as stepping up."""
        return self.config.up_share * self.budget_ms()

    def set_source(self, short_side: int) -> None:
        self.sizes = ladder_for(short_side, self.config.ladder)

    def note_capture(self, seq: int, captured_at: float) -> None:
        """A frame the inference thread took: measures the source's frame interval over the
        last `window_s` of capture times (seq counts every captured frame, skipped ones too)."""
        marks = self._marks
        if marks and (seq <= marks[-1][0] or captured_at <= marks[-1][1]):
            marks.clear()  # numbering or clock started again
        marks.append((seq, captured_at))
        while captured_at - marks[0][1] > self.config.window_s:
            marks.popleft()
        if len(marks) >= 2:
            (seq0, at0), (seq1, at1) = marks[0], marks[-1]
            self.interval_s = (at1 - at0) / (seq1 - seq0)

    def hold(self, now: float) -> None:
        """Something else loads the CPU (styles being prepared): these frames say nothing about
        the size; start the window and the dwell time again afterwards."""
        self._samples.clear()
        self._since = now

    def observe(self, now: float, size: int | None, frame_ms: float, seq: int, captured_at: float) -> int | None:
        """Record one stylized frame; returns a size to switch to, or None to stay."""
        cfg = self.config
        self.note_capture(seq, captured_at)
        if size != self.size:  # a new size is in use: its frames start a new window
            self.size, self._pending = size, None
            self.hold(now)
        if self._pending is not None:
            if now - self._pending[1] < cfg.pending_s:
                return None
            self._pending = None  # the switch never came (a build failed): decide again
        samples = self._samples
        samples.append(_Sample(now, frame_ms, seq, captured_at))
        while samples and now - samples[0].at > cfg.window_s:
            samples.popleft()
        first, last = samples[0], samples[-1]
        # enough frames, or few slow ones over most of the window (frames 10x over the budget
        # must not need 20 of them)
        if len(samples) < cfg.min_frames and (len(samples) < 3 or last.at - first.at < 0.75 * cfg.window_s):
            return None
        span = last.seq - first.seq
        if span <= 0 or last.captured_at <= first.captured_at:
            return None  # a new source restarted the numbering
        if size is None or now - self._since < cfg.dwell_s:
            return None
        skipped = (span - (len(samples) - 1)) / span
        median_ms = statistics.median(s.frame_ms for s in samples)
        budget = self.budget_ms()
        wanted = None
        if median_ms > budget or skipped > cfg.drop_limit:
            wanted = self._step_down(size, median_ms, budget, now)
        elif skipped <= cfg.drop_limit / 2:
            wanted = self._step_up(size, median_ms, budget, now)
        if wanted is not None and wanted != size:
            self._pending = (wanted, now)
            self.changes += 1
            return wanted
        return None

    def _step_down(self, size: int, median_ms: float, budget: float, now: float) -> int | None:
        smaller = [s for s in self.sizes if s < size]
        if not smaller:
            return None
        length = self._banned.get(size, (0.0, self.config.ban_s / 2))[1]
        self._banned[size] = (now + 2 * length, 2 * length)  # failed again: wait twice as long
        # as far down as the measured time says, at least one step (drops alone: one step)
        fits = [s for s in smaller if median_ms * (s / size) ** 2 <= budget * self.config.up_share]
        return max(fits) if fits else min(smaller)

    def _step_up(self, size: int, median_ms: float, budget: float, now: float) -> int | None:
        larger = [s for s in self.sizes if s > size]
        if not larger:
            return None
        step = larger[0]
        if now < self._banned.get(step, (0.0, 0.0))[0]:
            return None
        if median_ms * (step / size) ** 2 > budget * self.config.up_share:
            return None
        return step
