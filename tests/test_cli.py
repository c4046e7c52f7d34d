"""The command line on real files: `stylize` keeps frames, timing, size and audio; bad inputs give
one clear line, a non-zero exit and no output file pretending to be complete."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from models.style_library import StyleLibrary
from models.video_io import VideoReader
from tests.conftest import REPO, shared_path


def run_cli(*args: str, weights: Path) -> subprocess.CompletedProcess:
    env = {"STYLECAM_WEIGHTS": str(weights), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "2"}
    return subprocess.run(
        [sys.executable, "main.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def make_clip_with_audio(path: Path, frames: int = 24, fps: int = 12, size: tuple[int, int] = (96, 64)) -> None:
    """A short H.264 + AAC clip made with PyAV (no bundled media)."""
    w, h = size
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        audio = out.add_stream("aac", rate=44100)
        for i in range(frames):
            img = np.full((h, w, 3), (i * 10) % 255, np.uint8)
            out.mux(video.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        t = np.arange(int(44100 * frames / fps)) / 44100
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for start in range(0, len(tone), 1024):
            chunk = tone[start : start + 1024][None, :]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, start
            out.mux(audio.encode(frame))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))


def test_stylize_image(library: StyleLibrary, tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), np.random.default_rng(0).integers(0, 256, (67, 101, 3), dtype=np.uint8))
    out = tmp_path / "out.jpg"
    run = run_cli("stylize", str(src), str(out), "--style", "beta", "--size", "64", weights=library.root)
    assert run.returncode == 0, run.stderr
    assert cv2.imread(str(out)).shape == (67, 101, 3)


def test_stylize_video_keeps_frames_rate_size_and_audio(library: StyleLibrary, tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    make_clip_with_audio(src)
    out = tmp_path / "styled.mp4"
    run = run_cli("stylize", str(src), str(out), "--size", "32", weights=library.root)
    assert run.returncode == 0, run.stderr
    assert "frame/s" in run.stderr  # the progress bar reports speed
    with VideoReader(out) as reader:
        info = reader.info
        assert (info.width, info.height, info.fps, info.has_audio) == (96, 64, Fraction(12), True)
        assert sum(1 for _ in reader.frames()) == 24
        assert reader.video.codec_context.name == "h264"


@pytest.mark.shared_data
def test_stylize_real_clip_round_trip(library: StyleLibrary, tmp_path: Path) -> None:
    src = shared_path("videos", "book.mkv")
    out = tmp_path / "book_styled.mp4"
    run = run_cli("stylize", str(src), str(out), "--style", "alpha", "--size", "64", weights=library.root)
    assert run.returncode == 0, run.stderr
    with VideoReader(src) as a, VideoReader(out) as b:
        frames_in, frames_out = list(a.frames()), list(b.frames())
        assert len(frames_out) == len(frames_in) == 109
        assert b.info.fps == a.info.fps == 30
        assert frames_out[0][0].shape == frames_in[0][0].shape == (480, 640, 3)
        assert abs(frames_out[-1][1] - (frames_in[-1][1] - frames_in[0][1])) < 1e-3  # same timing


@pytest.mark.parametrize(
    ("make_input", "out_name", "message"),
    [
        (lambda p: p.joinpath("garbage.mp4").write_bytes(b"\x00not a video" * 50), "o.mp4", "cannot be opened"),
        (lambda p: p.joinpath("empty.png").write_bytes(b""), "o.png", "cannot be decoded"),
        (lambda p: p.joinpath("nothing.mp4"), "o.mp4", "does not exist"),
        (lambda p: p.joinpath("notes.txt").write_text("hello"), "o.mp4", "cannot be opened"),
        (lambda p: cv2.imwrite(str(p / "in.png"), np.zeros((8, 8, 3), np.uint8)), "o.mp4", "must be an image"),
    ],
    ids=["garbage-video", "zero-size-image", "missing", "text-file", "image-to-video"],
)
def test_bad_inputs_fail_cleanly(
    library: StyleLibrary, tmp_path: Path, make_input, out_name: str, message: str
) -> None:
    before = set(tmp_path.iterdir())
    make_input(tmp_path)
    src = (set(tmp_path.iterdir()) - before or {tmp_path / "nothing.mp4"}).pop()
    out = tmp_path / "out" / out_name
    run = run_cli("stylize", str(src), str(out), weights=library.root)
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], run.stderr
    assert not out.exists()
    assert not any(out.parent.glob("*partial*")) if out.parent.exists() else True


def test_bad_style_is_clear(library: StyleLibrary, tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), np.zeros((8, 8, 3), np.uint8))
    run = run_cli("stylize", str(src), str(tmp_path / "o.png"), "--style", "nope", weights=library.root)
    assert run.returncode == 1 and "not in the library" in run.stderr
    (library.root / "alpha.safetensors").write_bytes(b"junk")
    run = run_cli("stylize", str(src), str(tmp_path / "o.png"), "--style", "alpha", weights=library.root)
    assert run.returncode == 1 and "alpha.safetensors" in run.stderr and "corrupt" in run.stderr
    assert not (tmp_path / "o.png").exists()


def test_styles_lists_and_warns_on_broken(library: StyleLibrary) -> None:
    (library.root / "beta.safetensors").write_bytes(b"junk")
    run = run_cli("styles", "--device", "cpu", weights=library.root)
    assert run.returncode == 0
    assert "alpha" in run.stdout and "beta" not in run.stdout
    assert "skipping style 'beta'" in run.stderr
