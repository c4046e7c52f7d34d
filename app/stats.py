"""Rolling numbers for the HUD and the benchmarks: display fps, inference ms and
capture-to-display latency over the last few seconds (plain Python, no Qt)."""

from __future__ import annotations

from collections import deque

import numpy as np


class RollingStats:
    """Records one sample per displayed frame; keeps the last `window_s` seconds."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._shown: deque[tuple[float, float, float]] = deque()  # (shown_at, latency_ms, inference_ms)

    def add(self, shown_at: float, captured_at: float, inference_ms: float) -> None:
        self._shown.append((shown_at, (shown_at - captured_at) * 1000.0, inference_ms))
        while self._shown and shown_at - self._shown[0][0] > self.window_s:
            self._shown.popleft()

    @property
    def fps(self) -> float:
        if len(self._shown) < 2:
            return 0.0
        span = self._shown[-1][0] - self._shown[0][0]
        return (len(self._shown) - 1) / span if span > 0 else 0.0

    def median(self, column: int) -> float:
        values = [s[column] for s in self._shown]
        return float(np.median(values)) if values else 0.0

    @property
    def latency_ms(self) -> float:
        return self.median(1)

    @property
    def inference_ms(self) -> float:
        return self.median(2)
