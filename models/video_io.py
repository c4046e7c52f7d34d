"""Reading videos and writing H.264 MP4 with PyAV: shared by `stylize`, the app's recorder and
the benchmarks.

Writers can produce fragmented MP4 (the app's recordings): every keyframe closes a fragment,
so a crash or a full disk leaves everything up to the last fragment playable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from models.errors import MediaError

TIME_BASE = Fraction(1, 90000)
MP4_AUDIO_CODECS = {"aac", "mp3", "alac", "opus", "flac", "ac3", "eac3"}
FRAGMENTED = "frag_keyframe+empty_moov+default_base_moof"


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    frames: int | None
    has_audio: bool
    duration_s: float | None


def snap_to_frame_grid(seconds: float, fps: Fraction) -> float:
    """Undo container rounding (Matroska stores milliseconds): a timestamp within a quarter frame
    of the nominal grid goes onto it, so a 30 fps source stays exactly 30 fps; real variable-rate
    timing is kept."""
    position = seconds * float(fps)
    nearest = round(position)
    return float(nearest / fps) if abs(position - nearest) < 0.25 else seconds


class FrameClock:
    """Timestamps for frames that arrive at irregular real times (the app's recordings).

    Each frame goes on the nearest slot of a fixed `fps` grid, and at least one slot after the
    previous frame, so timestamps strictly increase even counted in whole frames at the file's
    own rate, which is how players and `ffmpeg` retime a stream (capture jitter used to put two
    frames 10 ms apart on one tick there: "non monotonically increasing dts"). A frame that would
    land more than `MAX_LEAD` slots ahead of its real time is dropped (`place` returns None)
    instead, so a recording never drifts from real time when frames come faster than `fps`.
    """

    MAX_LEAD = 1.5  # slots: room for capture jitter after a frame was pushed back one slot

    def __init__(self, fps: float | Fraction) -> None:
        self.fps = Fraction(fps).limit_denominator(1001)
        self.slot = -1  # the last frame's slot

    def place(self, seconds: float) -> float | None:
        """The timestamp (s) for a frame captured `seconds` after the first one, or None to drop it."""
        exact = seconds * float(self.fps)
        slot = max(round(exact), self.slot + 1)
        if slot - exact > self.MAX_LEAD:
            return None
        self.slot = slot
        return float(slot / self.fps)

    @property
    def end(self) -> float:
        """Where the last placed frame ends (s): the length of the recording."""
        return float((self.slot + 1) / self.fps)


class VideoReader:
    """Decodes a video file to BGR frames; `demux()` also hands out audio packets for remuxing."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise MediaError(f"video {self.path} does not exist; check the path")
        try:
            self.container = av.open(str(self.path))
        except (av.FFmpegError, OSError, ValueError) as err:
            raise MediaError(f"video {self.path} cannot be opened ({err}); is it a video file?") from err
        if not self.container.streams.video:
            self.container.close()
            raise MediaError(f"video {self.path} has no video stream")
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None

    @property
    def info(self) -> VideoInfo:
        cc = self.video.codec_context
        fps = self.video.average_rate or self.video.guessed_rate or Fraction(30)
        duration = float(self.container.duration / av.time_base) if self.container.duration else None
        frames = self.video.frames or None
        return VideoInfo(cc.width, cc.height, Fraction(fps), frames, self.audio is not None, duration)

    def frames(self) -> Iterator[tuple[np.ndarray, float | None]]:
        """(BGR frame, presentation time in seconds) for every decoded frame."""
        for kind, item in self.demux(with_audio=False):
            if kind == "video":
                yield item

    def demux(self, with_audio: bool = True) -> Iterator[tuple[str, object]]:
        """Yields ("video", (bgr, seconds)) and, if asked, ("audio", packet) in file order."""
        streams = [self.video] + ([self.audio] if with_audio and self.audio is not None else [])
        try:
            for packet in self.container.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None:
                        yield "audio", packet
                    continue
                for frame in packet.decode():
                    seconds = float(frame.pts * frame.time_base) if frame.pts is not None else None
                    yield "video", (frame.to_ndarray(format="bgr24"), seconds)
        except av.FFmpegError as err:
            raise MediaError(f"video {self.path} is corrupt or truncated ({err})") from err

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class H264Writer:
    """Encodes BGR frames to H.264 (yuv420p) in MP4 with explicit timestamps.

    Odd frame sizes are padded by one replicated pixel (yuv420p needs even sides).
    """

    def __init__(
        self,
        path: Path | str,
        width: int,
        height: int,
        fps: float | Fraction,
        audio_template: av.audio.stream.AudioStream | None = None,
        fragmented: bool = False,
        crf: int = 20,
        preset: str = "veryfast",
    ) -> None:
        self.path = Path(path)
        self.width, self.height = width, height
        self.fps = Fraction(fps).limit_denominator(1001)
        options = {"movflags": FRAGMENTED if fragmented else "+faststart"}
        try:
            self.container = av.open(str(self.path), mode="w", format="mp4", options=options)
        except (av.FFmpegError, OSError) as err:
            raise MediaError(
                f"cannot write video {self.path} ({err}); check the folder exists and is writable"
            ) from err
        self.stream = self.container.add_stream("libx264", rate=self.fps)
        self.stream.width, self.stream.height = width + width % 2, height + height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.time_base = TIME_BASE
        self.stream.codec_context.time_base = TIME_BASE
        gop = max(1, round(float(self.fps) * (1 if fragmented else 4)))
        self.stream.codec_context.gop_size = gop
        self.stream.options = {"crf": str(crf), "preset": preset}
        self._audio_out, self._audio_codec, self._resampler = self._add_audio(audio_template)
        self.frames_written = 0
        self._last_pts = -1

    def _add_audio(self, template: av.audio.stream.AudioStream | None) -> tuple:
        if template is None:
            return None, None, None
        if template.codec_context.name in MP4_AUDIO_CODECS:
            return self.container.add_stream_from_template(template), None, None
        out = self.container.add_stream("aac", rate=template.codec_context.sample_rate or 48000)
        return out, template.codec_context, av.AudioResampler(format="fltp", layout="stereo", rate=out.rate)

    def write(self, bgr: np.ndarray, seconds: float | None = None) -> None:
        """Encode one frame at `seconds` (default: frame index / fps)."""
        if bgr.shape[0] != self.height or bgr.shape[1] != self.width:
            raise MediaError(f"frame {bgr.shape[1]}x{bgr.shape[0]} does not match video {self.width}x{self.height}")
        if self.width % 2 or self.height % 2:
            bgr = np.pad(bgr, ((0, self.height % 2), (0, self.width % 2), (0, 0)), mode="edge")
        if seconds is None:
            seconds = self.frames_written / self.fps
        pts = max(round(seconds / TIME_BASE), self._last_pts + 1)  # strictly increasing
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
        frame.pts, frame.time_base = pts, TIME_BASE
        self._last_pts = pts
        self._mux(self.stream.encode(frame))
        self.frames_written += 1

    def write_audio(self, packet: av.Packet) -> None:
        """Copy (or transcode to AAC) one audio packet from the source file."""
        if self._audio_out is None:
            return
        if self._resampler is None:
            packet.stream = self._audio_out
            self._mux([packet])
            return
        for frame in packet.decode():
            for resampled in self._resampler.resample(frame):
                self._mux(self._audio_out.encode(resampled))

    def _mux(self, packets: list) -> None:
        try:
            self.container.mux(packets)
        except (av.FFmpegError, OSError) as err:
            raise MediaError(f"writing video {self.path} failed ({err}); is the disk full?") from err

    def close(self) -> None:
        """Flush the encoders and finish the file (idempotent)."""
        if self.container is None:
            return
        try:
            self._mux(self.stream.encode(None))
            if self._resampler is not None:
                self._mux(self._audio_out.encode(None))
        finally:
            container, self.container = self.container, None
            try:
                container.close()
            except (av.FFmpegError, OSError) as err:
                raise MediaError(f"finishing video {self.path} failed ({err}); is the disk full?") from err

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
