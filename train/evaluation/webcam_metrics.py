"""Webcam figures without weights: how steady a style is on a real clip, and how much of a face it keeps.

- Flicker ratio: Lai et al. 2018's warping error of the stylized clip over that of the input clip.
  The flow is the input's (OpenCV Farneback, forward t->t+1 and backward t+1->t, at the size the
  frames are judged, 640x480 for the project's clips); pixels that fail the forward-backward
  check (Ruder et al. 2016: |f(x) + b(x+f(x))|^2 < 0.01(|f|^2 + |b|^2) + 0.5), sit on a motion
  boundary or move out of the frame are left out. The warping error of a clip is the mean over
  the kept pixels of |V_t - warp(V_t+1)| (0-1 colours, mean over channels), averaged over frame
  pairs. 1.0: as steady as the camera; the first shipped styles measured 1.4-2.5.
- Face structure: faces found in the input by OpenCV's Haar cascade (it ships inside the opencv
  package; nothing is downloaded); inside each face box, the Pearson correlation of the luma
  Sobel gradient magnitude of input and stylized frame (at the input's size), mean over boxes.
  The 256-px round trip alone keeps ~0.93 and a Gaussian blur of sigma 3 ~0.62.

`evaluate_webcam` runs a generator through the app's `InferenceEngine` (BGR uint8 in and out, at
the app's processing size, with its temporal stabilizer as the app runs it unless `stabilize=False`)
over the first frames of each clip and returns both figures per clip, with reference rows (the
input itself, the processing-size round trip, a sigma-3 blur).
"""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
from torch import nn

from models.engine import InferenceEngine
from models.errors import MediaError
from models.faces import load_face_cascade
from models.frames import processing_shape, resize
from models.video_io import VideoReader
from train.evaluation.metrics import pearson

CLIP_FRAMES = 90  # consecutive frames from the start of each clip (3 s at 30 fps)
FACE_STRIDE = 6  # faces are judged on every 6th of them
BLUR_SIGMA = 3.0
SHEET_FACES = 8  # face crops on a sheet, shared between the clips
SHEET_CROP = 192  # pixels per face crop on the sheet
# (B, G, R) weights of Rec. 601 luma, as train.evaluation.metrics.luma for RGB
LUMA_BGR = np.array([0.114, 0.587, 0.299], np.float32)

Box = tuple[int, int, int, int]  # x, y, w, h in pixels


# -- flicker --------------------------------------------------------------------------------
@dataclass(frozen=True)
class FlowPair:
    """The input's motion from frame t to t+1, enough to warp any clip of the same size."""

    flow: np.ndarray  # (H, W, 2) float16 forward flow t -> t+1, in pixels (x, y)
    mask: np.ndarray  # (H, W) bool: pixels of frame t seen again in t+1 (no occlusion or boundary)


def farneback(a_bgr: np.ndarray, b_bgr: np.ndarray) -> np.ndarray:
    """Dense flow from frame a to frame b, (H, W, 2) float32 (OpenCV's tutorial parameters)."""
    a, b = (cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in (a_bgr, b_bgr))
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)


