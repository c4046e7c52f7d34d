"""The inference engine on real frames: any size and format in, same size out; strength,
processing size, half precision and thread-safe style switching."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
import torch

from models.engine import InferenceEngine
from models.errors import MediaError
from models.frames import processing_shape
from tests.conftest import VIDEOS, tiny_generator


def natural_frame(h: int = 120, w: int = 160) -> np.ndarray:
    """A real clip's frame when available, else a smooth synthetic scene."""
    clip = VIDEOS / "book.mkv"
    if clip.exists():
        cap = cv2.VideoCapture(str(clip))
        ok, frame = cap.read()
        cap.release()
        if ok:
            return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (h + w)], axis=-1).astype(np.uint8)


@pytest.fixture(scope="module")
def engine() -> InferenceEngine:
    eng = InferenceEngine(device="cpu", size=64)
    eng.set_style(tiny_generator()[0], "tiny")
    return eng


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((37, 53, 3), np.uint8),
        np.full((31, 17), 128, np.uint8),  # grayscale
        np.full((40, 30, 1), 200, np.uint8),
        np.dstack([np.full((45, 61, 3), 90, np.uint8), np.full((45, 61), 255, np.uint8)]),  # BGRA
        natural_frame(480, 640),
    ],
    ids=["odd", "gray", "gray1", "bgra", "vga"],
)
def test_any_frame_in_same_size_bgr_out(engine: InferenceEngine, frame: np.ndarray) -> None:
    out = engine.process(frame)
    assert out.shape == (*frame.shape[:2], 3) and out.dtype == np.uint8


@pytest.mark.parametrize("bad", [np.zeros((0, 10, 3), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros(5)])
def test_bad_frames_are_clear(engine: InferenceEngine, bad: np.ndarray) -> None:
    with pytest.raises(MediaError, match="frame"):
        engine.process(bad)


def test_processing_shape_rounds_to_multiples_of_4() -> None:
    assert processing_shape(480, 640, 256) == (256, 340)
    assert processing_shape(720, 1280, 360) == (360, 640)
    assert processing_shape(37, 53, None) == (36, 52)
    assert all(v % 4 == 0 for v in processing_shape(101, 333, 250))


def test_strength_blends_with_input(engine: InferenceEngine) -> None:
    frame = natural_frame()
    full = engine.process(frame)
    engine.strength = 0.0
    try:
        assert np.array_equal(engine.process(frame), frame)
        engine.strength = 0.5
        half = engine.process(frame).astype(int)
        expected = (full.astype(int) + frame.astype(int)) / 2
        assert np.abs(half - expected).max() <= 1
    finally:
        engine.strength = 1.0
    assert not np.array_equal(full, frame)  # the style does change the picture


def test_no_style_passes_frames_through() -> None:
    frame = natural_frame()
    assert np.array_equal(InferenceEngine(device="cpu").process(frame), frame)


def test_half_precision_keeps_the_picture() -> None:
    """fp16 vs fp32 PSNR >= 40 dB (the CUDA path's precision, run on the CPU here)."""
    model, _ = tiny_generator("resnet", ngf=8, n_blocks=3)
    frame = natural_frame(128, 128)
    fp32 = InferenceEngine(device="cpu", size=None, precision="fp32")
    fp32.set_style(model, "fp32")
    fp16 = InferenceEngine(device="cpu", size=None)
    fp16.half, fp16.dtype = True, torch.float16  # what CUDA selects; CPU kernels exist for fp16
    fp16.set_style(model, "fp16")
    a, b = fp32.process(frame).astype(float), fp16.process(frame).astype(float)
    psnr = 10 * np.log10(255**2 / max(np.mean((a - b) ** 2), 1e-10))
    assert psnr >= 40, psnr


def test_style_switch_is_atomic_per_frame() -> None:
    """While one thread switches styles, every frame equals exactly one style's output."""
    frame = natural_frame(64, 64)
    (gen_a, _), (gen_b, _) = tiny_generator(seed=1), tiny_generator(seed=2)
    engine = InferenceEngine(device="cpu", size=None)
    engine.set_style(gen_a, "a")
    out_a = engine.process(frame)
    engine.set_style(gen_b, "b")
    out_b = engine.process(frame)
    assert not np.array_equal(out_a, out_b)

    stop, outputs = threading.Event(), []

    def worker() -> None:
        while not stop.is_set():
            outputs.append(engine.process(frame))

    thread = threading.Thread(target=worker)
    thread.start()
    for i in range(6):
        engine.set_style(gen_a if i % 2 == 0 else gen_b, "ab"[i % 2])
    stop.set()
    thread.join(timeout=10)
    assert outputs
    for out in outputs:
        assert np.array_equal(out, out_a) or np.array_equal(out, out_b)
    assert engine.style_name == "b"
