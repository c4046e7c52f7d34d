"""The full-frame device path (models/device_path.py), run on CPU torch: it matches the host path
on a real clip for Detail 0, 0.5 and 1, with faces and the stabilizer over several frames; any
frame size works; its Detail 0 is its own plain bilinear upscale; and each frame makes exactly one
upload and one download. CUDA itself is not exercised here (no GPU on the dev machine)."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.backends import TorchRunner
from models.device_path import device_resize
from models.engine import InferenceEngine
from models.frames import processing_shape, resize
from models.style_library import StyleLibrary
from tests.conftest import REPO, shared_path, tiny_generator


def clip_frames(name: str, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(shared_path("videos", name)))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


@pytest.fixture(scope="module")
def monet() -> torch.nn.Module:
    return StyleLibrary(REPO / "weights").load("monet")[0]


def torch_engine(generator: torch.nn.Module, size: int | None = 256, **kwargs: object) -> InferenceEngine:
    engine = InferenceEngine("cpu", size=size, backend="torch", **kwargs)
    engine.set_style(generator, "style")
    runner = engine._active.runner
    assert isinstance(runner, TorchRunner) and not runner.full_frame  # on by default on CUDA only
    runner.full_frame = True  # the device path, on the CPU device
    return engine


def both_paths(engine: InferenceEngine, frames: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The frames through the device path, then (a fresh stream) through the host path."""
    runner = engine._active.runner
    engine.reset_stream()  # both runs start from a fresh stream (the engine may have run frames before)
    device = [engine.process(f) for f in frames]
    engine.reset_stream()
    runner.full_frame = False
    try:
        host = [engine.process(f) for f in frames]
    finally:
        runner.full_frame = True
        engine.reset_stream()
    return device, host


def assert_close(device: np.ndarray, host: np.ndarray, peak: int) -> None:
    assert device.shape == host.shape and device.dtype == np.uint8
    diff = np.abs(device.astype(int) - host.astype(int))
    # OpenCV's fixed-point uint8 resizes/remaps and torch's float ones round differently
    assert diff.mean() < 0.35 and np.percentile(diff, 99) <= 2 and diff.max() <= peak, (
        diff.mean(),
        np.percentile(diff, 99),
        diff.max(),
    )


@pytest.mark.parametrize("detail, peak", [(0.0, 4), (0.5, 10), (1.0, 16)])
def test_device_path_matches_the_host_path(monet: torch.nn.Module, detail: float, peak: int) -> None:
    frames = clip_frames("book.mkv", 2)
    device, host = both_paths(torch_engine(monet, detail=detail), frames)
    for d, h in zip(device, host, strict=True):
        assert_close(d, h, peak)


def test_device_path_with_faces_and_the_stabilizer_matches_over_frames(monet: torch.nn.Module) -> None:
    frames = clip_frames("sister.mkv", 6)
    engine = torch_engine(monet, detail=0.5, faces=True, stabilize=True)
    engine.strength = 0.8
    device, host = both_paths(engine, frames)
    for d, h in zip(device, host, strict=True):
        assert_close(d, h, 12)
    # the stabilizer did blend on the device: its frames are not the unstabilized ones
    plain = torch_engine(monet, detail=0.5, faces=True)
    plain.strength = 0.8
    unstabilized = [plain.process(f) for f in frames]
    assert np.array_equal(device[0], unstabilized[0])  # nothing to blend with yet

    def change(outs: list[np.ndarray]) -> float:
        return float(np.mean([np.abs(a.astype(int) - b.astype(int)).mean() for a, b in itertools.pairwise(outs)]))

    # less frame-to-frame change than without it, as on the host path
    assert change(device) < 0.9 * change(unstabilized), (change(device), change(unstabilized), change(host))
    assert change(host) < 0.9 * change(unstabilized)


def test_face_mask_reaches_the_device(monet: torch.nn.Module) -> None:
    """On a clip with a face, the mask changes the device path's frame as it does the host path's."""
    frames = clip_frames("sister.mkv", 8)
    faces = torch_engine(monet, detail=0.2, faces=True)
    scene = torch_engine(monet, detail=0.2)
    with_faces = [faces.process(f) for f in frames][-1]
    assert faces._faces.tracks, "no face tracked in sister.mkv"
    changed = np.abs(with_faces.astype(int) - scene.process(frames[-1]).astype(int)).max(axis=2) > 1
    assert 0.002 < changed.mean() < 0.5  # near the face only
    device, host = both_paths(faces, frames)
    for d, h in zip(device, host, strict=True):
        assert_close(d, h, 16)


def real_frame(h: int, w: int, channels: int = 3) -> np.ndarray:
    frame = cv2.resize(clip_frames("book.mkv", 1)[0], (w, h), interpolation=cv2.INTER_AREA)
    if channels == 1:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if channels == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
    return frame


