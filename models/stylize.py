"""Offline stylization of image and video files (the `stylize` command).

Output is never left half-written under the requested name: everything is written to a
temporary file beside it and renamed at the end; a failure removes the temporary file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from models.engine import InferenceEngine
from models.errors import MediaError
from models.video_io import H264Writer, VideoReader, snap_to_frame_grid

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_OUTPUT_SUFFIXES = {".mp4"}


def stylize_file(source: Path, target: Path, engine: InferenceEngine, progress: bool = True) -> int:
    """Stylize an image or a video; returns the number of frames written."""
    source, target = Path(source), Path(target)
    if not source.exists():
        raise MediaError(f"input {source} does not exist; check the path")
    if source.suffix.lower() in IMAGE_SUFFIXES:
        if target.suffix.lower() not in IMAGE_SUFFIXES:
            raise MediaError(
                f"output {target} must be an image ({', '.join(sorted(IMAGE_SUFFIXES))}) for an image input"
            )
        _atomically(target, lambda tmp: stylize_image(source, tmp, engine))
        return 1
    if target.suffix.lower() not in VIDEO_OUTPUT_SUFFIXES:
        raise MediaError(f"output {target} must end in .mp4 (H.264) for a video input")
    return _atomically(target, lambda tmp: stylize_video(source, tmp, engine, progress))


def read_image(path: Path) -> np.ndarray:
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None or image.size == 0:
        raise MediaError(f"image {path} cannot be decoded (empty, corrupt or not an image)")
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF
        image = (image / 257).astype(np.uint8)
    return image


def stylize_image(source: Path, target: Path, engine: InferenceEngine) -> int:
    out = engine.process(read_image(source))
    ok, encoded = cv2.imencode(target.suffix, out)
    if not ok:
        raise MediaError(f"cannot encode image {target}")
    encoded.tofile(str(target))
    return 1


def stylize_video(source: Path, target: Path, engine: InferenceEngine, progress: bool = True) -> int:
    """Keeps frame count, frame timing, resolution and the audio track of `source`."""
    with VideoReader(source) as reader:
        info = reader.info
        with H264Writer(target, info.width, info.height, info.fps, audio_template=reader.audio) as writer:
            bar = tqdm(total=info.frames, unit="frame", desc=source.name, disable=not progress, dynamic_ncols=True)
            start = None
            for kind, item in reader.demux():
                if kind == "audio":
                    writer.write_audio(item)
                    continue
                frame, seconds = item
                if seconds is not None:
                    start = seconds if start is None else start
                    seconds = snap_to_frame_grid(seconds - start, info.fps)
                writer.write(engine.process(frame), seconds)
                bar.update(1)
            bar.close()
            if writer.frames_written == 0:
                raise MediaError(f"video {source} has no decodable frames")
            return writer.frames_written


def _atomically(target: Path, write: Callable[[Path], int]) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.partial{target.suffix}")
    try:
        count = write(tmp)
        os.replace(tmp, target)
        return count
    finally:
        if tmp.exists():
            tmp.unlink()
