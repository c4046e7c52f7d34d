"""Offline stylization of image and video files (the `stylize` command).

Output is never left half-written under the requested name: everything is written to a
temporary file beside it and renamed at the end; a failure removes the temporary file. A video
that ends before its stated length (cut short, damaged further in) still gives the frames it
holds, with one warning saying so.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from tqdm import tqdm

from models.errors import MediaError, StyleCamError
from models.video_io import H264Writer, VideoInfo, VideoReader, snap_to_frame_grid

if TYPE_CHECKING:  # the argument checks below run before torch is imported, so a bad argument fails at once
    from models.engine import InferenceEngine

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_OUTPUT_SUFFIXES = {".mp4"}
MIN_SIZE, MAX_SIZE = 32, 4096  # processing size (short side); below 32 the generators' padding fails
Warn = Callable[[str], None]


def check_size(size: int) -> None:
    """`--size`: 0 (native) or MIN_SIZE..MAX_SIZE pixels, else one line naming the range."""
    if size != 0 and not MIN_SIZE <= size <= MAX_SIZE:
        raise StyleCamError(
            f"--size {size} is out of range; use 0 (native) or {MIN_SIZE} to {MAX_SIZE} (the short side in pixels)"
        )


def check_detail(detail: float | None) -> None:
    """`--detail`: 0..1, else one line naming the range."""
    if detail is not None and not 0.0 <= detail <= 1.0:
        raise StyleCamError(f"--detail {detail} is out of range; use a value from 0 (plain resize) to 1 (every edge)")


def check_job(source: Path, target: Path) -> None:
    """Everything about the two paths that can be said before a style is loaded."""
    source, target = Path(source), Path(target)
    if not source.exists():
        raise MediaError(f"input {source} does not exist; check the path")
    if source.is_dir():
        raise MediaError(f"input {source} is a folder; give one image or video file")
    if target.resolve() == source.resolve() or (target.exists() and target.samefile(source)):
        raise MediaError(
            f"output {target} is the input file itself; stylize never overwrites its input, choose another output name"
        )
    if target.is_dir():
        raise MediaError(f"output {target} is a folder; give a file name (e.g. {target / ('styled_' + source.name)})")
    if source.suffix.lower() in IMAGE_SUFFIXES:
        if target.suffix.lower() not in IMAGE_SUFFIXES:
            raise MediaError(
                f"output {target} must be an image ({', '.join(sorted(IMAGE_SUFFIXES))}) for an image input"
            )
    elif target.suffix.lower() not in VIDEO_OUTPUT_SUFFIXES:
        raise MediaError(f"output {target} must end in .mp4 (H.264) for a video input")


def stylize_file(
    source: Path, target: Path, engine: InferenceEngine, progress: bool = True, warn: Warn | None = None
) -> int:
    """Stylize an image or a video; returns the number of frames written. `warn` gets one-line
    warnings (an input that ended early); by default they go to `warnings.warn`."""
    source, target = Path(source), Path(target)
    check_job(source, target)
    warn = warn or (lambda message: warnings.warn(message, stacklevel=3))
    if source.suffix.lower() in IMAGE_SUFFIXES:
        _atomically(target, lambda tmp: stylize_image(source, tmp, engine))
        return 1
    return _atomically(target, lambda tmp: stylize_video(source, tmp, engine, progress, warn))


def read_image(path: Path) -> np.ndarray:
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None or image.size == 0:
        raise MediaError(f"image {path} cannot be decoded (empty, corrupt or not an image)")
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF
        image = (image / 257).astype(np.uint8)
    return image


def stylize_image(source: Path, target: Path, engine: InferenceEngine) -> int:
    engine.reset_stream()  # an image is a stream of its own: nothing of an earlier file blends in
    out = engine.process(read_image(source))
    ok, encoded = cv2.imencode(target.suffix, out)
    if not ok:
        raise MediaError(f"cannot encode image {target}")
    encoded.tofile(str(target))
    return 1


def stylize_video(
    source: Path, target: Path, engine: InferenceEngine, progress: bool = True, warn: Warn | None = None
) -> int:
    """Keeps frame count, frame timing, resolution and the audio track of `source`; an input that
    ends early or breaks off gives what it held, and one line to `warn`."""
    warn = warn or (lambda message: warnings.warn(message, stacklevel=2))
    engine.reset_stream()  # with the stabilizer on, frames blend with the file's own previous ones only
    with VideoReader(source) as reader:
        info = reader.info
        with H264Writer(target, info.width, info.height, info.fps, audio_template=reader.audio) as writer:
            bar = tqdm(total=info.frames, unit="frame", desc=source.name, disable=not progress, dynamic_ncols=True)
            start = last = None
            damage = None
            items = reader.demux()
            while True:
                try:
                    kind, item = next(items)
                except StopIteration:
                    break
                except MediaError as err:  # decoding broke off: keep what came before, if anything
                    if writer.frames_written == 0:
                        raise
                    damage = err.__cause__ or err
                    break
                if kind == "audio":
                    writer.write_audio(item)
                    continue
                frame, seconds = item
                if seconds is not None:
                    start = seconds if start is None else start
                    seconds = last = snap_to_frame_grid(seconds - start, info.fps)
                writer.write(engine.process(frame), seconds)
                bar.update(1)
            bar.close()
            if writer.frames_written == 0:
                raise MediaError(f"video {source} has no decodable frames")
            shortfall = _ended_early(source, info, writer.frames_written, last, damage)
            if shortfall:
                warn(shortfall)
            return writer.frames_written


def _ended_early(source: Path, info: VideoInfo, frames: int, last: float | None, damage: object) -> str | None:
    """One line when a video held fewer frames than it says (None when it held them all)."""
    held = f"wrote the {frames} frame{'s' if frames != 1 else ''} it held"
    if damage is not None:
        return f"{source} is damaged after frame {frames} ({damage}); {held}"
    if info.frames:  # a stated frame count (MP4): allow for a frame or two an edit list hides
        if frames < info.frames - 2:
            return f"{source} ended after {frames} of {info.frames} frames (the file is truncated or damaged); {held}"
        return None
    if info.duration_s and last is not None:  # only a stated duration (Matroska, WebM)
        reached = last + 1 / float(info.fps)
        if info.duration_s - reached > max(0.5, 3 / float(info.fps)):  # an audio track may run a little longer
            about = round(info.duration_s * float(info.fps))
            return (
                f"{source} ended after {frames} of about {about} frames ({reached:.1f} of {info.duration_s:.1f} s; "
                f"the file is truncated or damaged); {held}"
            )
    return None


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
