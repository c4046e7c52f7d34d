"""make-style (train/make_style.py): a tiny real run through `main.py make-style` ends as a style in
the (temporary) user library with its figures; a run stopped by SIGTERM and one killed by SIGKILL
go on when the same command runs again; bad input and a full disk are one line each."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.style_library import MIN_PAINTINGS, StyleLibrary, make_style_runs_root
from models.video_io import H264Writer
from tests.conftest import REPO, run_main, tiny_generator
from tests.test_source_tree_untouched import untracked
from train import make_style
from train.stages.style_inputs import split_held_out, video_frames
from train.trainers.checkpoint import load_checkpoint

TINY = ["--crop-size", "32", "--load-size", "36", "--base", "monet"]  # 32 px crops of the shipped Monet


def write_images(folder: Path, count: int, seed: int, size: tuple[int, int] = (48, 60)) -> Path:
    """Noisy images with a colour cast per seed (paintings blue-ish, photos anything)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        img[..., seed % 3] = np.maximum(img[..., seed % 3], 160)
        cv2.imwrite(str(folder / f"{i:03d}.png"), img)
    return folder


def write_video(path: Path, seconds: float = 4.0, fps: int = 10) -> Path:
    """A small moving gradient: 4 s at 10 fps gives 8 frames at one every half second."""
    with H264Writer(path, 64, 48, fps) as writer:
        for i in range(round(seconds * fps)):
            x = np.linspace(0, 255, 64, dtype=np.float32)[None, :, None] + 4 * i
            writer.write(np.broadcast_to(x % 256, (48, 64, 3)).astype(np.uint8), i / fps)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("make_style_inputs")
    return {
        "paintings": write_images(root / "paintings", MIN_PAINTINGS + 2, seed=0),
        "photos": write_images(root / "photos", 6, seed=1),
        "video": write_video(root / "clip.mp4"),
    }


def progress(run: Path) -> dict:
    path = run / "progress.json"
    return json.loads(path.read_text()) if path.is_file() else {}


# -- pieces ------------------------------------------------------------------------------------
def test_the_held_out_split_is_a_fixed_tenth(tmp_path: Path) -> None:
    files = [tmp_path / f"{i:03d}.jpg" for i in range(50)]
    train, held = split_held_out(files)
    assert len(held) == 5 and len(train) == 45 and not set(train) & set(held)
    assert split_held_out(list(reversed(files))) == (train, held)  # the same whatever the listing order


def test_a_video_gives_a_frame_every_half_second(inputs: dict[str, Path]) -> None:
    assert len(video_frames(inputs["video"])) == 8
    assert len(video_frames(inputs["video"], limit=3)) == 3


