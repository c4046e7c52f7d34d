"""The droplet penalty: it measures a feature-map spike, its gradient removes it, and a training
step with it runs and reports it."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from train.losses.spike_penalty import SpikePenalty, channel_peaks
from train.trainers.cyclegan import CycleGANTrainer

from .conftest import tiny_config
from .test_trainer import _batches


def _spiky_map() -> torch.Tensor:
    x = torch.randn(1, 2, 64, 64, generator=torch.Generator().manual_seed(0))
    x[0, 1, 30, 30] = 200.0  # one droplet-like spike in channel 1
    return x


def test_channel_peaks_single_out_a_spike() -> None:
    peaks = channel_peaks(_spiky_map())
    assert peaks[0, 0] < 6  # Gaussian noise over 4096 positions peaks near 4 sigma
    assert peaks[0, 1] > 40


def test_penalty_gradient_shrinks_the_spike() -> None:
    norm = nn.Sequential(nn.InstanceNorm2d(2))
    penalty = SpikePenalty([norm])
    x = _spiky_map().requires_grad_(True)
    penalty.enabled = True
    norm(x)
    assert float(penalty.total.detach()) > 0
    penalty.total.backward()
    with torch.no_grad():
        stepped = x - 50.0 * x.grad / x.grad.abs().max()
    assert channel_peaks(stepped)[0, 1] < channel_peaks(x.detach())[0, 1]
    assert torch.equal(x.grad[0, 0], torch.zeros_like(x.grad[0, 0]))  # the quiet channel is left alone
    penalty.reset()
    with torch.no_grad():
        norm(x)  # not collected outside training
    assert float(penalty.total) == 0
    penalty.remove()


def test_training_step_reports_the_spike_loss(dataroot: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    trainer = CycleGANTrainer(tiny_config(dataroot, tmp_path, lambda_spike=1.0), total_steps=2)
    for a, b in _batches(trainer.config, 2):
        losses = trainer.train_step(a, b)
    assert math.isfinite(float(losses["spike"])) and float(losses["spike"]) >= 0
    assert not trainer.spikes.enabled  # switched off outside the generator pass


def test_record_norm_peaks_gives_one_figure_per_image() -> None:
    from models.registry import create_generator
    from train.losses.spike_penalty import record_norm_peaks

    generator = create_generator("lite").eval()
    with torch.no_grad(), record_norm_peaks(generator) as peaks:
        generator(torch.rand(2, 3, 32, 32) * 2 - 1)
        generator(torch.rand(1, 3, 32, 32) * 2 - 1)
    assert len(peaks) == 3 and all(0 < p < 32 for p in peaks)  # |z| is bounded by sqrt(H*W)
    generator(torch.zeros(1, 3, 8, 8))
    assert len(peaks) == 3  # hooks are gone after the block