def _sample_points(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x + flow(x): where each pixel lands, as remap maps."""
    h, w = flow.shape[:2]
    grid_y, grid_x = np.mgrid[0:h, 0:w].astype(np.float32)
    return grid_x + flow[..., 0].astype(np.float32), grid_y + flow[..., 1].astype(np.float32)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """`image` (frame t+1) pulled back to frame t along the forward flow t -> t+1: out(x) = image(x + flow(x))."""
    map_x, map_y = _sample_points(flow)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistent_pixels(forward: np.ndarray, backward: np.ndarray, motion_boundaries: bool = True) -> np.ndarray:
    """Pixels of frame t whose forward flow the backward flow undoes (not occluded in t+1), that
    land inside the frame and, with `motion_boundaries`, are not on a motion boundary (Ruder et al.)."""
    h, w = forward.shape[:2]
    map_x, map_y = _sample_points(forward)
    back = cv2.remap(backward, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mismatch = ((forward + back) ** 2).sum(-1)
    keep = mismatch < 0.01 * ((forward**2).sum(-1) + (back**2).sum(-1)) + 0.5
    keep &= (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    if motion_boundaries:
        du_y, du_x = np.gradient(forward[..., 0])
        dv_y, dv_x = np.gradient(forward[..., 1])
        keep &= du_x**2 + du_y**2 + dv_x**2 + dv_y**2 <= 0.01 * (forward**2).sum(-1) + 0.002
    return keep


def clip_flows(frames: Sequence[np.ndarray], motion_boundaries: bool = True) -> list[FlowPair]:
    """Forward flow and unoccluded pixels of every consecutive pair of (input) BGR frames."""
    pairs = []
    for a, b in pairwise(frames):
        forward, backward = farneback(a, b), farneback(b, a)
        mask = consistent_pixels(forward, backward, motion_boundaries)
        pairs.append(FlowPair(forward.astype(np.float16), mask))
    return pairs


def warping_error(frames: Sequence[np.ndarray], flows: Sequence[FlowPair]) -> float:
    """Mean over frame pairs of the mean |V_t - warp(V_t+1)| over the unoccluded pixels of t
    (uint8 frames as 0-1 colours, mean over channels)."""
    if len(flows) != len(frames) - 1:
        raise ValueError(f"{len(frames)} frames need {len(frames) - 1} flows, got {len(flows)}")
    errors = []
    for t, pair in enumerate(flows):
        if frames[t].shape[:2] != pair.mask.shape:
            raise ValueError(f"frame of shape {frames[t].shape} but flow of {pair.mask.shape}")
        if not pair.mask.any():
            continue
        warped = warp(frames[t + 1], pair.flow)
        diff = np.abs(frames[t].astype(np.float32) - warped.astype(np.float32)).reshape(*pair.mask.shape, -1)
        errors.append(float(diff.mean(-1)[pair.mask].mean()) / 255.0)
    return float(np.mean(errors)) if errors else 0.0


def flicker_ratio(
    inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray], flows: Sequence[FlowPair] | None = None
) -> float:
    """Warping error of the stylized clip `outputs` over that of the input clip `inputs` (both
    BGR uint8 at the same size, consecutive frames); `flows` = clip_flows(inputs) when reused."""
    if len(inputs) != len(outputs) or len(inputs) < 2:
        raise ValueError(f"need two or more frames each, same count; got {len(inputs)} and {len(outputs)}")
    flows = clip_flows(inputs) if flows is None else flows
    return _error_ratio(warping_error(outputs, flows), warping_error(inputs, flows))


def _error_ratio(styled: float, base: float) -> float:
    if base == 0.0:  # a still, noiseless input
        return 1.0 if styled == 0.0 else float("inf")
    return styled / base


# -- faces ----------------------------------------------------------------------------------
@cache
def face_cascade() -> cv2.CascadeClassifier:
    """The app's frontal-face cascade (models/faces.py), read once per process."""
    return load_face_cascade()


def face_boxes(frame: np.ndarray, min_size: int = 40) -> list[Box]:
    """Frontal faces in a BGR frame, (x, y, w, h), the most certain first. A box overlapping a
    more certain one (the cascade's nested face-and-hair boxes) is left out, so no face counts twice."""
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    found, votes = face_cascade().detectMultiScale2(gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_size, min_size))
    kept: list[Box] = []
    for k in np.argsort(-np.asarray(votes).ravel(), kind="stable"):
        box = tuple(int(v) for v in found[k])
        if all(_overlap(box, other) < 0.3 for other in kept):
            kept.append(box)
    return kept


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(w, 0) * max(h, 0) / min(a[2] * a[3], b[2] * b[3])


