"""Figures on a folder of stills (webcam_photos/testA): faces on the portraits and selfies, SWD on the rooms.

The folder's files are grouped by their name's prefix (`portrait_*`, `selfie_*`, `room_*`, as
webcam_photos/MANIFEST.tsv lists them); other files are left out. Every still is first resized
to the processing size on its short side (256 px: what the generator sees in the app), then:

- portraits and selfies: face structure, the clips' measure (train/evaluation/webcam_metrics.py:
  OpenCV Haar faces found in the input, luma Sobel-magnitude correlation inside each box), of the
  style run through the app's engine on the still alone (no stabilizer, Detail 0, the engine's
  precision as asked), mean over boxes; beside it a Gaussian blur of sigma 3, as on the clips.
  The stills are tight crops, so the faces are found on a copy with a 32-px replicated border
  (the cascade missed 22 of the 46 testA portraits without it, 11 with it; boxes are clipped to
  the still and kept when 60% of one lies inside).
  A face on a still fills it (median box 190 px of 256) where the clips' faces are 66-82 px of
  640x480, 37-43 px in the 256-px processing frame. So each face still is measured twice: as it
  is, and at webcam scale: resized so its largest face is WEBCAM_FACE_PX wide and processed at
  the clips' ratio of processing size to frame (256 of 480), as a face in the live view is;
- rooms: centre-cropped square like the landscape test split, stylized and measured there by
  `train.evaluation.evaluate` (SWD and SWD+colour to the style's test paintings, beside the
  unstylized rooms and Reinhard colour transfer); this module only holds their figures.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from torch import nn

from models.engine import InferenceEngine
from models.errors import StyleCamError
from train.evaluation.webcam_metrics import BLUR_SIGMA, Box, face_boxes, face_correlations, face_pair
from train.trainers.data import center_crop, read_rgb, resize_short, scan_folder

DETECT_PAD = 32  # replicated border around a still while looking for its faces
WEBCAM_FACE_PX = 75  # face width in book.mkv / sister.mkv at 640x480 (median 69 and 81 px)
WEBCAM_FRAME = 480  # their short side: the live view processes 256 of it
KINDS = ("portrait", "selfie", "room")
FACE_KINDS = ("portrait", "selfie")
SWD_METHODS = ("stylized", "photos", "reinhard")
SWD_LABELS = {"stylized": "stylized (model)", "photos": "rooms (no style)", "reinhard": "Reinhard Lab transfer"}


def still_kind(path: Path) -> str | None:
    """'portrait', 'selfie' or 'room' from the file name's prefix; None for anything else."""
    prefix = Path(path).name.split("_", 1)[0].lower()
    return prefix if prefix in KINDS else None


def scan_stills(folder: Path) -> dict[str, list[Path]]:
    """The decodable stills of `folder` by kind, sorted by name; a one-line error when none has a known prefix."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = scan_folder(folder, 1, "stills").files
    groups: dict[str, list[Path]] = {kind: [] for kind in KINDS}
    for path in sorted(files, key=lambda p: p.name):
        kind = still_kind(path)
        if kind is not None:
            groups[kind].append(path)
    if not any(groups.values()):
        raise StyleCamError(f"stills folder {folder} has no portrait_*, selfie_* or room_* images")
    return groups


def load_still(path: Path, size: int) -> np.ndarray:
    """A still as RGB uint8, short side resized to `size` (aspect kept)."""
    rgb = read_rgb(path)
    if rgb is None:
        raise StyleCamError(f"could not read the still {path}")
    return resize_short(rgb, size)


def load_rooms(paths: list[Path], size: int) -> list[np.ndarray]:
    """RGB uint8 size x size views (short side resized, centre crop), as the landscape test split's."""
    return [center_crop(load_still(p, size), size) for p in paths]


