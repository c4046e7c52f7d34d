"""Faces for the face-aware detail mode: where they are, frame to frame, as a feathered mask.

The engine gives detected faces more of the camera frame's detail than the scene
(models/detail.py). A mask that follows raw detections would pop: the cascade misses a face in
some frames and its boxes jitter by a few pixels. So detections feed tracks:

- OpenCV's Haar frontal-face cascade (it ships inside opencv-python; nothing is downloaded) runs
  on the frame's luma at DETECT_SHORT px, every DETECT_EVERY frames: 10-16 ms on the 2-core dev
  CPU, about 2 ms a frame on average. Its smallest window is 24 px, so a face must span 12% of
  the short side at 200 px: at 160 px the person at the desk in book.mkv (about 12%) was found
  in 3% of frames, at 200 px with scale steps of 1.15 in 63%;
- live (`background=True`, the app), each detection runs on a short-lived thread of its own and
  its faces are matched on the first frame after it ends, so the frames in between do not wait
  for it (a full scan is 20-30 ms here when the 2 cores are busy: a spike every 6th frame
  otherwise); files (`stylize`) detect in line, so a video gives the same pixels every run;
- each detection moves the nearest track's box part of the way (an exponential average), or
  starts a track;
- a track's presence rises to 1 over a few frames while it is seen and falls back to 0 over
  about half a second once it is not, changing a little every frame, so the mask fades in and
  out instead of switching;
- the mask is a feathered ellipse per track (forehead to chin), scaled by its presence.

Boxes are kept as fractions of the frame, so a change of processing size moves nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

CASCADE_FILE = getattr(getattr(cv2, "data", None), "haarcascades", "") + "haarcascade_frontalface_default.xml"
DETECT_SHORT = 200  # short side the cascade sees, in px
DETECT_EVERY = 6  # frames between detections
MIN_FACE = 0.1  # smallest face, as a fraction of the short side
RISE = 0.25  # presence gained per frame while a face is seen (full in 4 frames)
FALL = 0.03  # presence lost per frame once it is not (gone in ~33 frames, about 1 s: 5 detections)
FOLLOW = 0.5  # how far a detection moves its track's box (the rest is the old box)
# The cascade's box spans brows to mouth; the ellipse reaches forehead and chin.
AXES = (0.65, 0.85)  # half-axes as fractions of the box's width and height
CENTRE_DROP = 0.08  # the ellipse's centre sits this fraction of the box height below the box's
FEATHER = (0.6, 1.15)  # normalised radius where the mask starts to fall, and where it is 0


@dataclass
class FaceTrack:
    """One face: its box (cx, cy, w, h) as fractions of the frame, and how sure we are of it."""

    box: np.ndarray
    presence: float
    seen: bool = True  # in the latest detection


def load_face_cascade() -> cv2.CascadeClassifier:
    """OpenCV's frontal-face Haar cascade, read from opencv-python's own data (the app's tracker,
    the evaluation and the training's face term all use this one)."""
    if not hasattr(cv2, "CascadeClassifier"):  # OpenCV 5 moved it to contrib (seen on a lent GPU image)
        raise RuntimeError(
            f"OpenCV {cv2.__version__} has no Haar face cascade (OpenCV 5 moved it out); "
            "install opencv-python-headless<5 as requirements.txt says, or turn Keep faces off (--no-faces)"
        )
    cascade = cv2.CascadeClassifier(CASCADE_FILE)
    if cascade.empty():
        raise RuntimeError(f"OpenCV's face cascade {CASCADE_FILE} is missing or unreadable; reinstall opencv-python")
    return cascade


class _Detection(threading.Thread):
    """One detection on its own thread; `faces` is set when it ends."""

    def __init__(self, detect: Callable[[np.ndarray], list[np.ndarray]], bgr: np.ndarray) -> None:
        super().__init__(name="face-detection")
        self._detect, self._bgr = detect, bgr
        self.faces: list[np.ndarray] | None = None

    def run(self) -> None:
        self.faces = self._detect(self._bgr)


class FaceTracker:
    """Stateful per stream, like the temporal stabilizer: `reset()` when the source changes,
    `close()` when done with it in background mode (joins a detection still running)."""

    def __init__(self, every: int = DETECT_EVERY, detect_short: int = DETECT_SHORT, background: bool = False) -> None:
        self.every, self.detect_short, self.background = every, detect_short, background
        self._cascade = load_face_cascade()
        self.tracks: list[FaceTrack] = []
        self._since_detection = every  # frames since the last detection started: the first frame starts one
        self._job: _Detection | None = None

    def reset(self) -> None:
        self.close()
        self.tracks, self._since_detection = [], self.every

    def close(self) -> None:
        """Wait for a background detection still running (at most one scan) and drop its faces."""
        if self._job is not None:
            self._job.join()
            self._job = None

    def detect(self, bgr: np.ndarray) -> list[np.ndarray]:
        """Faces in a BGR frame, each (cx, cy, w, h) as fractions of the frame."""
        h, w = bgr.shape[:2]
        scale = self.detect_short / min(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        gray = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA)
        smallest = max(24, round(MIN_FACE * self.detect_short))  # the cascade's window is 24 px
        found = self._cascade.detectMultiScale(gray, scaleFactor=1.15, minNeighbors=3, minSize=(smallest, smallest))
        sw, sh = size
        return [np.array([(x + bw / 2) / sw, (y + bh / 2) / sh, bw / sw, bh / sh]) for x, y, bw, bh in found]

    def update(self, bgr: np.ndarray) -> None:
        """Advance one frame: detect every `every` frames (in background mode: when the last scan
        has ended too; a slow scan delays the next one, it never queues), then move every track's
        presence."""
        if self._job is not None and not self._job.is_alive():
            self._job.join()
            self._match(self._job.faces or [])
            self._job = None
        self._since_detection += 1
        if self._job is None and self._since_detection > self.every:
            self._since_detection = 1
            if self.background:
                self._job = _Detection(self.detect, bgr.copy())  # the caller may reuse its buffer
                self._job.start()
            else:
                self._match(self.detect(bgr))
        for track in self.tracks:
            track.presence = min(1.0, track.presence + RISE) if track.seen else max(0.0, track.presence - FALL)
        self.tracks = [t for t in self.tracks if t.presence > 0.0]

    def _match(self, boxes: list[np.ndarray]) -> None:
        for track in self.tracks:
            track.seen = False
        for box in boxes:
            near = [t for t in self.tracks if not t.seen and _close(t.box, box)]
            if near:
                track = min(near, key=lambda t: float(np.abs(t.box[:2] - box[:2]).sum()))
                track.box = track.box + FOLLOW * (box - track.box)
                track.seen = True
            else:
                self.tracks.append(FaceTrack(box, 0.0))

    def mask(self, shape: tuple[int, int]) -> np.ndarray | None:
        """The feathered face mask (h, w) float32 in [0, 1] at `shape`, or None with no face."""
        if not self.tracks:
            return None
        h, w = shape
        mask = np.zeros((h, w), np.float32)
        for track in self.tracks:
            _paint_ellipse(mask, track)
        return mask


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether detection `b` is the face of track `a`: centres within half a face apart."""
    return bool(np.abs(a[:2] - b[:2]).max() < 0.5 * max(a[2], a[3], b[2], b[3]))


def _paint_ellipse(mask: np.ndarray, track: FaceTrack) -> None:
    """max(mask, presence * feathered ellipse) over the ellipse's bounding rectangle only."""
    h, w = mask.shape
    cx, cy, bw, bh = track.box
    cx, cy = cx * w, (cy + CENTRE_DROP * bh) * h
    rx, ry = AXES[0] * bw * w, AXES[1] * bh * h
    reach = FEATHER[1]
    x0, x1 = max(0, int(cx - reach * rx)), min(w, int(np.ceil(cx + reach * rx)) + 1)
    y0, y1 = max(0, int(cy - reach * ry)), min(h, int(np.ceil(cy + reach * ry)) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    xs = (np.arange(x0, x1, dtype=np.float32) - cx) / rx
    ys = (np.arange(y0, y1, dtype=np.float32) - cy) / ry
    radius = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    t = np.clip((FEATHER[1] - radius) / (FEATHER[1] - FEATHER[0]), 0.0, 1.0)
    value = (t * t * (3.0 - 2.0 * t)) * np.float32(track.presence)  # smoothstep: no visible rim
    np.maximum(mask[y0:y1, x0:x1], value, out=mask[y0:y1, x0:x1])