@pytest.mark.parametrize(
    "shape",
    [(37, 53, 3), (31, 17, 1), (45, 61, 4), (101, 333, 3), (243, 321, 3), (481, 643, 3)],
    ids=["odd", "gray", "bgra", "wide", "odd-large", "vga+1"],
)
@pytest.mark.parametrize("detail", [0.0, 0.7])
def test_any_frame_size(monet: torch.nn.Module, shape: tuple[int, int, int], detail: float) -> None:
    """Odd sizes, grey and BGRA, processing sizes above and below the frame's: same size out,
    close to the host path."""
    frame = real_frame(*shape)
    engine = torch_engine(monet, size=64, detail=detail, faces=True, stabilize=True)
    device, host = both_paths(engine, [frame, frame])
    for d, h in zip(device, host, strict=True):
        assert d.shape == (*shape[:2], 3) and d.dtype == np.uint8
        diff = np.abs(d.astype(int) - h.astype(int))
        assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 3, (diff.mean(), np.percentile(diff, 99))


def test_device_resize_follows_the_host_resize() -> None:
    frame = clip_frames("book.mkv", 1)[0]
    full = torch.from_numpy(frame).permute(2, 0, 1)[None].float()
    for h, w in [(240, 320), (256, 340), (120, 160), (100, 132), (476, 636)]:
        host = resize(frame, h, w).astype(int)
        dev = device_resize(full, h, w)[0].permute(1, 2, 0).numpy().astype(int)
        diff = np.abs(dev - host)
        assert diff.max() <= 1 and diff.mean() < 0.15, (h, w, diff.mean())  # fixed-point vs float


def test_detail_zero_is_the_device_paths_plain_upscale(monet: torch.nn.Module) -> None:
    """Detail 0 is a bilinear upscale of the model's output on the device, bit for bit."""
    frame = clip_frames("book.mkv", 1)[0]
    engine = torch_engine(monet)
    out = engine.process(frame)
    runner = engine._active.runner
    ph, pw = processing_shape(*frame.shape[:2], 256)
    with torch.inference_mode():
        full = torch.from_numpy(frame).permute(2, 0, 1)[None].float()
        small_in = device_resize(full, ph, pw).to(memory_format=torch.channels_last)
        small = runner.model(small_in).float().mul_(127.5).add_(128.0).clamp_(0, 255).floor_()
        up = F.interpolate(small, size=frame.shape[:2], mode="bilinear", align_corners=False)
        want = up.add(0.5).floor().clamp(0, 255).byte()[0].permute(1, 2, 0).numpy()
    assert np.array_equal(out, want)


def test_one_upload_and_one_download_per_frame(monet: torch.nn.Module) -> None:
    frames = clip_frames("book.mkv", 4)
    engine = torch_engine(monet, detail=0.5, faces=True, stabilize=True)
    engine.strength = 0.7
    runner = engine._active.runner
    before = dict(runner.transfers)
    for frame in frames:
        engine.process(frame)
    counts = {k: runner.transfers[k] - before[k] for k in before}
    assert counts["uploads"] == len(frames) and counts["downloads"] == len(frames)
    assert counts["syncs"] == 0  # the CPU device has nothing to wait for; on CUDA one a frame
    # the host path makes no full-frame transfer at all on this runner (it uses __call__)
    runner.full_frame = False
    engine.process(frames[0])
    assert runner.transfers == {k: before[k] + counts[k] for k in before}


def test_strength_zero_gives_the_frame_back() -> None:
    frame = np.random.default_rng(3).integers(0, 256, (90, 130, 3), dtype=np.uint8)
    engine = torch_engine(tiny_generator()[0], size=64, detail=0.5)
    engine.strength = 0.0
    assert np.array_equal(engine.process(frame), frame)


def test_above_360_px_the_side_buffer_is_half_size_and_the_picture_stays_the_host_paths(
    monet: torch.nn.Module,
) -> None:
    """Above 360 px the flow, keep-map and face mask are made at half the processing size and
    brought up on the device (a quarter of the host work and of the side buffer's upload); over a
    moving clip the stabilized frames stay within a grey level of the host path's full-size ones,
    and as steady."""
    frames = clip_frames("sister.mkv", 6)
    engine = torch_engine(monet, size=400, detail=0.2, faces=True, stabilize=True)
    runner = engine._active.runner
    sizes: list[tuple[int, ...] | None] = []
    upload = runner._upload

    def counting_upload(bgr: np.ndarray, aux: np.ndarray | None):
        sizes.append(None if aux is None else aux.shape[:2])
        return upload(bgr, aux)

    runner._upload = counting_upload
    device, host = both_paths(engine, frames)
    assert processing_shape(480, 640, 400) == (400, 532) and set(sizes[1 : len(frames)]) == {(200, 266)}
    diffs = [np.abs(d.astype(int) - h.astype(int)) for d, h in zip(device, host, strict=True)]
    assert max(float(d.mean()) for d in diffs) < 1.0, [float(d.mean()) for d in diffs]

    def change(outs: list[np.ndarray]) -> float:
        return float(np.mean([np.abs(a.astype(int) - b.astype(int)).mean() for a, b in itertools.pairwise(outs)]))

    assert change(device) < 1.1 * change(host), (change(device), change(host))
