"""What `make-style` trains on: the user's paintings, checked and split, and the photos to learn
from, gathered from folders and videos.

- `check_paintings`: at least MIN_PAINTINGS decodable images, else one line saying what was found.
- `split_held_out`: a fixed 10% of the paintings (the same every run) kept for judging the style.
- `video_frames`: one frame every half second of a video, at most MAX_FRAMES.
- `gather_photos` / `write_images`: copies at the training size in the run folder, so the trainer
  reads small files and a rerun does not depend on the sources still being there.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from models.errors import MediaError, StyleCamError
from models.style_library import MIN_PAINTINGS
from models.video_io import VideoReader
from train.trainers.data import IMAGE_SUFFIXES, read_rgb, resize_short, scan_folder

HELD_OUT_FRACTION = 0.1
MIN_HELD_OUT = 2
FRAME_INTERVAL = 0.5  # seconds between the frames taken from a video
MAX_FRAMES = 60  # per video: 30 s of it
MAX_PHOTOS = 1000  # a big folder is thinned evenly: more adds decoding time, not variety
MIN_PHOTOS = 5
SPLIT_SEED = 33


def check_paintings(folder: Path | str) -> list[Path]:
    """The decodable images of the paintings folder, or one-line StyleCamError: missing, empty,
    nothing decodable, fewer than MIN_PAINTINGS."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the error below says what was skipped
        scan = scan_folder(folder, 1, "paintings")
    if len(scan.files) < MIN_PAINTINGS:
        raise StyleCamError(f"{scan.summary()}: a style needs at least {MIN_PAINTINGS} paintings (jpg, png, webp...)")
    return list(scan.files)


def split_held_out(files: Sequence[Path], fraction: float = HELD_OUT_FRACTION) -> tuple[list[Path], list[Path]]:
    """(training, held out): a fixed pick of `fraction` of the files (at least MIN_HELD_OUT), the
    same for the same folder on every run."""
    ordered = sorted(files, key=lambda p: p.name)
    count = max(MIN_HELD_OUT, round(len(ordered) * fraction))
    picked = set(np.random.default_rng(SPLIT_SEED).choice(len(ordered), count, replace=False).tolist())
    held = [p for i, p in enumerate(ordered) if i in picked]
    return [p for i, p in enumerate(ordered) if i not in picked], held


def is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() not in IMAGE_SUFFIXES


def video_frames(path: Path | str, interval: float = FRAME_INTERVAL, limit: int = MAX_FRAMES) -> list[np.ndarray]:
    """RGB frames of a video, the first and then one every `interval` seconds, at most `limit`."""
    frames: list[np.ndarray] = []
    due = 0.0
    try:
        with VideoReader(path) as reader:
            fps = float(reader.info.fps) or 30.0
            for index, (bgr, seconds) in enumerate(reader.frames()):
                at = seconds if seconds is not None else index / fps
                if at + 1e-6 >= due:
                    frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                    due = at + interval
                    if len(frames) == limit:
                        break
    except MediaError as err:
        raise StyleCamError(f"--photos {path}: {err}") from err
    return frames


def thin(files: Sequence[Path], limit: int) -> list[Path]:
    """At most `limit` of `files`, evenly spaced."""
    if len(files) <= limit:
        return list(files)
    return [files[i * len(files) // limit] for i in range(limit)]


@dataclass
class PhotoSources:
    """What --photos named: image files from folders, and videos (whose frames are taken)."""

    images: list[Path] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)


def find_photo_sources(specs: Iterable[Path | str]) -> PhotoSources:
    """Sort each --photos into a folder of images or a video; one line for anything else."""
    sources = PhotoSources()
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sources.images += scan_folder(path, 1, "photos").files
        elif is_video(path):
            sources.videos.append(path)
        elif path.is_file():
            raise StyleCamError(f"--photos {path}: give a folder of photos or a video file, not one image")
        else:
            raise StyleCamError(f"--photos {path} does not exist")
    return sources


def gather_photos(sources: PhotoSources, out: Path, size: int, limit: int = MAX_PHOTOS) -> int:
    """Write the photos to learn from into `out` at short side `size`: the folders' images (thinned
    to `limit` in all) and each video's frames. Returns how many; fewer than MIN_PHOTOS is an error."""
    images = (read_rgb(p) for p in thin(sources.images, limit))
    count = write_images(images, out, size, "photo")
    for video in sources.videos:
        count += write_images(video_frames(video), out, size, f"{video.stem}_frame", start=0)
    if count < MIN_PHOTOS:
        raise StyleCamError(f"--photos gave {count} photos or frames; give at least {MIN_PHOTOS}")
    return count


def write_jpeg(rgb: np.ndarray, path: Path, size: int) -> None:
    """One RGB image as a JPEG at short side `size` (never enlarged); OSError if it cannot be written."""
    if min(rgb.shape[:2]) > size:
        rgb = resize_short(rgb, size)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise OSError(f"could not write {path}")


def write_images(images: Iterable[np.ndarray | None], out: Path, size: int, prefix: str, start: int = 0) -> int:
    """RGB images as JPEGs `out/PREFIX_NNNNN.jpg` at short side `size` (never enlarged); None skipped."""
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for rgb in images:
        if rgb is None:
            continue
        write_jpeg(rgb, out / f"{prefix}_{start + count:05d}.jpg", size)
        count += 1
    return count


def copy_paintings(files: Sequence[Path], out: Path, size: int) -> int:
    """The paintings at short side `size` in `out`, as JPEGs numbered in order (names kept after the number)."""
    out.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(files):
        rgb = read_rgb(path)
        if rgb is None:
            continue
        write_jpeg(rgb, out / f"{index:05d}_{path.stem}.jpg", size)
    return len(files)