def still_face_boxes(bgr: np.ndarray) -> list[Box]:
    """webcam_metrics.face_boxes on the still with a DETECT_PAD replicated border, the boxes
    clipped to the still (those with less than 60% inside it left out)."""
    h, w = bgr.shape[:2]
    padded = cv2.copyMakeBorder(bgr, DETECT_PAD, DETECT_PAD, DETECT_PAD, DETECT_PAD, cv2.BORDER_REPLICATE)
    out = []
    for x, y, bw, bh in face_boxes(padded):
        x0, y0 = max(x - DETECT_PAD, 0), max(y - DETECT_PAD, 0)
        x1, y1 = min(x - DETECT_PAD + bw, w), min(y - DETECT_PAD + bh, h)
        if x1 > x0 and y1 > y0 and (x1 - x0) * (y1 - y0) >= 0.6 * bw * bh:
            out.append((x0, y0, x1 - x0, y1 - y0))
    return out


def webcam_scale(bgr: np.ndarray, boxes: list[Box], face_size: int) -> tuple[np.ndarray, list[Box], int]:
    """The still resized so its largest face is WEBCAM_FACE_PX wide (never enlarged), its boxes
    scaled with it, and the processing size the live view would give it (face_size of WEBCAM_FRAME)."""
    scale = min(1.0, WEBCAM_FACE_PX / max(b[2] for b in boxes))
    h, w = bgr.shape[:2]
    small = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    scaled = []
    for x, y, bw, bh in boxes:
        x0, y0 = min(round(x * scale), sw - 1), min(round(y * scale), sh - 1)
        scaled.append((x0, y0, max(1, min(round(bw * scale), sw - x0)), max(1, min(round(bh * scale), sh - y0))))
    return small, scaled, max(32, round(min(sh, sw) * face_size / WEBCAM_FRAME))


@dataclass
class FaceStills:
    """Face figures of one kind of still: one gradient correlation per face box, as the still is
    and at webcam scale."""

    images: int
    with_faces: int = 0
    values: list[float] = field(default_factory=list)  # stylized
    blur: list[float] = field(default_factory=list)  # Gaussian blur of sigma BLUR_SIGMA
    webcam: list[float] = field(default_factory=list)  # stylized at webcam scale
    webcam_blur: list[float] = field(default_factory=list)  # the blur at webcam scale
    pairs: list[tuple[str, np.ndarray]] = field(default_factory=list)  # sheet crops at webcam scale

    @staticmethod
    def _mean(values: list[float]) -> float | None:
        return round(float(np.mean(values)), 3) if values else None

    def summary(self) -> dict:
        return {
            "images": self.images,
            "with_faces": self.with_faces,
            "faces": len(self.values),
            "face_structure": self._mean(self.values),
            "blur": self._mean(self.blur),
            "face_structure_webcam_scale": self._mean(self.webcam),
            "blur_webcam_scale": self._mean(self.webcam_blur),
        }

    @classmethod
    def merged(cls, parts: list[FaceStills]) -> FaceStills:
        out = cls(sum(p.images for p in parts), sum(p.with_faces for p in parts))
        for p in parts:
            out.values += p.values
            out.blur += p.blur
            out.webcam += p.webcam
            out.webcam_blur += p.webcam_blur
        return out


def face_stills(
    generator: nn.Module,
    paths: list[Path],
    size: int = 256,
    precision: str = "fp32",
    engine: InferenceEngine | None = None,
    sheet_pairs: int = 0,
) -> FaceStills:
    """Face structure of `generator` on each still of `paths` at processing size `size`, through
    the app's engine (no stabilizer: each still alone), as the still is and at webcam scale;
    faces are found in the resized input. The first `sheet_pairs` faces at webcam scale are kept
    as (caption, input | stylized) crops for a face sheet."""
    if engine is None:
        engine = InferenceEngine("auto", size=size, precision=precision)
        engine.set_style(generator, "evaluate stills")
    out = FaceStills(len(paths))
    for path in paths:
        bgr = np.ascontiguousarray(load_still(path, size)[..., ::-1])
        boxes = still_face_boxes(bgr)
        if not boxes:
            continue
        out.with_faces += 1
        engine.size = size
        out.values += face_correlations([bgr], [engine.process(bgr)], [boxes])
        out.blur += face_correlations([bgr], [cv2.GaussianBlur(bgr, (0, 0), BLUR_SIGMA)], [boxes])
        small, small_boxes, engine.size = webcam_scale(bgr, boxes, size)
        styled = engine.process(small)
        out.webcam += face_correlations([small], [styled], [small_boxes])
        if len(out.pairs) < sheet_pairs:
            out.pairs.append((path.stem, face_pair(small, styled, small_boxes[0])))
        out.webcam_blur += face_correlations([small], [cv2.GaussianBlur(small, (0, 0), BLUR_SIGMA)], [small_boxes])
    engine.size = size
    return out


