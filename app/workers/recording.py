"""The recording thread: encodes the stylized stream (optionally side by side with the original)
to fragmented H.264 MP4 and writes PNG snapshots, so no encoder or disk call ever runs on the
GUI thread.

Timestamps are real elapsed capture time, so a 10 s recording plays 10 s even at 8 fps, put on a
30 (or 60) fps grid with every frame at least one slot after the one before (`FrameClock`).
Fragmented MP4 keeps everything up to the last fragment playable after a crash or a full disk.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QThread, Signal

from app.frames import ProcessedFrame
from models.errors import MediaError, StyleCamError
from models.video_io import FrameClock, H264Writer

MAX_PENDING_FRAMES = 8  # ~0.3 s at 30 fps absorbs encoder jitter; beyond that, frames are dropped


def recording_rate(fps_hint: float) -> int:
    """The frame grid of a recording: 30 fps, or 60 when frames come clearly faster than 30
    (the hint is the measured display rate, a little noisy)."""
    return 60 if fps_hint > 33 else 30


def compose(frame: ProcessedFrame, side_by_side: bool) -> np.ndarray:
    """The picture to record or snapshot: stylized, or original | stylized."""
    if not side_by_side:
        return frame.stylized
    return np.hstack([frame.original, frame.stylized])


class RecordingWorker(QThread):
    """Commands (start, frame, stop, snapshot) go through one short queue; only frames are ever
    dropped when the encoder falls behind, commands never are."""

    recording_started = Signal(str)  # path
    recording_finished = Signal(str, int, float)  # path, frames written, seconds of video
    recording_failed = Signal(str)  # one-line reason; the part already written stays playable
    snapshot_saved = Signal(str)
    snapshot_failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("recording")
        self._cond = threading.Condition()
        self._queue: deque[tuple] = deque()
        self._pending_frames = 0
        self._stop = False
        self.recording = False  # set on the caller's thread, so frames submitted right after start count
        self.side_by_side = False
        self.dropped = 0
        self.started_at = 0.0  # perf_counter when recording was requested (for the elapsed display)
        self._writer: H264Writer | None = None
        self._path: Path | None = None
        self._fps = 30.0
        self._t0: float | None = None
        self._clock: FrameClock | None = None

    # -- called from other threads --------------------------------------------------------
    def start_recording(self, path: Path, fps_hint: float = 30.0) -> None:
        self.recording = True
        self.started_at = time.perf_counter()
        self._put(("start", Path(path), fps_hint))

    def stop_recording(self) -> None:
        if self.recording:
            self.recording = False
            self._put(("stop",))

    def submit(self, frame: ProcessedFrame) -> None:
        """Called on the inference thread for every processed frame; cheap when not recording."""
        if not self.recording:
            return
        with self._cond:
            if self._pending_frames >= MAX_PENDING_FRAMES:
                self.dropped += 1
                return
            self._pending_frames += 1
            self._queue.append(("frame", frame, self.side_by_side))
            self._cond.notify()

    def snapshot(self, path: Path, image: np.ndarray) -> None:
        self._put(("snapshot", Path(path), image))

    def stop(self) -> None:
        """Finish any recording, then end the thread."""
        self.stop_recording()
        with self._cond:
            self._stop = True
            self._cond.notify()

    def _put(self, command: tuple) -> None:
        with self._cond:
            self._queue.append(command)
            self._cond.notify()

    # -- the thread ----------------------------------------------------------------------
    def run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._stop:
                        self._cond.wait()
                    if not self._queue:
                        return  # stopped and drained
                    command = self._queue.popleft()
                    if command[0] == "frame":
                        self._pending_frames -= 1
                self._handle(command)
        finally:
            self._finish()

    def _handle(self, command: tuple) -> None:
        kind = command[0]
        if kind == "start":
            self._finish()
            _, self._path, self._fps = command
            self._t0, self._clock = None, None
        elif kind == "frame":
            self._encode(command[1], command[2])
        elif kind == "stop":
            self._finish()
        elif kind == "snapshot":
            _, path, image = command
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                if not cv2.imwrite(str(path), image):
                    raise OSError("the encoder refused it")
            except (OSError, cv2.error) as err:
                self.snapshot_failed.emit(f"snapshot {path} could not be written ({err})")
            else:
                self.snapshot_saved.emit(str(path))

    def _encode(self, frame: ProcessedFrame, side_by_side: bool) -> None:
        if self._path is None:
            return  # a frame after a failure or a stop: nothing to write into
        image = compose(frame, side_by_side)
        try:
            if self._writer is None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                self._clock = FrameClock(recording_rate(self._fps))
                self._writer = H264Writer(self._path, image.shape[1], image.shape[0], self._clock.fps, fragmented=True)
                self._t0 = frame.captured_at
                self.recording_started.emit(str(self._path))
            writer = self._writer
            if image.shape[0] != writer.height or image.shape[1] != writer.width:
                # compare mode or source size changed mid-recording: keep the file's size
                image = cv2.resize(image, (writer.width, writer.height), interpolation=cv2.INTER_AREA)
            seconds = self._clock.place(frame.captured_at - self._t0)
            if seconds is None:  # faster than the grid: dropped rather than drifting ahead of real time
                with self._cond:
                    self.dropped += 1
                return
            writer.write(image, seconds)
        except (StyleCamError, OSError) as err:
            path = self._path
            self._finish(failed=True)
            self.recording = False
            self.recording_failed.emit(f"recording to {path} stopped: {err}")

    def _finish(self, failed: bool = False) -> None:
        """Flush and close the current file (idempotent); the file is complete afterwards."""
        writer, path, self._writer, self._path = self._writer, self._path, None, None
        if writer is None:
            if path is not None:  # stopped before any frame arrived: no file was created
                self.recording_finished.emit(str(path), 0, 0.0)
            return
        try:
            writer.close()
        except MediaError as err:
            if not failed:
                self.recording_failed.emit(f"finishing {path} failed: {err}")
            return
        frames = writer.frames_written
        seconds = self._clock.end if frames and self._clock is not None else 0.0
        self.recording_finished.emit(str(path), frames, seconds)