def gradient_magnitude(frame: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of a BGR uint8 frame's luma, float32 (H, W)."""
    y = frame.astype(np.float32) @ LUMA_BGR
    return cv2.magnitude(cv2.Sobel(y, cv2.CV_32F, 1, 0), cv2.Sobel(y, cv2.CV_32F, 0, 1))


def box_correlation(a: np.ndarray, b: np.ndarray, box: Box) -> float:
    """Pearson correlation of two gradient-magnitude maps inside `box` (0 where one is flat)."""
    x, y, w, h = box
    return pearson(a[y : y + h, x : x + w].ravel(), b[y : y + h, x : x + w].ravel())


def face_correlations(
    inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray], boxes: Sequence[Iterable[Box]] | None = None
) -> list[float]:
    """Gradient correlation of every face box; `boxes[i]` are frame i's (found in the inputs when None)."""
    if len(inputs) != len(outputs):
        raise ValueError(f"{len(inputs)} input frames but {len(outputs)} outputs")
    boxes = [face_boxes(f) for f in inputs] if boxes is None else boxes
    out = []
    for a, b, frame_boxes in zip(inputs, outputs, boxes, strict=True):
        frame_boxes = list(frame_boxes)
        if not frame_boxes:
            continue
        if a.shape != b.shape:
            raise ValueError(f"input {a.shape} and output {b.shape} differ; resize the output to the input first")
        ga, gb = gradient_magnitude(a), gradient_magnitude(b)
        out.extend(box_correlation(ga, gb, box) for box in frame_boxes)
    return out


def face_structure(
    inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray], boxes: Sequence[Iterable[Box]] | None = None
) -> float:
    """Mean gradient correlation over the face boxes (NaN when there are none): 1 = the face's edges kept."""
    values = face_correlations(inputs, outputs, boxes)
    return float(np.mean(values)) if values else float("nan")


# -- clips ----------------------------------------------------------------------------------
@dataclass
class ClipFigures:
    """Both figures of one treatment (a style, a reference) of one clip."""

    flicker_ratio: float
    face_values: list[float]  # one gradient correlation per face box

    @property
    def face_structure(self) -> float:
        return float(np.mean(self.face_values)) if self.face_values else float("nan")

    def summary(self) -> dict:
        face = self.face_structure
        return {
            "flicker_ratio": round(self.flicker_ratio, 3),
            "face_structure": None if np.isnan(face) else round(face, 3),
            "faces": len(self.face_values),
        }


@dataclass
class WebcamClip:
    """The first frames of a clip, with the input's flows and faces worked out once for any style."""

    name: str
    frames: list[np.ndarray]  # BGR uint8, consecutive
    flows: list[FlowPair]
    face_frames: list[int]  # indices into frames that are judged for faces
    boxes: list[list[Box]]  # faces found in each of face_frames

    @property
    def faces(self) -> int:
        return sum(len(b) for b in self.boxes)

    @cached_property
    def input_error(self) -> float:
        """The input's own warping error, the flicker ratio's denominator."""
        return warping_error(self.frames, self.flows)

    def figures(self, outputs: Sequence[np.ndarray]) -> ClipFigures:
        """Both figures of stylized `outputs` (one per frame, at the input's size)."""
        if len(outputs) != len(self.frames):
            raise ValueError(f"{len(self.frames)} frames in {self.name} but {len(outputs)} outputs")
        inputs = [self.frames[i] for i in self.face_frames]
        styled = [outputs[i] for i in self.face_frames]
        values = face_correlations(inputs, styled, self.boxes)
        return ClipFigures(_error_ratio(warping_error(outputs, self.flows), self.input_error), values)


def read_frames(path: Path | str, frames: int = CLIP_FRAMES) -> list[np.ndarray]:
    """The first `frames` BGR frames of a video (PyAV)."""
    out = []
    with VideoReader(path) as reader:
        for frame, _ in reader.frames():
            out.append(frame)
            if len(out) == frames:
                break
    return out


def load_clip(path: Path | str, frames: int = CLIP_FRAMES, face_stride: int = FACE_STRIDE) -> WebcamClip:
    """Read a clip's first `frames` frames, their flows, and the faces on every `face_stride`-th."""
    images = read_frames(path, frames)
    if len(images) < 2:
        raise MediaError(f"video {path} has {len(images)} frame(s); the flicker ratio needs at least two")
    face_frames = list(range(0, len(images), face_stride))
    boxes = [face_boxes(images[i]) for i in face_frames]
    return WebcamClip(Path(path).name, images, clip_flows(images), face_frames, boxes)