def test_the_schedule_is_planned_to_end_with_the_time() -> None:
    assert make_style.next_segment(0, 1000.0, None, 0.0, 0) == (make_style.PROVISIONAL_STEPS, 30)
    total, stop = make_style.next_segment(30, 1000.0, 0.1, 5.0, 0)  # 1000 s left at 0.1 s a step, 3 starts
    assert total == 30 + (1000 - 15) * 10 and stop == round(0.25 * total)
    total, stop = make_style.next_segment(stop, 700.0, 0.1, 5.0, 1)
    assert stop == round(0.45 * total)
    assert make_style.next_segment(stop, 400.0, 0.1, 5.0, 2) == (stop + 3950, None)  # the last plan
    assert make_style.next_segment(30, 100.0, 0.1, 0.0, 0) == (1030, None)  # too short to plan twice


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["empty", "non_images", "too_few", "name_taken", "no_photos", "no_base"])
def test_bad_input_is_one_line(
    case: str, inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    paintings = tmp_path / "paintings"
    paintings.mkdir()
    if case == "non_images":
        for i in range(25):
            (paintings / f"{i}.txt").write_text("not a painting")
        (paintings / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    elif case == "too_few":
        write_images(paintings, 7, seed=0)
    elif case in ("name_taken", "no_photos", "no_base"):
        paintings = inputs["paintings"]
    library = tmp_path / "lib"
    StyleLibrary(library).add_style(*tiny_generator(), "taken")
    args = [str(paintings), "--name", "taken" if case == "name_taken" else "mine", "--library", str(library),
            "--run-dir", str(tmp_path / "run")]  # fmt: skip
    if case != "no_photos":
        args += ["--photos", str(inputs["photos"])]
    if case == "no_base":
        args += ["--base", "no_such_style"]
    assert make_style.main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    expected = {"empty": "no readable images", "non_images": "no readable images", "too_few": "at least 20",
                "name_taken": "exists already", "no_photos": "--photos", "no_base": "--base"}  # fmt: skip
    assert expected[case] in err[0]
    assert not (tmp_path / "run").exists()  # nothing written for a request that cannot run


# -- real runs ---------------------------------------------------------------------------------
def test_a_tiny_run_adds_the_style_to_the_library(inputs: dict[str, Path], user_styles: Path) -> None:
    """Photos from a folder and a video, the default run folder, the style and its figures."""
    loose_before = untracked(REPO)
    done = run_main("make-style", inputs["paintings"], "--name", "tiny_made", "--photos", inputs["photos"],
                    "--photos", inputs["video"], "--steps", "4", *TINY)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    run = make_style_runs_root({"STYLECAM_USER_STYLES": str(user_styles)}) / "tiny_made"
    assert REPO not in run.resolve().parents
    new = untracked(REPO) - loose_before  # others may write docs meanwhile: a file of this run names it
    assert not [p for p in new if "tiny_made" in p or "make_style" in p or p.startswith("weights/")], new
    state = progress(run)
    assert state["phase"] == "done" and state["fraction"] == 1.0 and state["step"] == 4
    result = state["result"]
    assert result["style"] == "tiny_made" and isinstance(result["beats_colour_transfer"], bool)
    assert result["flicker"] is not None and result["flicker"] > 0  # the video's frames were measured
    assert result["summary"].startswith("closer to your paintings than a colour transfer: ")
    assert "added to the library" in done.stdout
    job = json.loads((run / "job.json").read_text())
    assert job["photos"] == 6 + 8 and job["held_out"] == 2 and job["base"] == "monet"

    style = StyleLibrary().resolve("tiny_made")
    assert style.origin == "user" and style.path.parent == user_styles
    assert style.evaluation["make_style"]["swd_colour"] == result["swd_colour"]
    assert style.training["make_style"]["held_out"] == 2 and style.config.palette
    StyleLibrary().load("tiny_made")
    preview, _ = StyleLibrary().load(state["preview"])  # the preview is a loadable style file too
    assert preview is not None

    again = run_main("make-style", inputs["paintings"], "--name", "tiny_made", "--photos", inputs["photos"])
    assert again.returncode == 0 and "finished already" in again.stdout


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "main.py", "make-style", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _wait_for_step(proc: subprocess.Popen, run: Path, step: int, timeout: float = 90) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        reached = progress(run).get("step", 0) if progress(run).get("phase") == "train" else 0
        if reached >= step and (run / "train" / "checkpoints" / "latest.pt").is_file():
            return reached
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"no step {step} in {timeout} s: {progress(run)}")


def _wait_for_checkpoint_after(proc: subprocess.Popen, run: Path, step: int, timeout: float = 90) -> None:
    """Until the run's checkpoint is past `step` (polling the step alone could miss a fast run's
    whole training between two looks)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if load_checkpoint(run / "train")["step"] > step:
            return
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"no checkpoint after step {step} in {timeout} s: {progress(run)}")


def test_a_stopped_and_a_killed_run_go_on_when_run_again(inputs: dict[str, Path], tmp_path: Path) -> None:
    run, library = tmp_path / "run", tmp_path / "lib"
    args = [str(inputs["paintings"]), "--name", "resumed", "--photos", str(inputs["photos"]), "--steps", "80",
            "--run-dir", str(run), "--library", str(library), *TINY]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "STYLECAM_WEIGHTS"}

    first = _start(args, env)  # SIGTERM: a checkpoint, phase "stopped", status 130
    _wait_for_step(first, run, 8)
    first.send_signal(signal.SIGTERM)
    assert first.wait(60) == make_style.EXIT_STOPPED, first.communicate()[1][-3000:]
    assert progress(run)["phase"] == "stopped"
    stopped_at = load_checkpoint(run / "train")["step"]
    assert 8 <= stopped_at < 64  # room left for the killed run to save a checkpoint of its own

    second = _start(args, env)  # SIGKILL: nothing saved on the way out
    _wait_for_checkpoint_after(second, run, stopped_at)  # killed as soon as it saved a step of its own
    second.kill()
    second.wait(30)
    killed_at = load_checkpoint(run / "train")["step"]
    assert killed_at > stopped_at  # a checkpoint every 8 steps (--steps 80) was made meanwhile

    done = subprocess.run([sys.executable, "main.py", "make-style", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming" in done.stdout
    assert progress(run)["phase"] == "done" and load_checkpoint(run / "train")["step"] == 80
    logged = [int(line.split(",")[0]) for line in (run / "train" / "losses.csv").read_text().splitlines()[1:]]
    assert logged == sorted(set(logged)) and logged[-1] == 80  # one row per step logged, none twice
    assert "resumed" in StyleLibrary(library).names()


def test_a_full_disk_is_one_line_and_keeps_the_last_checkpoint(
    inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import train.trainers.loop as loop

    saved = loop.save_checkpoint
    calls = []

    def fill_up(path: Path, state: dict) -> None:
        calls.append(path)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        saved(path, state)

    monkeypatch.setattr(loop, "save_checkpoint", fill_up)
    run = tmp_path / "run"
    args = [str(inputs["paintings"]), "--name", "full", "--photos", str(inputs["photos"]), "--steps", "20",
            "--run-dir", str(run), "--library", str(tmp_path / "lib"), *TINY]  # fmt: skip
    assert make_style.main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "disk is full" in err[0] and "step 2" in err[0], err
    assert load_checkpoint(run / "train")["step"] == 2  # the last good checkpoint still loads
    assert progress(run)["phase"] == "failed"
