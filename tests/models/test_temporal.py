"""The temporal stabilizer: still scenes stay still, new content comes through at once."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from models.temporal import TemporalStabilizer
from tests.conftest import SHARED_DATA

CLIP = SHARED_DATA / "videos" / "sister.mkv"


def _scene(seed: int = 0, shape: tuple[int, int] = (128, 160)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((*shape, 3), 90, np.uint8)
    for _ in range(8):
        y, x = rng.integers(0, shape[0] - 30), rng.integers(0, shape[1] - 30)
        img[y : y + 30, x : x + 30] = rng.integers(0, 256, 3)
    return cv2.GaussianBlur(img, (0, 0), 1.5)


def _crawling_style(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A stand-in generator whose strokes change every frame even on a still scene."""
    noise = rng.integers(-25, 26, frame.shape)
    return np.clip(frame.astype(int) + noise, 0, 255).astype(np.uint8)


def test_first_frame_passes_unchanged() -> None:
    frame = _scene()
    styled = _crawling_style(frame, np.random.default_rng(1))
    out = TemporalStabilizer()(frame, styled)
    assert np.array_equal(out, styled) and out is not styled


def test_a_still_scene_flickers_less() -> None:
    rng = np.random.default_rng(2)
    frame = _scene()
    stabilizer = TemporalStabilizer()
    raw, steady = [], []
    for _ in range(12):
        styled = _crawling_style(frame, rng)
        raw.append(styled.astype(np.float32))
        steady.append(stabilizer(frame, styled).astype(np.float32))
    change = lambda seq: np.mean([np.abs(b - a).mean() for a, b in itertools.pairwise(seq[4:])])  # noqa: E731
    assert change(steady) < 0.5 * change(raw), (change(steady), change(raw))


def test_a_cut_takes_the_new_output_at_once() -> None:
    stabilizer = TemporalStabilizer()
    first = np.minimum(_scene(0), 180)
    second = first + 60  # every pixel changes by more than the tolerance: a cut or a light switched on
    stabilizer(first, first)
    styled = _crawling_style(second, np.random.default_rng(3))
    out = stabilizer(second, styled)
    # Nothing of the previous picture is blended into content that no longer matches it.
    assert np.abs(out.astype(int) - styled).mean() < 1.0


def test_size_change_and_reset_start_a_new_stream() -> None:
    stabilizer = TemporalStabilizer()
    stabilizer(_scene(0), _scene(0))
    small = _scene(1, (96, 128))
    styled = _crawling_style(small, np.random.default_rng(4))
    assert np.array_equal(stabilizer(small, styled), styled)
    stabilizer.reset()
    assert np.array_equal(stabilizer(small, 255 - styled), 255 - styled)


@pytest.mark.skipif(not CLIP.is_file(), reason=f"needs the webcam clip {CLIP} (../shared/data)")
def test_moving_person_is_followed_not_smeared() -> None:
    """On a real clip of a person moving, with the identity as 'style', the stabilized frames stay
    within a few grey levels of the input: the blend follows the motion instead of ghosting."""
    cap = cv2.VideoCapture(str(CLIP))
    frames = [cv2.resize(cap.read()[1], (341, 256), interpolation=cv2.INTER_AREA) for _ in range(40)]
    stabilizer = TemporalStabilizer()
    errors = [np.abs(stabilizer(f, f).astype(int) - f).mean() for f in frames]
    assert max(errors) < 3.0, errors


def test_hold_must_leave_room_for_new_frames() -> None:
    with pytest.raises(ValueError, match="hold"):
        TemporalStabilizer(hold=1.0)