@dataclass
class WebcamResult:
    """Figures of one generator on the clips, and of the reference treatments of the same frames."""

    size: int
    frames: int
    stabilize: bool = True  # the engine's temporal stabilizer, as the app runs it
    precision: str = ""  # the engine's CPU precision (fp32, bf16) or fp16 on CUDA
    clips: dict[str, ClipFigures] = field(default_factory=dict)
    references: dict[str, dict[str, ClipFigures]] = field(default_factory=dict)  # clip -> reference -> figures
    sheet: str | None = None

    def flicker_ratio_median(self) -> float:
        return statistics.median(c.flicker_ratio for c in self.clips.values())

    def face_structure_mean(self) -> float:
        values = [v for c in self.clips.values() for v in c.face_values]
        return float(np.mean(values)) if values else float("nan")

    def summary(self) -> dict:
        face = self.face_structure_mean()
        return {
            "size": self.size,
            "frames": self.frames,
            "stabilize": self.stabilize,
            **({"precision": self.precision} if self.precision else {}),
            "clips": {name: c.summary() for name, c in self.clips.items()},
            "flicker_ratio_median": round(self.flicker_ratio_median(), 3),
            "face_structure_mean": None if np.isnan(face) else round(face, 3),
        }

    def table(self) -> str:
        labels = {
            "input": "input itself",
            "round trip": f"round trip at {self.size}px",
            "blur": f"Gaussian blur sigma {BLUR_SIGMA:g}",
        }
        head = f"{'clip':12s} {'method':26s} {'flicker':>8s} {'face struct':>11s} {'faces':>6s}"
        lines = [head, "-" * len(head)]
        for name, figures in self.clips.items():
            rows = [("stylized (model)", figures)] + [(labels[k], f) for k, f in self.references.get(name, {}).items()]
            for i, (label, f) in enumerate(rows):
                lines.append(
                    f"{name if i == 0 else '':12s} {label:26s} {f.flicker_ratio:8.2f} {f.face_structure:11.3f} "
                    f"{len(f.face_values):6d}"
                )
        lines.append(
            f"webcam at {self.size}px, {'' if self.stabilize else 'not '}stabilized, "
            f"{f'{self.precision}, ' if self.precision else ''}first {self.frames} frames: "
            "flicker ratio median "
            f"{self.flicker_ratio_median():.2f} (1 = as steady as the input), face structure mean "
            f"{self.face_structure_mean():.3f} over {sum(len(c.face_values) for c in self.clips.values())} faces"
        )
        return "\n".join(lines)


def round_trip(frame: np.ndarray, size: int) -> np.ndarray:
    """`frame` down to the engine's processing size and back, with the engine's resizes."""
    h, w = frame.shape[:2]
    ph, pw = processing_shape(h, w, size)
    return resize(resize(frame, ph, pw), h, w)


def reference_figures(clip: WebcamClip, size: int) -> dict[str, ClipFigures]:
    """The input itself, its round trip through the processing size, and a sigma-3 blur."""
    return {
        "input": clip.figures(clip.frames),
        "round trip": clip.figures([round_trip(f, size) for f in clip.frames]),
        "blur": clip.figures([cv2.GaussianBlur(f, (0, 0), BLUR_SIGMA) for f in clip.frames]),
    }


def stylize_frames(engine: InferenceEngine, frames: Iterable[np.ndarray]) -> list[np.ndarray]:
    return [engine.process(f) for f in frames]


