"""How `make-style` judges what it made, in figures and in the words the user sees.

- Paintings held back from training: SWD and SWD+colour of the stylized photos against them,
  beside Reinhard colour transfer to the same paintings (train.evaluate's figures, the same code).
  "Closer to your paintings than a colour transfer" means a lower SWD+colour than Reinhard's.
- Faces and flicker: with a video among the photos, through the app's engine with its temporal
  stabilizer on that video's first frames (train/evaluation/webcam_metrics.py); with stills only,
  faces on the stills (the same gradient correlation inside the faces OpenCV finds) and no flicker.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from torch import nn

from models.engine import InferenceEngine
from train.evaluation.evaluate import ClipSetup, EvalResult, evaluate_generators
from train.evaluation.webcam_metrics import face_boxes, face_correlations
from train.trainers.data import read_rgb, scan_folder

STILL_FACE_PHOTOS = 200  # stills searched for faces, evenly spaced
ENGINE_SIZE = 256  # the live view's processing size on a CPU


@dataclass
class Verdict:
    """The figures a made style is judged by (None where nothing could be measured)."""

    swd: float
    swd_colour: float
    reinhard_swd: float
    reinhard_swd_colour: float
    photos_swd_colour: float
    faces: float | None
    faces_from: str  # "video", "photos" or "" (no faces found)
    face_count: int
    flicker: float | None  # with the stabilizer; None without a video
    ms_per_frame: float | None
    held_out: int
    photos: int

    def beats_colour_transfer(self) -> bool:
        return self.swd_colour < self.reinhard_swd_colour

    def summary(self) -> str:
        """One plain line: "closer to your paintings than a colour transfer: yes; faces kept: 0.71"."""
        faces = f"{self.faces:.2f}" if self.faces is not None else "not measured (no faces found)"
        line = f"closer to your paintings than a colour transfer: {'yes' if self.beats_colour_transfer() else 'no'}"
        line += f"; faces kept: {faces}"
        if self.flicker is not None:
            line += f"; flicker: {self.flicker:.2f} (1 = as steady as the camera)"
        return line

    def to_dict(self) -> dict:
        out = {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}
        out["beats_colour_transfer"] = self.beats_colour_transfer()
        out["summary"] = self.summary()
        return out


def judge(
    generator: nn.Module,
    photos_dir: Path,
    held_out_dir: Path,
    videos: list[Path],
    *,
    size: int = 256,
    sheet: Path | None = None,
    face_sheet: Path | None = None,
    time_engine: bool = True,
) -> tuple[Verdict, EvalResult]:
    """Evaluate `generator` on the photos in `photos_dir` against the held-out paintings, with
    faces and flicker on `videos` (else faces on the stills of `photos_dir`)."""
    clips = ClipSetup(tuple(videos), ENGINE_SIZE, face_sheet=face_sheet, label="new style") if videos else None
    result = evaluate_generators(
        generator, None, photos_dir, held_out_dir, size=size, max_images=None, sheet=sheet,
        time_engine=time_engine, clips=clips,
    )  # fmt: skip
    faces, faces_from, count, flicker = None, "", 0, None
    if result.webcam is not None:
        flicker = result.webcam.flicker_ratio_median()
        values = [v for c in result.webcam.clips.values() for v in c.face_values]
        if values:
            faces, faces_from, count = float(np.mean(values)), "video", len(values)
    if faces is None:
        values = still_faces(generator, photos_dir)
        if values:
            faces, faces_from, count = float(np.mean(values)), "photos", len(values)
    verdict = Verdict(
        swd=result.swd("stylized"),
        swd_colour=result.swd("stylized", joint=True),
        reinhard_swd=result.swd("reinhard"),
        reinhard_swd_colour=result.swd("reinhard", joint=True),
        photos_swd_colour=result.swd("photos", joint=True),
        faces=None if faces is None or math.isnan(faces) else faces,
        faces_from=faces_from,
        face_count=count,
        flicker=flicker,
        ms_per_frame=result.ms_per_frame,
        held_out=result.style_images,
        photos=result.photos,
    )
    return verdict, result


def still_faces(generator: nn.Module, folder: Path, limit: int = STILL_FACE_PHOTOS) -> list[float]:
    """Gradient correlation inside every face OpenCV finds in (up to `limit` of) the stills,
    each stylized alone through the app's engine (no stabilizer: a still has no previous frame)."""
    files = scan_folder(folder, 1, "photos").files
    files = [files[i * len(files) // limit] for i in range(limit)] if len(files) > limit else list(files)
    engine: InferenceEngine | None = None
    values: list[float] = []
    for path in files:
        rgb = read_rgb(path)
        if rgb is None:
            continue
        frame = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        boxes = face_boxes(frame)
        if not boxes:
            continue
        if engine is None:
            engine = InferenceEngine("auto", size=ENGINE_SIZE)
            engine.set_style(generator.eval(), "new style")
        values += face_correlations([frame], [engine.process(frame)], [boxes])
    return values
