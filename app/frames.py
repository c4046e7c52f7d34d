"""Frames as they travel between threads, and the one-slot "latest frame" mailbox.

A frame array is created once by its producer (the capture read, the engine's output) and never
written again after it is handed on, so crossing a thread needs no copy: the receiver owns a
reference to an immutable buffer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass(frozen=True)
class CapturedFrame:
    """A frame from the source: BGR uint8 HxWx3, C-contiguous, never modified after capture."""

    image: np.ndarray
    seq: int
    captured_at: float  # time.perf_counter() right after the source returned it
    stream: int = 0  # which opening of a source it came from: a new one starts a new stabilizer stream


@dataclass(frozen=True)
class ProcessedFrame:
    """What the view draws and the recorder encodes: the original and its stylized version."""

    original: np.ndarray
    stylized: np.ndarray
    seq: int
    captured_at: float
    processed_at: float
    inference_ms: float
    style_name: str
    size: int | None = None  # the processing size it was stylized at (short side; None = native)


class LatestSlot(Generic[T]):
    """A mailbox holding at most one item: `put` replaces an unread item (newest wins) and
    counts it as dropped, so a slow consumer never makes the producer queue up stale frames."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._closed = False
        self.dropped = 0
        self.delivered = 0

    def put(self, item: T) -> bool:
        """Store `item`; returns True if the slot was empty (the consumer needs a wake-up)."""
        with self._cond:
            was_empty = self._item is None
            if not was_empty:
                self.dropped += 1
            self._item = item
            self._cond.notify()
            return was_empty

    def take(self, timeout: float | None = 0.0) -> T | None:
        """The newest item, or None after `timeout` seconds (0 = don't wait) or once closed."""
        with self._cond:
            if self._item is None and not self._closed and timeout != 0.0:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            if item is not None:
                self.delivered += 1
            return item

    def close(self) -> None:
        """Wake any waiting consumer for good (used when stopping)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._item = None