def evaluate_webcam(
    generator: nn.Module,
    clips: Sequence[WebcamClip | Path | str],
    size: int = 256,
    frames: int = CLIP_FRAMES,
    face_stride: int = FACE_STRIDE,
    face_sheet: Path | None = None,
    label: str = "",
    references: bool = True,
    stabilize: bool = True,
    precision: str = "auto",
) -> WebcamResult:
    """Flicker ratio and face structure of `generator` through the app's engine at `size` (short
    side) on each clip (paths are loaded with `frames` and `face_stride`; loaded clips as they are).
    `stabilize`: with the engine's temporal stabilizer, as the app shows it (on by default).
    `precision`: the engine's CPU precision ("auto" as the app, "fp32", "bf16"), recorded in the result."""
    engine = InferenceEngine("auto", size=size, stabilize=stabilize, precision=precision)
    engine.set_style(generator, label or "evaluate")
    loaded = [c if isinstance(c, WebcamClip) else load_clip(c, frames, face_stride) for c in clips]
    result = WebcamResult(size, max(len(c.frames) for c in loaded), stabilize=stabilize, precision=engine.precision)
    crops = []
    for clip in loaded:
        engine.reset_stream()  # each clip is a stream of its own
        outputs = stylize_frames(engine, clip.frames)
        result.clips[clip.name] = clip.figures(outputs)
        if references:
            result.references[clip.name] = reference_figures(clip, size)
        if face_sheet is not None:
            crops.append(face_crops(clip, outputs, SHEET_FACES // len(loaded)))
    pairs = [c for per_clip in crops for c in per_clip]
    if face_sheet is not None and not pairs:
        warnings.warn(f"no faces found in the clips; no face sheet written to {face_sheet}", stacklevel=2)
    elif face_sheet is not None:
        write_face_sheet(Path(face_sheet), pairs, f"{label or 'stylized'} at {size}px: input | stylized")
        result.sheet = str(face_sheet)
    return result


# -- face sheet -----------------------------------------------------------------------------
def _crop(frame: np.ndarray, box: Box, margin: float = 0.25) -> np.ndarray:
    """The face box grown by `margin` on each side (chin, hair), square, scaled to SHEET_CROP."""
    x, y, w, h = box
    pad = round(max(w, h) * margin)
    top, left = max(0, y - pad), max(0, x - pad)
    side = min(max(w, h) + 2 * pad, frame.shape[0] - top, frame.shape[1] - left)
    patch = frame[top : top + side, left : left + side]
    return cv2.resize(patch, (SHEET_CROP, SHEET_CROP), interpolation=cv2.INTER_CUBIC)


def face_crops(clip: WebcamClip, outputs: Sequence[np.ndarray], count: int) -> list[tuple[str, np.ndarray]]:
    """Up to `count` (caption, input | stylized) pairs: the surest face of evenly spaced face frames."""
    with_faces = [(i, b[0]) for i, b in zip(clip.face_frames, clip.boxes, strict=True) if b]
    if not with_faces or count < 1:
        return []
    picks = [with_faces[k * len(with_faces) // min(count, len(with_faces))] for k in range(min(count, len(with_faces)))]
    return [(f"{clip.name} #{i}", face_pair(clip.frames[i], outputs[i], box)) for i, box in picks]


def face_pair(frame: np.ndarray, output: np.ndarray, box: Box) -> np.ndarray:
    """One face's crop of the input beside the same crop of the stylized output (a sheet cell)."""
    return np.concatenate([_crop(frame, box), _crop(output, box)], axis=1)


def write_face_sheet(path: Path, pairs: Sequence[tuple[str, np.ndarray]], title: str, columns: int = 2) -> None:
    """A JPEG sheet of (caption, input | stylized) face pairs, `columns` pairs a row, under a title."""
    if not pairs:
        raise ValueError("no faces were found in the clips; nothing to put on a face sheet")
    cell_h, cell_w = pairs[0][1].shape[:2]
    caption_h, gap = 22, 8
    rows = -(-len(pairs) // columns)
    width = columns * cell_w + (columns - 1) * gap
    sheet = np.full((30 + rows * (caption_h + cell_h + gap), width, 3), 255, np.uint8)
    cv2.putText(sheet, title, (6, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    for k, (caption, pair) in enumerate(pairs):
        top = 30 + (k // columns) * (caption_h + cell_h + gap)
        left = (k % columns) * (cell_w + gap)
        cv2.putText(sheet, caption, (left + 4, top + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        sheet[top + caption_h : top + caption_h + cell_h, left : left + cell_w] = pair
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet, [cv2.IMWRITE_JPEG_QUALITY, 88]):
        raise OSError(f"could not write the face sheet {path}")
