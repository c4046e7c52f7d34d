"""The dialog's one background thread: checking a folder, writing the photos taken from the live
view, and stylizing the preview, each a small task run in turn, so the GUI thread never decodes,
encodes or runs a model. Results come back as a queued signal; `stop` joins the thread."""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QThread, Signal

from app.sources import IMAGE_SUFFIXES
from models.style_library import MIN_PAINTINGS

_STOP = object()


@dataclass(frozen=True)
class FolderCheck:
    folder: Path
    usable: int
    unreadable: int
    other_files: int

    @property
    def ok(self) -> bool:
        return self.usable >= MIN_PAINTINGS

    def line(self, minimum: int = MIN_PAINTINGS) -> str:
        """One plain line for the dialog."""
        if not self.folder.is_dir():
            return f"{self.folder} is not a folder"
        if self.ok:
            return f"{self.usable} paintings can be used" + (
                f" ({self.unreadable} unreadable files left out)" if self.unreadable else ""
            )
        problems = []
        if self.unreadable:
            problems.append(f"{self.unreadable} image files cannot be read")
        if self.other_files:
            problems.append(f"{self.other_files} files are not images")
        extra = f" ({'; '.join(problems)})" if problems else ""
        return f"only {self.usable} images can be read in this folder{extra}; at least {minimum} are needed"


def check_folder(folder: Path) -> FolderCheck:
    """Count the images of `folder` that decode (at 1/8 size: a fast full decode of a JPEG)."""
    if not folder.is_dir():
        return FolderCheck(folder, 0, 0, 0)
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    usable = 0
    for path in images:
        try:
            data = np.fromfile(str(path), dtype=np.uint8)
        except OSError:
            continue
        image = cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_8) if data.size else None
        usable += image is not None and image.size > 0
    return FolderCheck(folder, usable, len(images) - usable, len(files) - len(images))


def write_photo(path: Path, image: np.ndarray) -> Path:
    """One photo from the live view, as JPEG (BGR uint8, as the capture gives it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise OSError(f"could not encode {path.name}")
    tmp = path.with_suffix(".tmp")
    data.tofile(str(tmp))
    tmp.replace(path)
    return path


class Preview:
    """The camera frame through the run's newest checkpoint (RUN/preview.safetensors), on the CPU
    with torch (no OpenVINO compile for a model used once a minute), at 256 px."""

    SIZE = 256

    def __init__(self) -> None:
        self._engine = None
        self._loaded: tuple[str, int] | None = None

    def __call__(self, weights: Path, step: int, frame: np.ndarray) -> np.ndarray:
        from models.checkpoints import load_generator_file
        from models.engine import InferenceEngine

        key = (str(weights), step)
        if self._engine is None:
            self._engine = InferenceEngine(device="cpu", size=self.SIZE, backend="torch", precision="fp32")
        if self._loaded != key:
            generator, _ = load_generator_file(weights)
            self._engine.set_style(generator, "preview", warmup_shape=(64, 64))
            self._loaded = key
        return self._engine.process(frame)


class TaskThread(QThread):
    """Runs submitted callables one after another; each result (or error) comes back as
    `done(tag, result, error_text)` on the GUI thread."""

    done = Signal(str, object, str)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("make-style tasks")
        self._queue: queue.Queue = queue.Queue()

    def submit(self, tag: str, work: Callable[[], object]) -> None:
        self._queue.put((tag, work))
        if not self.isRunning():
            self.start(QThread.Priority.LowPriority)

    def pending(self) -> int:
        return self._queue.qsize()

    def run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            tag, work = item
            try:
                result, error = work(), ""
            except Exception as err:  # any failure is one line in the dialog
                result, error = None, str(err).splitlines()[0] if str(err) else type(err).__name__
            self.done.emit(tag, result, error)

    def stop(self) -> None:
        """Finish the task in hand (queued photos are still written), then join."""
        if self.isRunning():
            self._queue.put(_STOP)
            self.wait()
