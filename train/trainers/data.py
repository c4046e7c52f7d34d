"""Image folders for unpaired training: scanning with clear errors, decoding to RGB, and a
dataset whose every sample is a pure function of (seed, sample index).

That last property is what makes `--resume` exact and DataLoader workers harmless: the sample
at global index i (which image of A, which of B, the crop and the flip) is drawn from
`numpy.random.default_rng([seed, i])`, so no loader RNG state has to be saved.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from models.errors import StyleCamError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


@dataclass(frozen=True)
class FolderScan:
    """The usable images of a folder and what was left out."""

    folder: Path
    files: tuple[Path, ...]
    non_images: int = 0
    corrupt: int = 0
    too_small: int = 0

    def summary(self) -> str:
        skipped = [
            f"{n} {what}"
            for n, what in (
                (self.non_images, "non-image files"),
                (self.corrupt, "unreadable images"),
                (self.too_small, "too-small images"),
            )
            if n
        ]
        return f"{self.folder}: {len(self.files)} images" + (f" (skipped {', '.join(skipped)})" if skipped else "")


def read_rgb(path: Path) -> np.ndarray | None:
    """Decode any image to RGB uint8 HxWx3 (gray, RGBA, 16-bit converted); None if unreadable."""
    data = np.fromfile(str(path), dtype=np.uint8)  # works with spaces/unicode in names
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None or img.size == 0:
        return None
    if img.dtype != np.uint8:
        img = cv2.convertScaleAbs(img, alpha=255.0 / max(1.0, float(np.iinfo(img.dtype).max)))
    if img.ndim == 2 or img.shape[2] == 1:
        return cv2.cvtColor(img.reshape(img.shape[:2]), cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def scan_folder(folder: Path | str, min_size: int = 1, role: str = "images") -> FolderScan:
    """List the decodable images of `folder` whose short side is >= `min_size`.

    Non-image files, corrupt images and too-small images are skipped and counted; a missing
    folder or one with nothing usable is a one-line `StyleCamError`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise StyleCamError(f"{role} folder {folder} does not exist or is not a folder")
    entries = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    candidates = [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES]
    files, corrupt, small = [], 0, 0
    for path in candidates:
        shape = _image_shape(path)
        if shape is None:
            corrupt += 1
        elif min(shape) < min_size:
            small += 1
        else:
            files.append(path)
    scan = FolderScan(folder, tuple(files), len(entries) - len(candidates), corrupt, small)
    if not files:
        if small:
            raise StyleCamError(
                f"all {small} images in {folder} are smaller than {min_size}px; use a smaller --crop-size or bigger images"
            )
        raise StyleCamError(f"{role} folder {folder} has no readable images ({scan.summary()})")
    if corrupt or small:
        warnings.warn(scan.summary(), stacklevel=2)
    return scan


def _image_shape(path: Path) -> tuple[int, int] | None:
    img = read_rgb(path)
    return None if img is None else img.shape[:2]


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    # RGB uint8 HWC -> RGB float CHW in [-1, 1]
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


def resize_short(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    if (nh, nw) == (h, w):
        return rgb
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, (nw, nh), interpolation=interp)


def center_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return rgb[y : y + size, x : x + size]


def load_center(path: Path, load_size: int, crop_size: int) -> torch.Tensor:
    """Deterministic view of an image (samples, evaluation): resize, centre crop, [-1, 1] CHW."""
    rgb = read_rgb(path)
    if rgb is None:
        raise StyleCamError(f"image {path} became unreadable during training")
    return to_tensor(center_crop(resize_short(rgb, load_size), crop_size))


