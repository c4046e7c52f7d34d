"""Webcam figures: flicker ratio (warping error over the input's) and face structure, on synthetic
moving texture and on the real clips, and through `python -m train.evaluate --clips`."""

from __future__ import annotations

import json
import shutil
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.style_library import StyleLibrary
from tests.conftest import shared_path
from train.evaluation.evaluate import main as evaluate_main
from train.evaluation.webcam_metrics import (
    clip_flows,
    consistent_pixels,
    face_boxes,
    face_structure,
    flicker_ratio,
    read_frames,
    warp,
    warping_error,
)


def moving_texture(frames: int = 6, h: int = 72, w: int = 96, seed: int = 0) -> list[np.ndarray]:
    """A smooth colour texture moving left and up by (1.5, 0.5) px a frame, with sensor noise."""
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (h + 40, w + 40, 3)).astype(np.float32), (0, 0), 2.5)
    big = cv2.normalize(big, None, 0, 255, cv2.NORM_MINMAX)
    out = []
    for t in range(frames):
        shift = np.float32([[1, 0, -20 + 1.5 * t], [0, 1, -20 + 0.5 * t]])
        frame = cv2.warpAffine(big, shift, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        frame += rng.normal(0, 1.0, frame.shape).astype(np.float32)
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return out


@pytest.fixture(scope="module")
def clip() -> tuple[list[np.ndarray], list]:
    frames = moving_texture()
    return frames, clip_flows(frames)


def test_forward_backward_check() -> None:
    forward = np.zeros((20, 30, 2), np.float32)
    forward[..., 0] = -1.5  # everything moves left by 1.5 px
    backward = -forward
    keep = consistent_pixels(forward, backward)
    assert not keep[:, :1].any() and keep[:, 2:].all()  # the left column leaves the frame
    backward[5:10, 10:20] = 3.0  # the backward flow does not undo the forward one there: occluded
    keep = consistent_pixels(forward, backward)
    assert not keep[5:10, 12:20].any() and keep[12:, 12:20].all()
    forward[:, 15:, 0] = 1.5  # two regions part: the pixels at the seam are a motion boundary
    assert not consistent_pixels(forward, -forward)[:, 14:16].any()


def test_flow_warps_the_next_frame_onto_this_one(clip) -> None:
    frames, flows = clip
    assert all(0.7 < p.mask.mean() < 1.0 for p in flows)  # most pixels pass the forward-backward check
    unwarped = np.mean([np.abs(a.astype(float) - b).mean() / 255 for a, b in pairwise(frames)])
    assert warping_error(frames, flows) < 0.3 * unwarped
    assert np.abs(warp(frames[1], np.zeros((72, 96, 2), np.float32)) - frames[1]).max() == 0


def test_flicker_ratio_is_one_for_the_input_and_grows_with_per_frame_noise(clip) -> None:
    frames, flows = clip
    assert flicker_ratio(frames, frames, flows) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    noisy = [np.clip(f + rng.normal(0, 12, f.shape), 0, 255).astype(np.uint8) for f in frames]
    assert flicker_ratio(frames, noisy, flows) > 2.0
    # A fixed change (the same tint on every frame) does not flicker.
    tinted = [cv2.add(f, np.full_like(f, 30)) for f in frames]
    assert flicker_ratio(frames, tinted, flows) == pytest.approx(1.0, abs=0.15)


def test_face_structure_is_one_for_the_input_and_drops_with_blur() -> None:
    frames = moving_texture(frames=2)
    boxes = [[(10, 10, 50, 40)], [(20, 15, 40, 40)]]
    assert face_structure(frames, frames, boxes) == pytest.approx(1.0)
    blurred = [cv2.GaussianBlur(f, (0, 0), 6) for f in frames]
    assert face_structure(frames, blurred, boxes) < 0.8
    assert np.isnan(face_structure(frames, frames, [[], []]))


@pytest.mark.shared_data
def test_haar_cascade_finds_the_face_in_a_real_frame() -> None:
    frame = read_frames(shared_path("videos", "sister.mkv"), 1)[0]
    boxes = face_boxes(frame)
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert 60 <= w <= 110 and 230 < x + w / 2 < 350 and y + h / 2 < 200  # the head above the desk, centre


@pytest.mark.shared_data
def test_evaluate_clips_only_on_a_library_style(library: StyleLibrary, tmp_path: Path, capsys) -> None:
    book = shared_path("videos", "book.mkv")
    sheet = tmp_path / "faces.jpg"
    args = ["--style", "alpha", "--library", str(library.root), "--clips", str(book), "--clip-size", "64",
            "--clip-frames", "7", "--face-sheet", str(sheet), "--threads", "1", "--update-library"]  # fmt: skip
    assert evaluate_main(args) == 0
    out = capsys.readouterr().out
    assert "stylized (model)" in out and "round trip at 64px" in out and "SWD" not in out
    webcam = StyleLibrary(library.root).resolve("alpha").evaluation["webcam"]
    figures = webcam["clips"]["book.mkv"]
    assert webcam["size"] == 64 and figures["faces"] == 2  # frames 0 and 6
    assert figures["flicker_ratio"] > 1.0 and -1 <= figures["face_structure"] < 0.9  # an untrained generator
    assert cv2.imread(str(sheet)).shape[1] == 2 * (2 * 192) + 8  # two faces: input | stylized, side by side


@pytest.mark.shared_data
def test_evaluate_clips_on_a_checkpoint_adds_them_to_its_evaluation(trained_run: Path, tmp_path: Path) -> None:
    book = shared_path("videos", "book.mkv")
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    assert evaluate_main(["--run", str(run), "--no-timing", "--threads", "1"]) == 0  # the photo figures
    assert evaluate_main(["--run", str(run), "--clips", str(book), "--clip-size", "64", "--clip-frames", "3"]) == 0
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert "swd" in evaluation and evaluation["webcam"]["clips"]["book.mkv"]["faces"] == 1
    clips = ["--run", str(run), "--clips", str(book), "--clip-size", "64", "--clip-frames", "3"]
    assert evaluate_main([*clips, "--no-stabilize"]) == 0  # beside the stabilized figures, not over them
    webcam = json.loads((run / "evaluation.json").read_text())["webcam"]
    assert webcam["stabilize"] is True and webcam["without_stabilizer"]["clips"]["book.mkv"]["faces"] == 1


@pytest.mark.shared_data
def test_evaluate_no_stabilize_reaches_the_engine(
    library: StyleLibrary, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import train.evaluation.webcam_metrics as webcam_metrics

    built: list[bool] = []

    class Recorded(webcam_metrics.InferenceEngine):
        def set_style(self, *args, **kwargs) -> None:
            built.append(self.stabilize)
            super().set_style(*args, **kwargs)

    monkeypatch.setattr(webcam_metrics, "InferenceEngine", Recorded)
    book = str(shared_path("videos", "book.mkv"))
    args = ["--style", "alpha", "--library", str(library.root), "--clips", book, "--clip-size", "32",
            "--clip-frames", "2", "--threads", "1", "--update-library"]  # fmt: skip
    assert evaluate_main([*args, "--no-stabilize"]) == 0
    assert "webcam at 32px, not stabilized" in capsys.readouterr().out
    assert StyleLibrary(library.root).resolve("alpha").evaluation["webcam"]["stabilize"] is False
    assert evaluate_main(args) == 0  # the default measures what the app shows
    assert "webcam at 32px, stabilized" in capsys.readouterr().out
    webcam = StyleLibrary(library.root).resolve("alpha").evaluation["webcam"]
    assert webcam["stabilize"] is True
    assert webcam["without_stabilizer"]["clips"]["book.mkv"]  # the first measurement is kept beside it
    assert evaluate_main([*args, "--no-stabilize"]) == 0
    webcam = StyleLibrary(library.root).resolve("alpha").evaluation["webcam"]
    assert webcam["stabilize"] is True and "flicker_ratio_median" in webcam["without_stabilizer"]
    assert built == [False, True, False]
