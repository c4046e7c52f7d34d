"""The command line on real files: `stylize` keeps frames, timing, size and audio; bad inputs give
one clear line, a non-zero exit and no output file pretending to be complete."""

from __future__ import annotations

import itertools
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from models.errors import MediaError
from models.style_library import StyleLibrary
from models.stylize import stylize_file
from models.video_io import H264Writer, VideoReader
from tests.conftest import REPO, run_main, shared_path, tiny_generator


def run_cli(*args: str | Path, weights: Path, **env: str) -> subprocess.CompletedProcess:
    env = {"STYLECAM_WEIGHTS": str(weights), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "2", **env}
    return subprocess.run(
        [sys.executable, "main.py", *map(str, args)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def warning_lines(stderr: str) -> list[str]:
    """The `warning:` lines (the progress bar rewrites its own line with carriage returns)."""
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


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


def test_stylize_image_in_int8_is_close_to_fp32(library: StyleLibrary, tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    yy, xx = np.mgrid[0:96, 0:128]
    cv2.imwrite(str(src), np.stack([xx * 2, yy * 2, (xx + yy)], axis=-1).astype(np.uint8))
    outputs = {}
    for precision in ("fp32", "int8"):
        outputs[precision] = tmp_path / f"{precision}.png"
        args = ("stylize", src, outputs[precision], "--style", "beta", "--size", "96", "--precision", precision)
        run = run_cli(*args, "--detail", "0", weights=library.root)
        assert run.returncode == 0 and not warning_lines(run.stderr), run.stderr
    fp32, int8 = (cv2.imread(str(path)).astype(np.float64) for path in outputs.values())
    # An untrained style amplifies int8's rounding (8 levels here); the shipped ones' 40-46 dB
    # PSNR is tests/models/test_quantize.py's. Here: int8 ran, and gave the same picture roughly.
    assert fp32.shape == int8.shape == (96, 128, 3) and 0 < np.abs(fp32 - int8).mean() < 20


def test_stylize_with_the_fast_twin(library: StyleLibrary, tmp_path: Path) -> None:
    library.add_fast_twin("beta", *tiny_generator("lite_fast", seed=3, ngf=4, n_blocks=1, decoder_norm="demod"))
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), np.random.default_rng(0).integers(0, 256, (67, 101, 3), dtype=np.uint8))
    outputs = {}
    for model in ("full", "fast"):
        outputs[model] = tmp_path / f"{model}.png"
        run = run_cli("stylize", src, outputs[model], "--style", "beta", "--size", "64", "--model", model,
                      "--detail", "0", weights=library.root)  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert ("(fast model)" in run.stdout) == (model == "fast")
    full, fast = (cv2.imread(str(p)).astype(np.float64) for p in outputs.values())
    assert full.shape == fast.shape == (67, 101, 3) and np.abs(full - fast).mean() > 1  # another generator
    run = run_cli("stylize", src, tmp_path / "x.png", "--style", "alpha", "--model", "fast", weights=library.root)
    assert run.returncode != 0 and "has no fast twin; use --model full" in run.stderr


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
    assert warning_lines(run.stderr) == []


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
    assert warning_lines(run.stderr) == []  # a whole file: no word about truncation


def frame_to_frame_difference(frames: list[np.ndarray]) -> float:
    """Mean absolute change between consecutive frames, in grey levels (how much a clip flickers)."""
    return float(np.mean([np.abs(a.astype(np.int16) - b).mean() for a, b in itertools.pairwise(frames)]))


@pytest.mark.shared_data
def test_stylize_stabilizes_video_unless_told_not_to(
    library: StyleLibrary, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from main import main as cli

    src = tmp_path / "sister24.mp4"  # the first 24 frames of a real webcam-like clip
    with VideoReader(shared_path("videos", "sister.mkv")) as reader:
        frames = [frame for frame, _ in itertools.islice(reader.frames(), 24)]
    with H264Writer(src, 640, 480, 30) as writer:
        for frame in frames:
            writer.write(frame)
    styled = {}
    for name, extra in (("steady", []), ("plain", ["--no-stabilize"])):
        out = tmp_path / f"{name}.mp4"
        assert cli(["stylize", str(src), str(out), "--style", "alpha", "--size", "64", *extra]) == 0
        with VideoReader(out) as reader:
            styled[name] = [frame for frame, _ in reader.frames()]
    said = capsys.readouterr().out
    lines = [line for line in said.splitlines() if "at size 64" in line]  # "..., detail D[ with faces], ..."
    assert len(lines) == 2 and lines[0].endswith(", stabilized") and lines[1].endswith(", not stabilized"), lines
    assert len(styled["steady"]) == len(styled["plain"]) == 24
    steady, plain = (frame_to_frame_difference(styled[name]) for name in ("steady", "plain"))
    assert steady < 0.8 * plain, (steady, plain)


@pytest.mark.shared_data
def test_truncated_video_warns_and_keeps_what_it_held(library: StyleLibrary, tmp_path: Path) -> None:
    """The first half of a real clip's bytes: one warning line, exit 0, the playable part written."""
    data = shared_path("videos", "book.mkv").read_bytes()
    cut = tmp_path / "book_cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    with VideoReader(cut) as reader:
        held = sum(1 for _ in reader.frames())
    assert 10 < held < 100  # Matroska states only the duration: 3.67 s, 110 frames at 30 fps
    out = tmp_path / "book_cut_styled.mp4"
    run = run_cli("stylize", cut, out, "--size", "32", weights=library.root)
    assert run.returncode == 0, run.stderr
    (line,) = warning_lines(run.stderr)
    assert f"{cut} ended after {held} of about 110 frames" in line and "truncated or damaged" in line, line
    assert f"wrote {out} ({held} frames)" in run.stdout
    with VideoReader(out) as reader:
        assert sum(1 for _ in reader.frames()) == held


def test_truncated_mp4_names_its_stated_frame_count(library: StyleLibrary, tmp_path: Path) -> None:
    """An MP4 states its frame count: cut in half, it says how many of them it held."""
    whole = tmp_path / "clip.mp4"
    rng = np.random.default_rng(0)
    with H264Writer(whole, 96, 64, 12) as writer:  # moov first (+faststart): a cut copy still opens
        for _ in range(48):
            writer.write(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    cut = tmp_path / "clip_cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with VideoReader(cut) as reader:
        held = sum(1 for _ in reader.frames())
    assert 0 < held < 40
    out = tmp_path / "styled.mp4"
    run = run_cli("stylize", cut, out, "--size", "32", weights=library.root)
    assert run.returncode == 0, run.stderr
    (line,) = warning_lines(run.stderr)
    assert line == (
        f"warning: {cut} ended after {held} of 48 frames (the file is truncated or damaged); "
        f"wrote the {held} frames it held"
    )
    with VideoReader(out) as reader:
        assert sum(1 for _ in reader.frames()) == held


def test_decoding_that_breaks_off_keeps_the_frames_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A decoder error part-way: the frames before it are written, with one warning; with no frame
    at all it stays an error."""
    src = tmp_path / "clip.mp4"
    make_clip_with_audio(src)
    real_demux = VideoReader.demux

    def breaks_after(frames: int):
        def demux(self, with_audio: bool = True):
            for n, item in enumerate(x for x in real_demux(self, with_audio) if x[0] == "video"):
                if n == frames:
                    raise MediaError(f"video {self.path} is corrupt or truncated") from av.InvalidDataError(
                        1094995529, "Invalid data found when processing input"
                    )
                yield item

        return demux

    class Passthrough:  # the engine's interface stylize_video uses
        def reset_stream(self) -> None:
            pass

        def process(self, frame: np.ndarray) -> np.ndarray:
            return frame

    said: list[str] = []
    monkeypatch.setattr(VideoReader, "demux", breaks_after(5))
    assert stylize_file(src, tmp_path / "out.mp4", Passthrough(), progress=False, warn=said.append) == 5
    assert (
        len(said) == 1
        and said[0].startswith(f"{src} is damaged after frame 5 (")
        and said[0].endswith("wrote the 5 frames it held")
    )
    with VideoReader(tmp_path / "out.mp4") as reader:
        assert sum(1 for _ in reader.frames()) == 5
    monkeypatch.setattr(VideoReader, "demux", breaks_after(0))
    with pytest.raises(MediaError, match="corrupt or truncated"):
        stylize_file(src, tmp_path / "none.mp4", Passthrough(), progress=False, warn=said.append)
    assert not (tmp_path / "none.mp4").exists() and len(said) == 1


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


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    return path


def only_error_line(run: subprocess.CompletedProcess) -> str:
    """A bad argument: exit 1 and exactly one `error:` line, nothing else (no traceback)."""
    assert run.returncode == 1, (run.returncode, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    return lines[0]


@pytest.mark.parametrize("size", ["-5", "8", "31", "5000"])
def test_size_out_of_range_is_one_line(library: StyleLibrary, photo: Path, size: str) -> None:
    line = only_error_line(run_cli("stylize", photo, photo.with_name("o.jpg"), "--size", size, weights=library.root))
    assert line == f"error: --size {size} is out of range; use 0 (native) or 32 to 4096 (the short side in pixels)"
    assert not photo.with_name("o.jpg").exists()


def test_smallest_size_and_native_work(library: StyleLibrary, photo: Path) -> None:
    for size in ("32", "0"):
        run = run_cli("stylize", photo, photo.with_name(f"o{size}.jpg"), "--size", size, weights=library.root)
        assert run.returncode == 0, run.stderr
        assert cv2.imread(str(photo.with_name(f"o{size}.jpg"))).shape == (48, 64, 3)


def test_app_size_out_of_range_is_one_line(library: StyleLibrary, tmp_path: Path) -> None:
    run = run_cli(
        "--size", "-5", weights=library.root, QT_QPA_PLATFORM="offscreen", STYLECAM_SETTINGS=str(tmp_path / "s.ini")
    )
    assert "--size -5 is out of range" in only_error_line(run)


@pytest.mark.parametrize("how", ["same-path", "dot-dot", "symlink", "hard-link"])
def test_output_over_its_own_input_is_refused(library: StyleLibrary, photo: Path, how: str) -> None:
    before = photo.read_bytes()
    output = {
        "same-path": lambda: photo,
        "dot-dot": lambda: photo.parent / ".." / photo.parent.name / photo.name,
        "symlink": lambda: (photo.with_name("link.jpg").symlink_to(photo), photo.with_name("link.jpg"))[1],
        "hard-link": lambda: (photo.with_name("hard.jpg").hardlink_to(photo), photo.with_name("hard.jpg"))[1],
    }[how]()
    line = only_error_line(run_cli("stylize", photo, output, weights=library.root))
    assert line == (
        f"error: output {output} is the input file itself; stylize never overwrites its input, "
        "choose another output name"
    )
    assert photo.read_bytes() == before


def test_style_folder_says_what_is_expected(library: StyleLibrary, photo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    line = only_error_line(run_cli("stylize", photo, tmp_path / "o.jpg", "--style", folder, weights=library.root))
    assert line == (
        f"error: weights {folder} is a folder; give one weights file (.safetensors, or a reference CycleGAN "
        "*_net_G*.pth) or a style name from `python main.py styles`"
    )
    (folder / "latest_net_G_A.pth").write_bytes(b"")
    line = only_error_line(run_cli("stylize", photo, tmp_path / "o.jpg", "--style", folder, weights=library.root))
    assert f"weights {folder} is a folder (it holds latest_net_G_A.pth); give one weights file" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strength", "1.5"], "error: --strength 1.5 is out of range; use a value from 0 to 1"),
        (["--strength", "-0.1"], "error: --strength -0.1 is out of range; use a value from 0 to 1"),
    ],
)
def test_strength_out_of_range_is_one_line(library: StyleLibrary, photo: Path, args: list[str], message: str) -> None:
    assert only_error_line(run_cli("stylize", photo, photo.with_name("o.jpg"), *args, weights=library.root)) == message


def test_missing_input_and_folder_input_are_one_line(library: StyleLibrary, tmp_path: Path) -> None:
    missing = tmp_path / "nothere.mp4"
    line = only_error_line(run_cli("stylize", missing, tmp_path / "o.mp4", weights=library.root))
    assert line == f"error: input {missing} does not exist; check the path"
    line = only_error_line(run_cli("stylize", tmp_path, tmp_path / "o.mp4", weights=library.root))
    assert line == f"error: input {tmp_path} is a folder; give one image or video file"


def test_size_auto_and_precision_parse() -> None:
    from main import build_parser

    parser = build_parser()
    args = parser.parse_args(["--size", "auto", "--precision", "bf16"])
    assert args.size == "auto" and args.precision == "bf16"
    assert parser.parse_args(["--size", "384"]).size == 384 and parser.parse_args([]).precision == "auto"
    assert parser.parse_args(["stylize", "a.mp4", "b.mp4", "--precision", "fp32"]).precision == "fp32"
    assert parser.parse_args(["stylize", "a.mp4", "b.mp4", "--precision", "int8"]).precision == "int8"
    for bad in (["--size", "big"], ["--precision", "fp16"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_help_names_the_program_the_user_typed() -> None:
    from main import program_name

    assert program_name("/home/me/.local/bin/stylecam") == "stylecam"
    assert program_name("stylecam.exe") == "stylecam"
    assert program_name("/src/stylecam/main.py") == "main.py"
    helped = run_main("--help")
    assert helped.returncode == 0 and helped.stdout.startswith("usage: main.py "), helped.stderr
    benched = run_main("bench", "--help")
    assert benched.returncode == 0 and benched.stdout.startswith("usage: main.py bench "), benched.stderr
