"""The inference thread and its style loader.

The inference thread takes the newest captured frame, runs the current engine, and publishes the
result in a one-slot output mailbox (the GUI draws the newest result; the recorder gets every
result it can keep up with).

Preparing a style is slow on the CPU (export + OpenVINO compile: 1-3 s), so each style gets its
own ready, warmed-up engine, built on the loader thread: after the first style, the loader
prepares the rest of the library in the background, and a switch to a prepared style is one
attribute assignment: it shows on the next frame. The view never waits for a load.

The processing size has one owner, the engine in use (`InferenceWorker.size` reads it). A size
change builds the current style's engine again at the new size from the generator the loader
already holds (read from disk once per style), swaps it in, then re-prepares the others.

With the "Auto" size (app/auto_size.py) the inference thread feeds every frame's timing to the
policy and asks for another size (`size_wanted`) when the frames no longer fit the source's rate
or when there is room for a larger one; the loader builds it as any size change. Turning Auto on
times the current style at the ladder's sizes on the loader thread first (`calibration`), while
the frames keep coming at the size in use. Frames stylized while the loader builds engines are
not counted: that CPU load says nothing about the size.

The model: a style may carry a fast twin (models/fast_generator.py, distilled from it), about 3x
cheaper. `model` "full" or "fast" picks one for every style; "auto" (the default) times the full
model when Auto size calibrates, and when it cannot hold FAST_BELOW px at the source's rate (a
laptop CPU) builds the twin instead and times that: from then on styles load their twins.

The temporal stabilizer (models/temporal.py) is a knob: the inference thread sets it on whichever
engine runs the frame, so every style's engine follows it, and starts a new stream (forgets the
previous output) when the frame comes from a newly opened source or the engine was not the one
that ran the frame before (a style switched back to must not blend in its output from minutes ago).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QThread, Signal
from torch import nn

from app.auto_size import AUTO_SIZE, FAST_BELOW, MODELS, AutoSize, calibrate
from app.frames import CapturedFrame, LatestSlot, ProcessedFrame
from models.engine import InferenceEngine
from models.errors import StyleCamError
from models.frames import processing_shape
from models.style_library import Style, StyleLibrary


@dataclass
class Knobs:
    """Settings the GUI changes and the inference thread reads once per frame (plain attributes:
    a torn read is impossible, and a value one frame late is harmless). Not the processing size:
    that belongs to the engine, which is warmed up at it (`InferenceWorker.size`)."""

    strength: float = 1.0
    stabilize: bool = False  # the temporal stabilizer on the engine in use
    detail: float = 0.0  # edges of the camera frame kept by the upscaling (models/detail.py)
    faces: bool = False  # face-aware detail


class InferenceWorker(QThread):
    """mailbox -> engine.process -> output slot (+ an optional sink such as the recorder).

    `engine` is replaced by the style loader in one attribute swap, after the new engine was
    warmed up at its size: each frame uses one style at one size (both the engine's), and a size
    or style change never makes this thread wait for a compile.
    """

    frame_ready = Signal()  # a ProcessedFrame waits in `output`; emitted only when the slot was empty
    failed = Signal(str)
    size_wanted = Signal(int)  # the Auto policy asks for this processing size

    def __init__(
        self,
        engine: InferenceEngine,
        mailbox: LatestSlot[CapturedFrame],
        output: LatestSlot[ProcessedFrame],
        knobs: Knobs,
        sink: Callable[[ProcessedFrame], None] | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("inference")
        self.mailbox, self.output, self.knobs, self.sink = mailbox, output, knobs, sink
        self.engine = engine  # swapped whole by the style loader; read once per frame
        self.last_shape: tuple[int, int] = (480, 640)
        self.last_image: np.ndarray | None = None  # the newest frame (never written): for calibration
        self.auto: AutoSize | None = None  # the Auto size policy, or None when a size is pinned
        self.hold: Callable[[], bool] = lambda: False  # True while the loader loads the CPU
        self._stream: tuple[InferenceEngine, int] | None = None  # the engine and source of the last frame
        self._stop = threading.Event()

    @property
    def size(self) -> int | None:
        """The processing size in use (short side; None = native): the current engine's."""
        return self.engine.size

    def stop(self) -> None:
        self._stop.set()
        self.mailbox.close()

    def run(self) -> None:
        while not self._stop.is_set():
            captured = self.mailbox.take(timeout=0.1)
            if captured is None:
                continue
            engine = self.engine  # one engine (one style, one size) for the whole frame
            engine.strength = self.knobs.strength
            engine.stabilize = self.knobs.stabilize  # a no-op unless it changed
            engine.detail, engine.faces = self.knobs.detail, self.knobs.faces
            if self._stream != (engine, captured.stream):
                engine.reset_stream()  # a new source, or this engine last ran older frames
                self._stream = (engine, captured.stream)
            style = engine.style_name
            try:
                stylized = engine.process(captured.image)
            except (StyleCamError, RuntimeError) as err:
                self.failed.emit(f"stylizing a frame failed ({err}); showing the original")
                stylized = captured.image
            if captured.image.shape[:2] != self.last_shape and self.auto is not None:
                self.auto.set_source(min(captured.image.shape[:2]))
            self.last_shape = captured.image.shape[:2]
            self.last_image = captured.image
            auto = self.auto
            if auto is not None and style:
                self._auto_size(auto, engine, captured)
            elif auto is not None:
                auto.note_capture(captured.seq, captured.captured_at)  # the rate, before any style
            frame = ProcessedFrame(
                original=captured.image,
                stylized=stylized,
                seq=captured.seq,
                captured_at=captured.captured_at,
                processed_at=time.perf_counter(),
                inference_ms=engine.last_inference_ms if style else 0.0,
                style_name=style,
                size=engine.size,
            )
            if self.sink is not None:
                self.sink(frame)
            if self.output.put(frame):
                self.frame_ready.emit()

    def _auto_size(self, auto: AutoSize, engine: InferenceEngine, captured: CapturedFrame) -> None:
        now = time.perf_counter()
        if self.hold():
            auto.hold(now)
            auto.note_capture(captured.seq, captured.captured_at)
            return
        wanted = auto.observe(now, engine.size, engine.last_inference_ms, captured.seq, captured.captured_at)
        if wanted is not None:
            self.size_wanted.emit(wanted)


class StyleLoader(QThread):
    """Builds one warmed-up engine per style and switches the inference worker between them.

    User requests (newest wins) go first; when idle, the styles named in `preload` are prepared.
    Each style's generator is read from the library once and kept (`loaded`), so engines built
    again for a new processing size never touch the disk.
    """

    style_changed = Signal(str, str)  # name, display name
    style_failed = Signal(str, str)  # requested name, one-line reason
    style_imported = Signal(str)  # name of the newly imported style

    def __init__(
        self,
        make_engine: Callable[[], InferenceEngine],
        library: StyleLibrary,
        worker: InferenceWorker,
        max_ready: int = 9,
    ) -> None:
        super().__init__()
        self.setObjectName("style-loader")
        self.make_engine, self.library, self.worker, self.max_ready = make_engine, library, worker, max_ready
        self.ready: dict[str, tuple[InferenceEngine, Style]] = {}  # used on this thread only
        self.loaded: dict[tuple[str, bool], tuple[nn.Module, Style]] = {}  # (name, fast) -> CPU generator
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._request: tuple[str, str | Path, str] | None = None
        self._size_request: tuple[int | None] | None = None
        self._model_request: str | None = None
        self.model = "auto"  # MODELS: what was asked for
        self.fast = False  # whether styles are built from their fast twins now
        self._calibrate_next = False  # Auto was asked for before any style: time the first one
        self.calibration: dict[int, float] = {}  # Auto's last timings: ms per frame by size
        self.calibrated_size: int | None = None  # the size they chose (the policy may move on from it)
        self.busy = False  # building an engine (the CPU is shared with the frames)
        self._preload: list[str] = []
        self._preload_all: list[str] = []

    def request_style(self, name_or_path: str) -> None:
        self._submit(("load", name_or_path, ""))

    def request_import(self, path: Path, name: str) -> None:
        self._submit(("import", Path(path), name))

    def preload(self, names: list[str]) -> None:
        """Prepare these styles in the background, so switching to them is instant."""
        with self._lock:
            self._preload_all = list(names)[: self.max_ready]
            self._preload = list(self._preload_all)
        self._wake.set()

    def request_size(self, size: int | None) -> None:
        """Change the processing size once the current style is warmed up at it; `AUTO_SIZE` times
        the current style (or the first one loaded) and picks the size `worker.auto` allows."""
        with self._lock:
            self._size_request = (size,)
        self._wake.set()

    def request_model(self, model: str) -> None:
        """Use the styles' full models, their fast twins, or ("auto") what Auto size's timing favours."""
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; choose one of {MODELS}")
        with self._lock:
            self._model_request = model
        self._wake.set()

    def _submit(self, request: tuple) -> None:
        with self._lock:
            self._request = request
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                size_request, self._size_request = self._size_request, None
                model_request, self._model_request = self._model_request, None
                request, self._request = self._request, None
                if model_request is not None:
                    self._set_model(model_request)  # before the size: Auto times the model asked for
                    if size_request is None and self._model_rebuild():
                        size_request = (AUTO_SIZE if self.worker.auto is not None else self.worker.size,)
                if size_request is not None:
                    request, self._request = None, request  # sizes first: the style request waits its turn
                idle = request is None and size_request is None
                preload = next((n for n in self._preload if n not in self.ready), None) if idle else None
                if preload is not None:
                    self._preload.remove(preload)
            self.busy = not idle or preload is not None
            if size_request is not None:
                self._apply_size(size_request[0], force=model_request is not None)
            elif request is not None:
                self._handle(*request)
            elif preload is not None:
                # a broken style is reported when someone actually picks it, not while preloading
                with contextlib.suppress(StyleCamError, RuntimeError, ValueError, OSError):
                    self._prepare(preload)
            else:
                self.busy = False
                self._wake.wait(0.2)
                self._wake.clear()

    def _handle(self, kind: str, target: str | Path, name: str) -> None:
        try:
            if kind == "import":
                style = self.library.import_style(Path(target), name)
                self.ready.pop(style.name, None)  # re-imported under the same name: rebuild
                self.loaded.pop(style.name, None)
                self.style_imported.emit(style.name)
                target = style.name
            ready = self.ready.get(str(target))
            engine, style = ready if ready and ready[0].size == self.worker.size else self._prepare(str(target))
            if self._calibrate_next and self.worker.auto is not None:
                self._calibrate_next = False
                engine = self._calibrate(engine, style.name)
        except StyleCamError as err:
            self.style_failed.emit(str(target), str(err))
        except (RuntimeError, ValueError, OSError) as err:  # a weights file that builds but does not fit
            self.style_failed.emit(str(target), f"style {target} cannot be used ({err})")
        else:
            self.worker.engine = engine  # the switch: the next frame uses it
            self.style_changed.emit(style.name, style.display_name)

    def _set_model(self, model: str) -> None:
        self.model = model
        self._was_fast, self.fast = self.fast, model == "fast"  # "auto" starts from the full model

    def _model_rebuild(self) -> bool:
        """Whether the model request changes the current style's engine (Auto always times again)."""
        return self.fast != self._was_fast or (self.model == "auto" and self.worker.auto is not None)

    def _apply_size(self, size: int | None, force: bool = False) -> None:
        current = self.worker.engine
        timed = size == AUTO_SIZE
        if timed and self.worker.auto is None:
            return  # pinned again before this was handled
        if size == current.size and not force:
            return
        key = next((k for k, (e, _) in self.ready.items() if e is current), None)
        if key is None:  # no style (frames pass through): nothing to compile
            if timed:
                self._calibrate_next = True  # the first style is timed when it loads
            else:
                current.size = size
            return
        try:
            # from the generator in memory, not the disk
            engine, style = self._build(key, current.size if timed else size)
            if timed:
                engine = self._calibrate(engine, key)
        except (StyleCamError, RuntimeError, ValueError, OSError):
            if not timed:
                current.size = size  # the inference thread compiles it on the next frame
            return
        self.worker.engine = engine
        # engines of the other styles were warmed at the old size: prepare them again when idle
        self.ready = {key: (engine, style)}
        with self._lock:
            self._preload = list(self._preload_all)

    def _calibrate(self, engine: InferenceEngine, key: str) -> InferenceEngine:
        """Time `engine` (style `key`, not yet in use) at the Auto ladder's sizes and leave it at the
        largest that fits; with model "auto", a full model that cannot hold FAST_BELOW px gives way
        to the style's fast twin, timed the same way. Returns the engine to use."""
        self._time_sizes(engine)
        twin = self.model == "auto" and not self.fast and (self.calibrated_size or 0) < FAST_BELOW
        if twin and self.library.fast_twin_style(self._load(key)[1]) is not None:
            self.fast = True
            engine, style = self._build(key, engine.size)
            self._time_sizes(engine)
            self.ready = {key: (engine, style)}  # the others were built from full models
            with self._lock:
                self._preload = list(self._preload_all)
        return engine

    def _time_sizes(self, engine: InferenceEngine, repeats: int = 5) -> None:
        """Time `engine` at the Auto ladder's sizes on a frame of the source's shape, smallest
        first, and leave it at the largest that fits the policy's start budget."""
        auto = self.worker.auto
        if auto is None:
            return
        deadline = time.perf_counter() + 1.0  # the budget depends on the source's rate: wait for it
        while not auto.interval_s and time.perf_counter() < deadline and not self._stop.is_set():
            time.sleep(0.05)
        frame = self.worker.last_image
        if frame is None:
            frame = np.zeros((*self.worker.last_shape, 3), np.uint8)
        auto.set_source(min(frame.shape[:2]))

        def time_at(size: int) -> float:
            if self._stop.is_set():
                return float("inf")  # ends the timing: the app is closing
            engine.size = size
            for _ in range(3):  # compiles this shape; OpenVINO's first calls after it run slow
                engine.process(frame)
            times = []
            for _ in range(repeats):
                engine.process(frame)
                times.append(engine.last_inference_ms)
            return sorted(times)[len(times) // 2]

        self.calibrated_size, self.calibration = calibrate(time_at, auto.sizes, auto.start_budget_ms())
        engine.size = self.calibrated_size
        engine.reset_stream()  # the timing frames are not the stream's history

    def _load(self, key: str) -> tuple[nn.Module, Style]:
        """The style's CPU generator (its fast twin when `fast` and it has one), read from the
        library the first time only."""
        if (key, self.fast) not in self.loaded:
            full = self.loaded.get((key, False))
            if full is None:
                full = self.loaded[(key, False)] = self.library.load(key)
            if self.fast:
                twin = self.library.fast_twin_style(full[1])
                self.loaded[(key, True)] = self.library.load(twin) if twin else full
        return self.loaded[(key, self.fast)]

    def _build(self, key: str, size: int | None) -> tuple[InferenceEngine, Style]:
        """A new engine for style `key` at processing size `size`, warmed up at the shape the
        next frame will have, so the first styled frame is not slow."""
        generator, style = self._load(key)
        engine = self.make_engine()
        engine.size = size
        h, w = self.worker.last_shape
        engine.set_style(generator, style.name, processing_shape(h, w, size))
        engine.fast_twin = generator is not self.loaded[(key, False)][0]
        return engine, style

    def _prepare(self, key: str) -> tuple[InferenceEngine, Style]:
        if self._stop.is_set():
            raise StyleCamError("stopping")
        engine, style = self._build(key, self.worker.size)
        if len(self.ready) >= self.max_ready:
            current = self.worker.engine
            stale = next((k for k, (e, _) in self.ready.items() if e is not current), None)
            if stale is not None:
                del self.ready[stale]
        self.ready[key] = (engine, style)
        with self._lock:  # generators kept: the ready styles and those to prepare again
            keep = {*self.ready, *self._preload_all}
        self.loaded = {k: v for k, v in self.loaded.items() if k[0] in keep}
        return engine, style
