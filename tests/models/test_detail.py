"""Detail-keeping upscaling and the face-aware mode on real frames through the real engine:
Detail 0 is the old output bit for bit, Detail 1 keeps the frame's edges, faces change only near
faces, the face mask fades instead of popping, and the torch (GPU) path matches the CPU one."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest
import torch

from models.detail import detail_upscale, detail_upscale_torch, face_detail
from models.engine import InferenceEngine
from models.faces import FALL, RISE, FaceTracker
from models.frames import processing_shape, resize
from models.style_library import StyleLibrary
from tests.conftest import REPO, shared_path

LUMA = np.array([0.114, 0.587, 0.299], np.float32)


def clip_frames(name: str, count: int, step: int = 1) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(shared_path("videos", name)))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
        for _ in range(step - 1):
            cap.grab()
    cap.release()
    return frames


@pytest.fixture(scope="module")
def monet() -> torch.nn.Module:
    """The shipped Monet style: real strokes to keep or lose."""
    return StyleLibrary(REPO / "weights").load("monet")[0]


def make_engine(generator: torch.nn.Module, size: int = 256, **kwargs: object) -> InferenceEngine:
    engine = InferenceEngine("cpu", size=size, **kwargs)
    engine.set_style(generator, "monet")
    return engine


def edge_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two BGR frames' luma gradient magnitudes."""

    def grad(x: np.ndarray) -> np.ndarray:
        y = x.astype(np.float32) @ LUMA
        return cv2.magnitude(cv2.Sobel(y, cv2.CV_32F, 1, 0), cv2.Sobel(y, cv2.CV_32F, 0, 1)).ravel()

    return float(np.corrcoef(grad(a), grad(b))[0, 1])


@pytest.mark.parametrize("strength", [1.0, 0.6])
def test_detail_zero_is_the_plain_resize_bit_for_bit(monet: torch.nn.Module, strength: float) -> None:
    frame = clip_frames("sister.mkv", 1)[0]
    engine = make_engine(monet, strength=strength, detail=0.0, faces=True)
    out = engine.process(frame)
    h, w = frame.shape[:2]
    small = engine._active.runner(resize(frame, *processing_shape(h, w, 256))).copy()
    expected = resize(small, h, w)
    if strength < 1.0:
        expected = cv2.addWeighted(expected, strength, frame, 1.0 - strength, 0.0)
    assert np.array_equal(out, expected)


def test_detail_one_keeps_the_frames_edges(monet: torch.nn.Module) -> None:
    frame = clip_frames("book.mkv", 1)[0]
    plain = make_engine(monet, detail=0.0).process(frame)
    kept = make_engine(monet, detail=1.0).process(frame)
    half = make_engine(monet, detail=0.5).process(frame)
    e_plain, e_half, e_kept = (edge_correlation(frame, x) for x in (plain, half, kept))
    assert e_kept >= 0.9, f"Detail 1 keeps only {e_kept:.3f} of the frame's edges"
    assert e_plain < e_half < e_kept
    # and the colours are still the style's, not the photo's
    assert np.abs(kept.astype(int) - plain.astype(int)).mean() < np.abs(frame.astype(int) - plain.astype(int)).mean()


def test_face_mode_changes_only_what_is_near_faces(monet: torch.nn.Module) -> None:
    frames = clip_frames("sister.mkv", 12)
    scene = make_engine(monet, detail=0.2, faces=False)
    aware = make_engine(monet, detail=0.2, faces=True)
    for frame in frames:
        a, b = scene.process(frame), aware.process(frame)
    tracker = aware._faces
    assert tracker is not None and tracker.tracks, "no face tracked in sister.mkv"
    h, w = frame.shape[:2]
    near, inside = np.zeros((h, w), bool), np.zeros((h, w), bool)
    for track in tracker.tracks:
        cx, cy, bw, bh = track.box
        x0, x1 = int((cx - 1.2 * bw) * w), int((cx + 1.2 * bw) * w)
        y0, y1 = int((cy - 1.4 * bh) * h), int((cy + 1.6 * bh) * h)
        near[max(0, y0) : y1, max(0, x0) : x1] = True
        inside[int((cy - bh / 2) * h) : int((cy + bh / 2) * h), int((cx - bw / 2) * w) : int((cx + bw / 2) * w)] = True
    changed = np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 1
    assert changed[inside].mean() > 0.4, "the face got no extra detail"
    assert changed[~near].mean() < 0.002, "face mode changed the scene away from the face"
    face = near & changed
    assert edge_correlation(frame * face[..., None], b * face[..., None]) > edge_correlation(
        frame * face[..., None], a * face[..., None]
    )


def test_face_detector_finds_most_portraits_and_selfies() -> None:
    folder = shared_path("webcam_photos", "testA")
    photos = sorted(folder.glob("portrait_*.jpg")) + sorted(folder.glob("selfie_*.jpg"))
    tracker = FaceTracker()
    found = [tracker.detect(cv2.imread(str(p))) for p in photos]
    assert np.mean([bool(f) for f in found]) >= 0.7  # 115 of 146 when written
    for boxes in found:
        for cx, cy, bw, bh in boxes:
            assert 0.0 < cx < 1.0 and 0.0 < cy < 1.0 and 0.0 < bw <= 1.0 and 0.0 < bh <= 1.0


