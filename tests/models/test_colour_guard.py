"""The colour guard takes out colour patches the input does not explain and keeps everything
else: a palette change, the output's lightness, fine texture; it runs the same through both
engine backends and switches on and off for a library style without retraining."""

from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest
import torch

from models.backends import GuardAfterRunner, OpenVinoRunner, openvino_available, to_uint8
from models.colour_guard import ColourGuard, guard_frame, solve_3x3
from models.engine import InferenceEngine
from models.style_library import StyleLibrary
from tests.conftest import REPO, shared_path, tiny_generator
from tests.models.test_backends import frames, generator_frame
from tests.models.test_precision import psnr
from train.stages.colour_guard import main as colour_guard_main


def scene(h: int = 96, w: int = 128) -> torch.Tensor:
    """A smooth photo-like RGB image in [-1, 1] with several distinct colour regions."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    return torch.stack([0.6 * xx, 0.5 * yy, 0.4 * torch.sin(3 * xx * yy)])[None]


def recolour(x: torch.Tensor) -> torch.Tensor:
    """A strong palette change that swaps hues (what a style may do everywhere at once)."""
    matrix = torch.tensor([[0.1, 0.9, 0.0], [0.0, 0.2, 0.8], [0.7, 0.0, 0.3]])
    return torch.einsum("oc,nchw->nohw", matrix, x) + torch.tensor([0.1, -0.05, 0.0]).view(1, 3, 1, 1)


def test_solve_3x3_matches_torch_linalg() -> None:
    a = torch.randn(4, 3, 3)
    a = a @ a.transpose(1, 2) + 0.1 * torch.eye(3)
    b = torch.randn(4, 3, 3)
    assert torch.allclose(solve_3x3(a, b), torch.linalg.solve(a, b), atol=1e-4)


def test_a_palette_change_passes_unchanged() -> None:
    x = scene()
    y = recolour(x)
    assert torch.allclose(ColourGuard(8)(x, y), y, atol=1e-3)


def test_a_colour_patch_is_removed_and_lightness_and_texture_kept() -> None:
    x = scene()
    clean = recolour(x)
    patch = torch.zeros_like(clean)
    patch[..., 24:56, 40:88] = torch.tensor([0.3, -0.3, 0.0]).view(1, 3, 1, 1)  # a green-magenta blotch
    texture = 0.05 * torch.sign(torch.sin(torch.arange(128.0) * 2.0)).expand(1, 3, 96, 128)  # 1-3 px strokes
    lit = clean + patch + texture
    out = ColourGuard(8)(x, lit)
    inside = (slice(None), slice(None), slice(32, 48), slice(48, 80))
    left_in = (out - clean - texture)[inside]
    assert (left_in - left_in.mean(1, keepdim=True)).abs().mean() < 0.25 * 0.2  # 3/4 of its 0.2 chroma gone
    assert torch.allclose(out.mean(1), lit.mean(1), atol=0.02)  # lightness untouched
    assert (out - lit).abs()[..., :, :16].mean() < (out - lit).abs()[inside].mean() / 4  # the rest kept


def test_the_uint8_guard_gives_the_module_s_picture_within_one_level() -> None:
    """guard_frame (NumPy/OpenCV, after a bf16 body) against ColourGuard (PyTorch, in the graph) on
    frames whose sides are not multiples of the block, with a colour patch to take out."""
    for h, w in ((96, 128), (75, 101)):
        frame = frames(h, w)[0]
        styled = np.ascontiguousarray(frame[..., ::-1])  # a hue swap, which the guard keeps
        styled[10:40, 20:60] = (40, 200, 90)  # a patch the frame does not explain, which it takes out
        x = torch.from_numpy(frame).permute(2, 0, 1)[None].float()
        y = torch.from_numpy(styled).permute(2, 0, 1)[None].float().sub(127.5).div(127.5)
        expected = to_uint8(ColourGuard(8)(x, y))[0].permute(1, 2, 0).numpy().astype(int)
        got = guard_frame(8, frame, styled)
        assert got.shape == frame.shape and got.dtype == np.uint8
        assert np.abs(got.astype(int) - expected).max() <= 1
        assert np.abs(got.astype(int) - styled.astype(int)).max() > 20  # the patch was changed


def test_a_flat_frame_is_left_alone() -> None:
    x = torch.zeros(1, 3, 40, 40)
    y = torch.full((1, 3, 40, 40), 0.25)
    assert torch.allclose(ColourGuard(8)(x, y), y)


@pytest.mark.parametrize("arch", ["lite_hq", "resnet", "lite_fast"])
@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_engine_frames_equal_the_guarded_generator(arch: str, backend: str) -> None:
    """The engine folds BGR and [0, 255] into the first convolution, so the guard sees BGR
    input at another scale: its frames must still equal the generator's own output."""
    model, _ = tiny_generator(arch, colour_guard=8)
    assert model.guard is not None
    frame = frames(64, 96)[0]
    engine = InferenceEngine(device="cpu", size=None, backend=backend, precision="fp32")
    engine.set_style(copy.deepcopy(model), "guarded")
    got = engine.process(frame).astype(int)
    assert np.abs(got - generator_frame(model, frame)).max() <= 1


def test_switching_the_guard_on_a_library_style(library: StyleLibrary) -> None:
    before, _ = library.load("beta")
    assert colour_guard_main(["beta", "--block", "8", "--library", str(library.root)]) == 0
    guarded, style = library.load("beta")
    assert style.config.colour_guard == 8 and guarded.guard.block == 8
    assert style.training["colour_guard"] == "block 8 px"
    assert all(
        torch.equal(a, b) for a, b in zip(before.state_dict().values(), guarded.state_dict().values(), strict=True)
    )
    assert library.default_style_name() == "alpha"
    assert colour_guard_main(["beta", "--block", "0", "--library", str(library.root)]) == 0
    assert library.load("beta")[0].guard is None
    assert colour_guard_main(["beta", "--block", "1", "--library", str(library.root)]) == 2


@pytest.mark.skipif(not openvino_available(), reason="OpenVINO is not installed")
def test_the_guard_after_the_body_keeps_the_guarded_style_s_picture() -> None:
    """bf16 runs a guarded style as its body on OpenVINO and the guard after it in PyTorch fp32
    (models/backends.py). Split the same way in fp32, shipped Ukiyo-e on a real frame gives the
    one-graph runner's picture within 45 dB (the split guard fits the frame, the one-graph guard
    the padded frame), and the guard is really applied: without it the picture is further off."""
    cap = cv2.VideoCapture(str(shared_path("videos", "book.mkv")))
    ok, frame = cap.read()
    cap.release()
    assert ok
    frame = np.ascontiguousarray(cv2.resize(frame, (344, 256), interpolation=cv2.INTER_AREA))
    model = StyleLibrary(REPO / "weights").load("ukiyoe")[0]
    assert model.guard is not None
    whole = OpenVinoRunner(model, threads=1)(frame).copy()
    split = GuardAfterRunner(model, threads=1, bf16=False)(frame)
    assert split.shape == whole.shape and split.flags["C_CONTIGUOUS"]
    unguarded = copy.deepcopy(model)
    unguarded.guard = None
    body = OpenVinoRunner(unguarded, threads=1)(frame)
    assert psnr(split, whole) >= 45.0 and psnr(body, whole) < psnr(split, whole) - 6, (
        psnr(split, whole),
        psnr(body, whole),
    )
