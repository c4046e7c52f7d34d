"""The webcam priors: structure keeping, transformation consistency and texture energy, and the
fine-tuning distillation that uses them."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import pytest
import torch
from torch import nn

from models.checkpoints import save_generator
from models.registry import GeneratorConfig, create_generator
from train.losses.webcam_losses import structure_loss, texture_energy_loss, transform_consistency
from train.trainers.cyclegan import init_weights
from train.trainers.distill import DistillConfig, Distiller, load_teacher

from .conftest import SHARED_DATA

CLIP = SHARED_DATA / "videos" / "sister.mkv"


def _photo(size: int = 96) -> torch.Tensor:
    """A real webcam frame (people at a desk) as RGB in [-1, 1], else a synthetic scene of edges."""
    if CLIP.is_file():
        ok, frame = cv2.VideoCapture(str(CLIP)).read()
        assert ok
        rgb = cv2.cvtColor(cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
    torch.manual_seed(0)
    img = torch.zeros(1, 3, size, size)
    for _ in range(12):
        y, x, h, w = (int(v) for v in torch.randint(0, size // 2, (4,)))
        img[..., y : y + h + 4, x : x + w + 4] = torch.rand(3, 1, 1) * 2 - 1
    return img


def test_structure_loss_is_zero_for_any_brightness_and_contrast_of_the_photo() -> None:
    x = _photo()
    assert float(structure_loss(x, x)) < 1e-3
    assert float(structure_loss((0.5 * x - 0.2).clamp(-1, 1), x)) < 1e-3


def test_structure_loss_grows_as_edges_are_lost() -> None:
    x = _photo()
    blurred = torch.from_numpy(cv2.GaussianBlur(x[0].permute(1, 2, 0).numpy(), (0, 0), 3)).permute(2, 0, 1)[None]
    torch.manual_seed(1)
    noise = torch.rand_like(x) * 2 - 1
    same, blur, unrelated = (float(structure_loss(y, x)) for y in (x, blurred, noise))
    assert same < blur < unrelated, (same, blur, unrelated)
    assert unrelated > 0.7


def test_structure_loss_ignores_flat_regions() -> None:
    """Texture painted into a region the photo has no edges in costs (almost) nothing."""
    x = torch.zeros(1, 3, 96, 96)
    x[..., 40:, :] = 0.8  # one horizontal edge, flat above and below
    painted = x.clone()
    torch.manual_seed(2)
    painted[..., :24, :] += 0.3 * torch.rand(1, 1, 24, 96)  # strokes in the flat top (a sky)
    assert float(structure_loss(painted, x)) < 0.15


def test_texture_energy_charges_lost_strokes_and_its_second_octave_the_wider_ones() -> None:
    """Strokes 3 px wide (a period-6 pattern) are mostly beyond the 3x3 detail of the finest octave;
    the second octave sees them. Where the strokes sit does not matter, only that they are there."""
    x = _photo()
    columns = torch.arange(x.shape[-1])
    strokes = (x + 0.3 * ((columns // 3) % 2 * 2 - 1).float()).clamp(-1, 1)
    moved = torch.roll(strokes, 3, dims=3)  # the same strokes, half a period over
    assert float(texture_energy_loss(strokes, strokes, levels=2)) == 0.0
    fine, both = (float(texture_energy_loss(x, strokes, levels=n)) for n in (1, 2))
    assert both > 1.5 * fine > 0, (fine, both)
    assert float(texture_energy_loss(moved, strokes, levels=2)) < 0.1 * both


def test_transform_consistency_is_zero_for_a_shift_equivariant_map() -> None:
    x = _photo()
    pointwise = nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        loss = transform_consistency(pointwise, x, pointwise(x), noise_std=0.0)
    assert float(loss) < 1e-6


class _PositionPattern(nn.Module):
    """Paints a fixed pattern locked to the frame, not to the scene: it crawls when the scene moves."""

    def __init__(self, size: int) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.pattern = nn.Parameter(torch.rand(1, 3, size, size) * 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pattern


def test_transform_consistency_penalises_frame_locked_texture_and_noise_sensitivity() -> None:
    x = _photo()
    rng = torch.Generator().manual_seed(0)
    crawling = _PositionPattern(x.shape[-1])
    with torch.no_grad():
        losses = [
            float(transform_consistency(crawling, x, crawling(x), noise_std=0.0, generator_rng=rng)) for _ in range(8)
        ]
    assert max(losses) > 0.05
    sensitive = nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        sensitive.weight.copy_(torch.eye(3).view(3, 3, 1, 1) * 20)  # amplifies sensor noise 20x
        loss = transform_consistency(sensitive, x, sensitive(x), max_shift=0, noise_std=0.02, generator_rng=rng)
    assert float(loss) > 0.05


def _lite_style(path: Path) -> Path:
    torch.manual_seed(1)
    config = GeneratorConfig("lite", ngf=8, n_blocks=1, decoder_norm="demod", palette=True)
    save_generator(path, init_weights(create_generator(config)), config)
    return path


@pytest.mark.parametrize(
    "priors",
    [{"lambda_structure": 1.0}, {"lambda_consistency": 10.0}, {"lambda_nce": 1.0},
     {"lambda_texture": 1.0, "texture_levels": 2, "lambda_grid": 10.0}],
)  # fmt: skip
def test_fine_tune_starts_from_the_teacher_and_trains_with_the_priors(
    dataroot: Path, tmp_path: Path, priors: dict
) -> None:
    teacher_path = _lite_style(tmp_path / "style.safetensors")
    teacher, teacher_config = load_teacher(str(teacher_path))
    config = DistillConfig(
        teacher=str(teacher_path), dataroot=str(dataroot), out=str(tmp_path / "run"), fine_tune=True, ndf=8,
        load_size=36, crop_size=32, max_steps=5, pixel_pool=4, export=False, device="cpu", **priors,
    )  # fmt: skip
    d = Distiller(config, teacher, teacher_config=teacher_config)
    assert d.student_config == teacher_config
    x = _photo(32).clamp(-1, 1)
    with torch.no_grad():
        assert torch.equal(d.student(x), d.teacher(x))  # a copy, palette map and all
    d.student_tap.take(), d.teacher_tap.take()
    first = d.train_step(x)
    assert float(first["feature"]) < 1e-6  # identity adapters: nothing to distil at the start
    palette_before = d.student.palette.weight.clone()
    steps = [d.train_step(x) for _ in range(4)]
    assert all(math.isfinite(float(v)) for s in steps for v in s.values())
    weighted = {"lambda_structure": "structure", "lambda_consistency": "consistency", "lambda_nce": "nce",
                "lambda_grid": "grid"}  # fmt: skip
    assert all(float(steps[-1][weighted[k]]) > 0 for k in priors if k in weighted)
    assert torch.equal(d.student.palette.weight, palette_before)  # fitted after training, never trained
    with torch.no_grad():
        assert not torch.equal(d.student(x), d.teacher(x))


def test_a_fine_tune_with_patch_nce_saves_its_heads_and_resumes(dataroot: Path, tmp_path: Path) -> None:
    from train.trainers.checkpoint import load_checkpoint
    from train.trainers.distill import run_distill

    teacher_path = _lite_style(tmp_path / "style.safetensors")
    config = DistillConfig(
        teacher=str(teacher_path), dataroot=str(dataroot), out=str(tmp_path / "run"), fine_tune=True, ndf=8,
        load_size=36, crop_size=32, max_steps=3, lambda_nce=1.0, export=False, device="cpu",
    )  # fmt: skip
    run_distill(config, quiet=True)
    state = load_checkpoint(tmp_path / "run")
    assert "nce" in state["models"] and state["step"] == 3
    teacher, teacher_config = load_teacher(str(teacher_path))
    resumed = Distiller(DistillConfig.from_dict({**state["config"], "max_steps": 5}), teacher, "cpu", teacher_config)
    resumed.load_state_dict(state)
    assert resumed.step == 3
    heads = resumed.nce.state_dict()
    assert all(torch.equal(heads[k], v) for k, v in state["models"]["nce"].items())
