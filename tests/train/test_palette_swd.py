"""The palette term (train/losses/palette_swd.py): it measures how far the output's pyramid patches
are from the paintings', its gradient reaches the output only, and in a fine-tune it pulls the
student's colours from its teacher's towards the paintings'."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from models.checkpoints import save_generator
from models.registry import GeneratorConfig, create_generator
from train.evaluation.metrics import laplacian_pyramid
from train.losses.palette_swd import laplacian_levels, palette_swd_loss
from train.trainers.checkpoint import load_checkpoint
from train.trainers.cyclegan import init_weights
from train.trainers.data import load_center, scan_folder
from train.trainers.distill import DistillConfig, load_teacher, run_distill
from train.trainers.distill import main as distill_main


def _squares(channel: int, count: int = 4, size: int = 64, seed: int = 0) -> torch.Tensor:
    """Noise squares in one RGB channel, in [-1, 1] (B, 3, H, W)."""
    g = torch.Generator().manual_seed(seed)
    images = torch.full((count, 3, size, size), -1.0)
    images[:, channel] = torch.rand(count, size, size, generator=g) * 1.2 - 0.2
    return images


def test_levels_match_the_evaluations_pyramid_in_count_and_size() -> None:
    image = np.random.default_rng(0).integers(0, 256, (128, 96, 3)).astype(np.uint8)
    ours = laplacian_levels(torch.from_numpy(image).permute(2, 0, 1)[None].float())
    theirs = laplacian_pyramid(image)
    assert [tuple(t.shape[-2:]) for t in ours] == [t.shape[:2] for t in theirs]
    # the low-pass residual carries the colour: the same mean as the evaluation's
    assert np.allclose(ours[-1][0].mean(dim=(1, 2)).numpy(), theirs[-1].mean(axis=(0, 1)), atol=2.0)


def test_the_loss_is_small_for_the_paintings_colours_and_large_for_others() -> None:
    paintings = _squares(channel=2, seed=1)
    same = palette_swd_loss(_squares(channel=2, seed=2), paintings, torch.Generator().manual_seed(0))
    other = palette_swd_loss(_squares(channel=0, seed=2), paintings, torch.Generator().manual_seed(0))
    assert float(other) > 3 * float(same)


def test_the_gradient_reaches_the_output_and_not_the_paintings() -> None:
    output = _squares(channel=0).requires_grad_(True)
    paintings = _squares(channel=2, seed=1).requires_grad_(True)
    palette_swd_loss(output, paintings, torch.Generator().manual_seed(0)).backward()
    assert output.grad is not None and output.grad.abs().sum() > 0
    assert paintings.grad is None
    # a step down the gradient brings the output's colour towards the paintings' (blue up, red down)
    moved = output.detach() - 5.0 * output.grad
    assert moved[:, 2].mean() > output[:, 2].mean() and moved[:, 0].mean() < output[:, 0].mean()


def _mean_colour(model: torch.nn.Module, photos: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(photos).mean(dim=(0, 2, 3))


def test_a_fine_tune_with_the_palette_term_moves_towards_the_paintings(dataroot: Path, tmp_path: Path) -> None:
    """trainA is red squares, trainB blue ones; a fine-tune that starts as its teacher and is told
    to keep the teacher's pixels ends bluer with the palette term than without it, and resumes."""
    torch.manual_seed(1)
    config = GeneratorConfig("lite", ngf=8, n_blocks=1)
    save_generator(tmp_path / "teacher.safetensors", init_weights(create_generator(config)), config)
    photos = torch.stack([load_center(p, 32, 32) for p in scan_folder(dataroot / "trainA").files])
    blue = {}
    for weight in (0.0, 20.0):
        out = tmp_path / f"run_{weight:g}"
        run_distill(DistillConfig(
            teacher=str(tmp_path / "teacher.safetensors"), fine_tune=True, dataroot=str(dataroot), out=str(out),
            ndf=8, load_size=36, crop_size=32, max_steps=40, lr=2e-3, lambda_gan=0.0, lambda_palette=weight,
            log_every=10, sample_every=1000, export=False, device="cpu",
        ), quiet=True)  # fmt: skip
        student, _ = load_teacher(str(out))
        rgb = _mean_colour(student, photos)
        blue[weight] = float(rgb[2] - rgb[0])
    assert blue[20.0] > blue[0.0] + 0.1, blue
    args = ["--resume", str(tmp_path / "run_20"), "--max-steps", "44"]
    assert distill_main(args) == 0
    assert load_checkpoint(tmp_path / "run_20")["step"] == 44


def test_the_coarsest_levels_weigh_colour_more_than_all_levels() -> None:
    """levels=1 (the low-pass residual alone) tells a red output from blue paintings by a wider
    margin over a blue one than all levels averaged, whose fine levels see only the noise."""
    paintings = _squares(channel=2, seed=1)

    def ratio(levels: int) -> float:
        other = palette_swd_loss(
            _squares(channel=0, seed=2), paintings, torch.Generator().manual_seed(0), levels=levels
        )
        same = palette_swd_loss(_squares(channel=2, seed=2), paintings, torch.Generator().manual_seed(0), levels=levels)
        return float(other) / float(same)

    assert ratio(1) > 1.5 * ratio(0)
