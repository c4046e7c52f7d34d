"""The inference thread and its style loader.

The inference thread takes the newest captured frame, runs the engine, and publishes the result
in a one-slot output mailbox (the GUI draws the newest result; the recorder gets every result it
can keep up with). Styles are loaded and warmed up on a separate loader thread and swapped into
the engine atomically, so the view keeps moving while a large style loads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QThread, Signal

from app.frames import CapturedFrame, LatestSlot, ProcessedFrame
from models.engine import InferenceEngine
from models.errors import StyleCamError
from models.frames import processing_shape
from models.style_library import StyleLibrary


class InferenceWorker(QThread):
    """mailbox -> engine.process -> output slot (+ an optional sink such as the recorder)."""

    frame_ready = Signal()  # a ProcessedFrame waits in `output`; emitted only when the slot was empty
    failed = Signal(str)

    def __init__(
        self,
        engine: InferenceEngine,
        mailbox: LatestSlot[CapturedFrame],
        output: LatestSlot[ProcessedFrame],
        sink: Callable[[ProcessedFrame], None] | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("inference")
        self.engine, self.mailbox, self.output, self.sink = engine, mailbox, output, sink
        self.last_shape: tuple[int, int] = (480, 640)
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()
        self.mailbox.close()

    def run(self) -> None:
        while not self._stop.is_set():
            captured = self.mailbox.take(timeout=0.1)
            if captured is None:
                continue
            # the name is read before the frame: at a switch one frame may carry the old label
            style = self.engine.style_name
            try:
                stylized = self.engine.process(captured.image)
            except (StyleCamError, RuntimeError) as err:
                self.failed.emit(f"stylizing a frame failed ({err}); showing the original")
                stylized = captured.image
            self.last_shape = captured.image.shape[:2]
            frame = ProcessedFrame(
                original=captured.image,
                stylized=stylized,
                seq=captured.seq,
                captured_at=captured.captured_at,
                processed_at=time.perf_counter(),
                inference_ms=self.engine.last_inference_ms if self.engine.style_name else 0.0,
                style_name=style,
            )
            if self.sink is not None:
                self.sink(frame)
            if self.output.put(frame):
                self.frame_ready.emit()


class StyleLoader(QThread):
    """Loads (or imports) a style and hands it to the engine; newest request wins."""

    style_changed = Signal(str, str)  # name, display name
    style_failed = Signal(str, str)  # requested name, one-line reason
    style_imported = Signal(str)  # name of the newly imported style

    def __init__(
        self, engine: InferenceEngine, library: StyleLibrary, frame_shape: Callable[[], tuple[int, int]]
    ) -> None:
        super().__init__()
        self.setObjectName("style-loader")
        self.engine, self.library, self.frame_shape = engine, library, frame_shape
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._request: tuple[str, str | Path, str] | None = None

    def request_style(self, name_or_path: str) -> None:
        self._submit(("load", name_or_path, ""))

    def request_import(self, path: Path, name: str) -> None:
        self._submit(("import", Path(path), name))

    def _submit(self, request: tuple) -> None:
        with self._lock:
            self._request = request
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.2)
            self._wake.clear()
            with self._lock:
                request, self._request = self._request, None
            if request is None or self._stop.is_set():
                continue
            kind, target, name = request
            try:
                if kind == "import":
                    style = self.library.import_style(Path(target), name)
                    self.style_imported.emit(style.name)
                    target = style.name
                generator, style = self.library.load(target)
                h, w = self.frame_shape()
                # warm up at the shape the next frame will have, so the first styled frame is not slow
                self.engine.set_style(generator, style.name, processing_shape(h, w, self.engine.size))
            except StyleCamError as err:
                self.style_failed.emit(str(target), str(err))
            except (RuntimeError, ValueError, OSError) as err:  # a weights file that builds but does not fit
                self.style_failed.emit(str(target), f"style {target} cannot be used ({err})")
            else:
                self.style_changed.emit(style.name, style.display_name)
