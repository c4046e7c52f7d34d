"""What a run leaves to look at: a CSV of losses (TensorBoard too when installed) and sample
grid PNGs."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import torch


class LossLog:
    """Appends rows to `losses.csv`; on resume, rows after the resumed step are dropped first."""

    def __init__(self, path: Path, resume_step: int | None = None, tensorboard_dir: Path | None = None) -> None:
        self.path = Path(path)
        self.fields: list[str] | None = None
        if self.path.exists():
            with self.path.open(newline="") as f:
                rows = list(csv.DictReader(f))
            if rows:
                self.fields = list(rows[0].keys())
            if resume_step is not None:
                rows = [r for r in rows if int(float(r["step"])) <= resume_step]
                self._rewrite(rows)
            elif rows:  # a fresh run in an old folder starts a fresh log
                self.path.unlink()
                self.fields = None
        self.tb = _tensorboard(tensorboard_dir) if tensorboard_dir else None

    def _rewrite(self, rows: list[dict]) -> None:
        if self.fields is None:
            return
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.fields)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, step: int, values: dict[str, float]) -> None:
        row = {"step": step, **{k: round(v, 6) if isinstance(v, float) else v for k, v in values.items()}}
        new = self.fields is None
        if new:
            self.fields = list(row)
        elif not set(row) <= set(self.fields):  # a resumed run logging a newer loss: widen the header
            with self.path.open(newline="") as f:
                rows = list(csv.DictReader(f))
            self.fields += [k for k in row if k not in self.fields]
            self._rewrite(rows)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.tb is not None:
            for key, value in values.items():
                if isinstance(value, float | int):
                    self.tb.add_scalar(key, value, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _tensorboard(logdir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(logdir))


def to_uint8_bgr(images: torch.Tensor) -> np.ndarray:
    """RGB float NCHW in [-1, 1] -> list-like N x H x W x 3 BGR uint8."""
    x = images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()[..., ::-1]


def save_grid(path: Path, rows: list[torch.Tensor], pad: int = 2) -> None:
    """One row per tensor (N images each, same size); written as a PNG."""
    strips = []
    for row in rows:
        imgs = to_uint8_bgr(row)
        cells = [np.pad(img, ((pad, pad), (pad, pad), (0, 0)), constant_values=255) for img in imgs]
        strips.append(np.concatenate(cells, axis=1))
    grid = np.concatenate(strips, axis=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    cv2.imwrite(str(tmp), grid)
    tmp.replace(path)