class UnpairedDataset(Dataset):
    """Sample i: (A image, B image), each resized, randomly cropped and flipped.

    A is visited in a fresh permutation each epoch (epoch = max(|A|, |B|) samples), B is drawn
    at random, as in the reference CycleGAN's unaligned dataset.
    """

    def __init__(
        self,
        files_a: tuple[Path, ...],
        files_b: tuple[Path, ...],
        load_size: int,
        crop_size: int,
        flip: bool,
        seed: int,
    ) -> None:
        self.files_a, self.files_b = files_a, files_b
        self.load_size, self.crop_size, self.flip, self.seed = load_size, crop_size, flip, seed
        self.min_load_size: int | None = None  # a scale range's lower end (SingleDomainDataset)
        self.epoch_length = max(len(files_a), len(files_b))
        self._perm_epoch, self._perm = -1, np.arange(len(files_a))

    def __len__(self) -> int:
        return self.epoch_length

    def _a_index(self, i: int) -> int:
        epoch = i // self.epoch_length
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, epoch, 1]).permutation(len(self.files_a))
            self._perm_epoch = epoch
        return int(self._perm[(i % self.epoch_length) % len(self.files_a)])

    def _load_size(self, rng: np.random.Generator) -> int:
        """The short side this sample is resized to: `load_size`, or with a scale range one drawn
        from it (drawn only then, so runs without one see the same crops as before it existed)."""
        if self.min_load_size is None or self.min_load_size >= self.load_size:
            return self.load_size
        return int(rng.integers(self.min_load_size, self.load_size + 1))

    def _augment(self, path: Path, rng: np.random.Generator) -> torch.Tensor:
        rgb = read_rgb(path)
        if rgb is None:
            raise StyleCamError(f"image {path} became unreadable during training")
        rgb = resize_short(rgb, self._load_size(rng))
        h, w = rgb.shape[:2]
        y = int(rng.integers(0, h - self.crop_size + 1))
        x = int(rng.integers(0, w - self.crop_size + 1))
        rgb = rgb[y : y + self.crop_size, x : x + self.crop_size]
        if self.flip and rng.random() < 0.5:
            rgb = rgb[:, ::-1]
        return to_tensor(rgb)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, i, 0])
        b_index = int(rng.integers(0, len(self.files_b)))
        image_a = self._augment(self.files_a[self._a_index(i)], rng)
        image_b = self._augment(self.files_b[b_index], rng)
        return image_a, image_b


class StepBatchSampler(Sampler[list[int]]):
    """Endless batches of global sample indices for one process, starting at `start_step`.

    Step s of rank r takes samples [(s*world + r)*batch, ...+batch): disjoint across ranks and
    independent of how many steps ran before a resume.
    """

    def __init__(self, batch_size: int, start_step: int = 0, rank: int = 0, world_size: int = 1) -> None:
        self.batch_size, self.start_step, self.rank, self.world_size = batch_size, start_step, rank, world_size

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while True:
            first = (step * self.world_size + self.rank) * self.batch_size
            yield list(range(first, first + self.batch_size))
            step += 1


def steps_per_epoch(epoch_length: int, batch_size: int, world_size: int) -> int:
    return max(1, math.ceil(epoch_length / (batch_size * world_size)))


class SingleDomainDataset(UnpairedDataset):
    """Sample i: one augmented image of a single folder (distillation needs only photos)."""

    def __init__(
        self,
        files: tuple[Path, ...],
        load_size: int,
        crop_size: int,
        flip: bool,
        seed: int,
        min_load_size: int | None = None,
    ) -> None:
        super().__init__(files, files, load_size, crop_size, flip, seed)
        self.min_load_size = min_load_size

    def __getitem__(self, i: int) -> torch.Tensor:  # type: ignore[override]
        return self._augment(self.files_a[self._a_index(i)], np.random.default_rng([self.seed, i, 0]))


SAMPLE_COUNT = 4  # images per domain in a run's sample grids


def sample_batch(
    test_dirs: tuple[Path, Path] | None, crop_size: int, files_a: tuple, files_b: tuple
) -> tuple[torch.Tensor, torch.Tensor]:
    """A few fixed images of each domain (from the test folders when there are any), spread over
    the sorted files, shown in a run's sample grids every --sample-every steps."""
    if test_dirs is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            files_a, files_b = scan_folder(test_dirs[0]).files, scan_folder(test_dirs[1]).files
    size = max(256, crop_size)
    pick = lambda files: [files[i * len(files) // SAMPLE_COUNT] for i in range(min(SAMPLE_COUNT, len(files)))]  # noqa: E731
    a = torch.stack([load_center(p, size, size) for p in pick(files_a)])
    b = torch.stack([load_center(p, size, size) for p in pick(files_b)])
    n = min(len(a), len(b))
    return a[:n], b[:n]


def unpaired_data_info(scan_a: FolderScan, scan_b: FolderScan) -> dict:
    """What a checkpoint records of its two domains: the folders and how many images each held."""
    return {
        "domain_a": str(scan_a.folder),
        "domain_b": str(scan_b.folder),
        "images_a": len(scan_a.files),
        "images_b": len(scan_b.files),
    }
