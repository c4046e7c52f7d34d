"""Adversarial losses (lsgan, vanilla, wgangp, hinge) and the WGAN-GP gradient penalty.

A `GANLoss` is a pair of plain functions looked up once in `GAN_LOSSES`; logits are cast to
fp32 before any loss so mixed precision never computes a loss in half precision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class GANLoss:
    """`d(real_logits, fake_logits)` for the discriminator, `g(fake_logits)` for the generator."""

    d: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g: Callable[[torch.Tensor], torch.Tensor]
    gradient_penalty: bool = False


def _lsgan_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    # The reference halves the discriminator loss so D learns more slowly than G.
    return 0.5 * (F.mse_loss(real.float(), torch.ones_like(real, dtype=torch.float32)) + fake.float().pow(2).mean())


def _lsgan_g(fake: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(fake.float(), torch.ones_like(fake, dtype=torch.float32))


def _vanilla_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    real, fake = real.float(), fake.float()
    loss_real = F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
    return 0.5 * (loss_real + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))


def _vanilla_g(fake: torch.Tensor) -> torch.Tensor:
    fake = fake.float()
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def _wgan_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return fake.float().mean() - real.float().mean()


def _hinge_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real.float()).mean() + F.relu(1.0 + fake.float()).mean()


def _negative_mean(fake: torch.Tensor) -> torch.Tensor:
    return -fake.float().mean()


GAN_LOSSES: dict[str, GANLoss] = {
    "lsgan": GANLoss(_lsgan_d, _lsgan_g),
    "vanilla": GANLoss(_vanilla_d, _vanilla_g),
    "wgangp": GANLoss(_wgan_d, _negative_mean, gradient_penalty=True),
    "hinge": GANLoss(_hinge_d, _negative_mean),
}


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates (Gulrajani et al. 2017), in fp32."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    x_hat = (alpha * real.float() + (1.0 - alpha) * fake.float()).requires_grad_(True)
    with torch.autocast(device_type=real.device.type, enabled=False):
        out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1.0).pow(2).mean()