class ScriptedFaces(FaceTracker):
    """A tracker fed detections from a script instead of the cascade, to watch the mask's motion."""

    def __init__(self, script: list[list[np.ndarray]]) -> None:
        super().__init__(every=1)
        self.script = iter(script)

    def detect(self, bgr: np.ndarray) -> list[np.ndarray]:
        return next(self.script)


def test_face_mask_fades_in_and_out_and_follows_the_face() -> None:
    face = np.array([0.5, 0.5, 0.25, 0.3])
    step = np.array([0.004, 0.0, 0.0, 0.0])
    script = [[face + i * step] for i in range(10)] + [[] for _ in range(40)]
    script[4] = []  # one missed detection must not make the mask dip to nothing
    tracker = ScriptedFaces(script)
    frame = np.zeros((240, 320, 3), np.uint8)
    peaks, masks = [], []
    for _ in script:
        tracker.update(frame)
        mask = tracker.mask((240, 320))
        masks.append(np.zeros((240, 320), np.float32) if mask is None else mask)
        peaks.append(float(masks[-1].max()))
    steps = np.abs(np.diff(peaks))
    assert max(steps) <= RISE + 1e-6, "the mask popped in"
    assert peaks[3] > 0.9 and peaks[5] > 0.8, "a single missed detection dropped the face"
    assert 0.0 < peaks[15] < peaks[10], "the mask should fade out over several frames, not vanish"
    assert peaks[-1] == 0.0 and tracker.tracks == []
    assert all(s <= max(RISE, FALL) + 1e-6 for s in steps)
    # the mask moved with the face: its centre of mass followed the detections to the right
    cols = np.arange(320, dtype=np.float32)
    centre = [float((m.sum(0) * cols).sum() / m.sum()) for m in (masks[2], masks[9])]
    assert centre[1] > centre[0] + 3
    # feathered: values between 0 and 1 around the face, no hard rim
    ring = masks[9][(masks[9] > 0.0) & (masks[9] < 0.99)]
    assert ring.size > 500


class SlowFaces(FaceTracker):
    """A background tracker whose scan takes 0.3 s and finds one face."""

    def __init__(self) -> None:
        super().__init__(every=2, background=True)
        self.scans = 0

    def detect(self, bgr: np.ndarray) -> list[np.ndarray]:
        self.scans += 1
        time.sleep(0.3)
        return [np.array([0.5, 0.5, 0.25, 0.3])]


def test_background_detection_never_holds_a_frame_and_its_faces_arrive_later() -> None:
    tracker = SlowFaces()
    frame = np.zeros((240, 320, 3), np.uint8)
    start = time.perf_counter()
    for _ in range(5):
        tracker.update(frame)
    assert time.perf_counter() - start < 0.2, "a frame waited for the scan"
    assert tracker.scans <= 1 and tracker.mask((240, 320)) is None  # one scan at a time, none queued
    deadline = time.perf_counter() + 5.0
    while tracker.mask((240, 320)) is None:
        assert time.perf_counter() < deadline, "the scan's face never arrived"
        time.sleep(0.02)
        tracker.update(frame)
    assert tracker.tracks[0].presence > 0.0
    tracker.reset()  # joins a scan still running
    assert tracker._job is None and tracker.tracks == []
    assert not [t for t in threading.enumerate() if t.name == "face-detection"]


def test_face_detail_keeps_both_ends() -> None:
    assert face_detail(0.0) == 0.0 and face_detail(1.0) == 1.0
    assert face_detail(0.25) > 0.25


def test_torch_path_matches_the_cpu_path(monet: torch.nn.Module) -> None:
    frame = clip_frames("book.mkv", 1)[0]
    h, w = frame.shape[:2]
    small_in = resize(frame, *processing_shape(h, w, 256))
    styled = make_engine(monet)._active.runner(small_in).copy()
    mask = np.zeros(small_in.shape[:2], np.float32)
    mask[60:160, 100:220] = 0.8
    for amount in (0.4, mask):
        cpu = detail_upscale(frame, small_in, styled, amount)

        def nchw(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255.0

        weight = amount if np.isscalar(amount) else torch.from_numpy(amount)[None, None]
        out = detail_upscale_torch(nchw(frame), nchw(small_in), nchw(styled), weight)
        dev = (out.clamp(0, 1)[0].permute(1, 2, 0) * 255.0).round().byte().numpy()
        # OpenCV's and torch's resizes round differently: a grey level or two
        diff = np.abs(dev.astype(int) - cpu.astype(int))
        assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 4


def test_an_opencv_without_the_face_cascade_gets_a_one_line_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenCV 5 (a lent GPU image had it) has no CascadeClassifier: say what to install, in one line."""
    from models import faces

    monkeypatch.delattr(cv2, "CascadeClassifier")
    with pytest.raises(RuntimeError, match=r"install opencv-python-headless<5") as error:
        faces.load_face_cascade()
    assert "\n" not in str(error.value)
