"""The controller: owns the engine, the style library and the worker threads, and is the only
thing the window talks to. It lives on the GUI thread; every slow call is handed to a worker.

    capture thread --(LatestSlot)--> inference thread --(LatestSlot)--> GUI (view)
                                                     \\--(short queue)--> recording thread
                                                     \\--(LatestSlot)--> virtual camera thread
    style loader thread --(swaps in a ready engine per style)--> inference thread
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.auto_size import AUTO_SIZE, AutoSize
from app.frames import CapturedFrame, LatestSlot, ProcessedFrame
from app.sources import FrameSource
from app.workers.capture import AUTO, CaptureWorker
from app.workers.inference import InferenceWorker, Knobs, StyleLoader
from app.workers.recording import RecordingWorker, compose
from app.workers.virtual_camera import VirtualCameraWorker
from models.engine import InferenceEngine
from models.errors import StyleCamError
from models.style_library import Style, StyleLibrary

NO_STYLES_MESSAGE = (
    "No styles installed: showing the original. Use Style > Add style... or train one (python -m train ...)."
)


class Controller(QObject):
    frame_ready = Signal(object)  # ProcessedFrame, delivered on the GUI thread
    source_started = Signal(str, str)  # spec, description
    source_message = Signal(str)
    source_lost = Signal(str)
    cameras_found = Signal(list)
    style_changed = Signal(str, str)  # name, display name
    style_failed = Signal(str, str)
    styles_updated = Signal()
    recording_started = Signal(str)
    recording_finished = Signal(str, int, float)
    recording_failed = Signal(str)
    snapshot_saved = Signal(str)
    snapshot_failed = Signal(str)
    notice = Signal(str)
    virtual_camera_started = Signal(str)  # "DEVICE (WxH)"
    virtual_camera_stopped = Signal()
    virtual_camera_failed = Signal(str)  # one line: what to install or run; the camera is off

    def __init__(
        self,
        make_engine: Callable[[], InferenceEngine],
        library: StyleLibrary,
        resolution: tuple[int, int] = (640, 480),
    ) -> None:
        super().__init__()
        self.library = library
        # with no style yet the first engine passes frames through unchanged; the stabilizer
        # starts as the factory makes engines (on in the app), then the knob rules every engine
        passthrough = make_engine()
        self.knobs = Knobs(stabilize=passthrough.stabilize)
        self.captured: LatestSlot[CapturedFrame] = LatestSlot()
        self.processed: LatestSlot[ProcessedFrame] = LatestSlot()
        self.recorder = RecordingWorker()
        self.virtual_camera = VirtualCameraWorker()
        self.capture = CaptureWorker(self.captured, resolution)
        self.inference = InferenceWorker(passthrough, self.captured, self.processed, self.knobs, self._sink)
        self.loader = StyleLoader(make_engine, library, self.inference)
        self.inference.hold = lambda: self.loader.busy  # frames timed under a build say nothing
        self.source_spec = AUTO
        self.last_frame: ProcessedFrame | None = None
        self.record_side_by_side = False
        self._styles: list[Style] = []
        self.style_problems: list[str] = []
        self._started = False
        self._first_style_pending = False  # start() asked for a style that is not up yet

        self.refresh_styles()  # cheap (manifest + file headers); the window builds its menus from it
        self.inference.frame_ready.connect(self._on_frame_ready)
        self.inference.failed.connect(self.notice)
        self.inference.size_wanted.connect(self._on_size_wanted)
        self.capture.source_started.connect(self._on_source_started)
        self.capture.source_message.connect(self.source_message)
        self.capture.source_lost.connect(self._on_source_lost)
        self.capture.cameras_found.connect(self.cameras_found)
        self.loader.style_changed.connect(self._on_style_changed)
        self.loader.style_failed.connect(self._on_style_failed)
        self.loader.style_imported.connect(lambda _name: self.refresh_styles())
        self.recorder.recording_started.connect(self.recording_started)
        self.recorder.recording_finished.connect(self.recording_finished)
        self.recorder.recording_failed.connect(self.recording_failed)
        self.recorder.snapshot_saved.connect(self.snapshot_saved)
        self.recorder.snapshot_failed.connect(self.snapshot_failed)
        self.virtual_camera.camera_started.connect(self.virtual_camera_started)
        self.virtual_camera.camera_stopped.connect(self.virtual_camera_stopped)
        self.virtual_camera.camera_failed.connect(self.virtual_camera_failed)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, source: str | FrameSource = AUTO, style: str | None = None) -> None:
        """Start the threads, open `source` and load `style` (or the library's default)."""
        self._started = True  # first: a start cut short still has its started threads joined
        for worker in self.threads():
            worker.start()
        self.set_source(source)
        name = style or self.library.default_style_name()
        if name:
            self._first_style_pending = True
            self.set_style(name)
        else:
            self.notice.emit(NO_STYLES_MESSAGE)

    def threads(self) -> list:
        return [self.recorder, self.virtual_camera, self.loader, self.inference, self.capture]

    def shutdown(self, timeout: float = 1.0) -> float:
        """Stop every thread (finalizing a recording) and join them; returns the seconds it took."""
        start = time.perf_counter()
        if not self._started:
            return 0.0
        for worker in self.threads():  # all stop flags first, so they wind down in parallel
            worker.stop()
        deadline = start + timeout
        for worker in reversed(self.threads()):  # producers first, the recorder last
            worker.wait(max(1, int((deadline - time.perf_counter()) * 1000)))
        late = [w.objectName() for w in self.threads() if w.isRunning()]
        for worker in self.threads():
            worker.wait()  # a late thread still has to be joined before Qt objects go away
        if late:
            warnings.warn(f"threads took longer than {timeout:.1f}s to stop: {', '.join(late)}", stacklevel=2)
        self._started = False
        return time.perf_counter() - start

    # -- sources -------------------------------------------------------------------------
    def set_source(self, source: str | FrameSource) -> None:
        """Switch source; a recording in progress is finalized first (its file stays complete)."""
        self.stop_recording()
        self.capture.request_source(source)

    def reconnect(self) -> None:
        self.set_source(self.source_spec)

    def refresh_cameras(self) -> None:
        self.capture.request_camera_list()

    def set_mirror(self, on: bool) -> None:
        self.capture.mirror = bool(on)

    def set_resolution(self, resolution: tuple[int, int]) -> None:
        """Capture resolution for cameras and the demo scene; reopens the current source."""
        self.capture.resolution = resolution
        if self.source_spec.isdigit() or self.source_spec in ("demo", AUTO):
            self.set_source(self.source_spec)

    def _on_source_started(self, spec: str, description: str) -> None:
        self.source_spec = spec
        self.source_started.emit(spec, description)

    def _on_source_lost(self, message: str) -> None:
        self.stop_recording()  # finalize: the part recorded so far is a complete file
        self.source_lost.emit(message)

    # -- styles --------------------------------------------------------------------------
    @property
    def engine(self) -> InferenceEngine:
        """The engine of the current style (read-only use: name, device, timings)."""
        return self.inference.engine

    def _on_style_changed(self, name: str, display_name: str) -> None:
        self._first_style_pending = False
        self.style_changed.emit(name, display_name)
        # after the first style is up, get the others ready so switching to them is instant
        self.loader.preload([s.name for s in self._styles])

    def _on_style_failed(self, name: str, reason: str) -> None:
        self._first_style_pending = False  # no style is coming: the original is what there is to record
        self.style_failed.emit(name, reason)

    def styles(self) -> list[Style]:
        return list(self._styles)

    def refresh_styles(self) -> None:
        """Re-read the library; broken entries are skipped and described in `style_problems`."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self._styles = self.library.list_styles()
            except StyleCamError as err:
                self._styles = []
                caught.append(warnings.WarningMessage(str(err), UserWarning, "", 0))
        self.style_problems = [str(w.message) for w in caught]
        self.styles_updated.emit()

    def set_style(self, name_or_path: str) -> None:
        """Load on the loader thread; the current style keeps running until the new one is ready."""
        self.loader.request_style(name_or_path)

    def import_style(self, path: Path, name: str) -> None:
        self.loader.request_import(path, name)

    def set_strength(self, strength: float) -> None:
        self.knobs.strength = min(1.0, max(0.0, float(strength)))

    @property
    def stabilize(self) -> bool:
        """Whether the temporal stabilizer runs (models/temporal.py): steady strokes on a still scene."""
        return self.knobs.stabilize

    def set_stabilize(self, on: bool) -> None:
        """Turn the stabilizer on or off; the inference thread applies it from the next frame on,
        to whichever style's engine runs it."""
        self.knobs.stabilize = bool(on)

    @property
    def detail(self) -> float:
        """How much of the camera frame's edges the upscaling keeps (models/detail.py)."""
        return self.knobs.detail

    def set_detail(self, detail: float) -> None:
        """0 = plain resize of the style's picture .. 1 = every edge of the frame; from the next frame."""
        self.knobs.detail = min(1.0, max(0.0, float(detail)))

    @property
    def faces(self) -> bool:
        return self.knobs.faces

    def set_faces(self, on: bool) -> None:
        """Face-aware detail: faces found in the picture get more detail than the scene."""
        self.knobs.faces = bool(on)

    @property
    def size(self) -> int | None:
        """The processing size in use (short side; None = native). Its one owner is the engine."""
        return self.inference.size

    @property
    def model(self) -> str:
        """What the styles run: "auto", "full" or "fast" (app/auto_size.py MODELS)."""
        return self.loader.model

    def set_model(self, model: str) -> None:
        """Run every style's full model, its fast twin (where it has one), or ("auto") the twin
        when the full model cannot hold FAST_BELOW px here; the loader rebuilds the current style."""
        self.loader.request_model(model)

    @property
    def size_auto(self) -> bool:
        """Whether the size is "Auto" (app/auto_size.py) rather than pinned."""
        return self.inference.auto is not None

    def set_size(self, size: int | None) -> None:
        """Change the processing size: the loader warms the current style up at it (from the
        generator in memory: no style is read from disk again), then swaps the engine in.
        `AUTO_SIZE` times the current style at the ladder's sizes and keeps the size fitting the
        source's frame rate from then on; any other size pins it."""
        if size == AUTO_SIZE:
            if self.inference.auto is None:
                self.inference.auto = AutoSize()
            self.loader.request_size(AUTO_SIZE)
            return
        self.inference.auto = None
        self.loader.request_size(int(size) if size else None)

    def _on_size_wanted(self, size: int) -> None:
        if self.inference.auto is not None:  # not pinned meanwhile
            self.loader.request_size(size)

    # -- frames --------------------------------------------------------------------------
    def _on_frame_ready(self) -> None:
        frame = self.processed.take()
        if frame is not None:
            self.last_frame = frame
            self.frame_ready.emit(frame)

    @property
    def dropped_frames(self) -> int:
        """Frames replaced before anyone used them: capture->inference plus inference->display."""
        return self.captured.dropped + self.processed.dropped

    # -- recording and snapshots -----------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self.recorder.recording

    def start_recording(self, folder_or_file: Path, fps_hint: float = 30.0) -> Path:
        """Record to `folder_or_file` (a .mp4 path, or a folder for a date-time name)."""
        target = Path(folder_or_file).expanduser()
        if target.suffix.lower() != ".mp4":
            target = target / f"StyleCam_{datetime.now():%Y-%m-%d_%H-%M-%S}.mp4"
        self.recorder.side_by_side = self.record_side_by_side
        self.recorder.start_recording(target, fps_hint)
        return target

    def stop_recording(self) -> None:
        self.recorder.stop_recording()

    def set_record_side_by_side(self, on: bool) -> None:
        self.record_side_by_side = bool(on)
        self.recorder.side_by_side = self.record_side_by_side

    def snapshot(self, folder: Path, side_by_side: bool = False) -> Path | None:
        """Save the newest frame as PNG (written on the recording thread)."""
        if self.last_frame is None:
            return None
        path = Path(folder).expanduser() / f"StyleCam_{datetime.now():%Y-%m-%d_%H-%M-%S_%f}"[:-3]
        path = path.with_suffix(".png")
        self.recorder.snapshot(path, compose(self.last_frame, side_by_side))
        return path

    # -- virtual camera ----------------------------------------------------------------------
    def _sink(self, frame: ProcessedFrame) -> None:
        """Every processed frame, on the inference thread: to the recorder and the virtual camera.
        Until the first style is ready (loading and timing it takes seconds) frames are the
        camera's own picture: a recording started with the app (`--record`) begins with the
        first stylized frame."""
        if frame.style_name or not self._first_style_pending:
            self.recorder.submit(frame)
        self.virtual_camera.submit(frame)

    @property
    def virtual_camera_on(self) -> bool:
        return self.virtual_camera.active

    def start_virtual_camera(self, fps: float = 30.0) -> str | None:
        """Offer the stream as a system camera (opened on its thread with the next frame's size);
        returns the one line saying what to install when the backend is certainly missing."""
        problem = self.virtual_camera.problem()
        if problem is None:
            self.virtual_camera.start_camera(fps)
        return problem

    def stop_virtual_camera(self) -> None:
        self.virtual_camera.stop_camera()

    def set_virtual_camera_side_by_side(self, on: bool) -> None:
        self.virtual_camera.side_by_side = bool(on)