@dataclass
class StillsResult:
    """The stills' figures: faces per kind, and the rooms' SWD by method (per pyramid level)."""

    folder: str
    size: int  # the rooms' square crop
    face_size: int  # the processing size for the faces
    precision: str  # the engine's, for the faces (the rooms go through the generator in fp32)
    faces: dict[str, FaceStills] = field(default_factory=dict)  # kind -> figures
    rooms: int = 0
    style_images: int = 0
    swd_levels: dict[str, list[float]] = field(default_factory=dict)
    swd_joint_levels: dict[str, list[float]] = field(default_factory=dict)

    def swd(self, method: str, joint: bool = False) -> float:
        return float(np.mean((self.swd_joint_levels if joint else self.swd_levels)[method]))

    def faces_all(self) -> FaceStills:
        return FaceStills.merged([self.faces[k] for k in FACE_KINDS if k in self.faces])

    def reinhard_margin(self) -> float | None:
        """How far the stylized rooms beat Reinhard on SWD+colour, in percent of Reinhard's (negative: behind)."""
        if not self.swd_joint_levels:
            return None
        reinhard = self.swd("reinhard", joint=True)
        return 100.0 * (reinhard - self.swd("stylized", joint=True)) / reinhard

    def summary(self) -> dict:
        out: dict = {"folder": self.folder, "size": self.size, "face_size": self.face_size, "precision": self.precision}
        if self.faces:
            out["faces"] = {k: f.summary() for k, f in self.faces.items()} | {"all": self.faces_all().summary()}
        if self.swd_levels:
            out["rooms"] = {
                "images": self.rooms,
                "style_images": self.style_images,
                "swd": {m: round(self.swd(m), 2) for m in self.swd_levels},
                "swd_joint": {m: round(self.swd(m, joint=True), 2) for m in self.swd_joint_levels},
                "swd_joint_margin_over_reinhard_pct": round(self.reinhard_margin(), 1),
            }
        return out

    def table(self) -> str:
        lines = []
        if self.faces:
            blur = f"blur s{BLUR_SIGMA:g}"
            head = (
                f"{'stills':12s} {'images':>6s} {'with faces':>10s} {'faces':>6s} {'face struct':>11s} {blur:>8s} "
                f"{'webcam scale':>12s} {blur:>8s}"
            )
            lines += [head, "-" * len(head)]
            rows = [(k, self.faces[k]) for k in FACE_KINDS if k in self.faces] + [("all", self.faces_all())]
            for name, f in rows:
                figures = f.summary()
                keys = ("face_structure", "blur", "face_structure_webcam_scale", "blur_webcam_scale")
                s, b, ws, wb = (float("nan") if figures[k] is None else figures[k] for k in keys)
                lines.append(
                    f"{name:12s} {f.images:6d} {f.with_faces:10d} {len(f.values):6d} {s:11.3f} {b:8.3f} {ws:12.3f} {wb:8.3f}"
                )
            lines.append(
                f"faces on stills at {self.face_size}px through the engine ({self.precision}), each still alone; "
                f"webcam scale: the face {WEBCAM_FACE_PX} px wide, processed at {self.face_size}/{WEBCAM_FRAME} of the still"
            )
        if self.swd_levels:
            if lines:
                lines.append("")
            head = f"{'rooms':24s} {'SWD x1e3':>9s} {'SWD+colour':>10s}"
            lines += [head, "-" * len(head)]
            for m in self.swd_levels:
                lines.append(f"{SWD_LABELS[m]:24s} {self.swd(m):9.2f} {self.swd(m, True):10.2f}")
            margin = self.reinhard_margin()
            lines.append(
                f"rooms: {self.rooms} at {self.size}x{self.size} against {self.style_images} style images; "
                f"SWD+colour {'ahead of' if margin > 0 else 'behind'} Reinhard by {abs(margin):.1f}%"
            )
        return "\n".join(lines)
