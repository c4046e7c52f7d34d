"""Adversarial losses (lsgan, vanilla, wgangp, hinge), the WGAN-GP gradient penalty and the
total-variation texture prior.

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


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (L1 TV): low for flat fills with
    sparse edges, high for grain; an L1 rather than L2 penalty so edges survive."""
    images = images.float()
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    return dx + dy


def colour_fit_residual(output: torch.Tensor, source: torch.Tensor, cell: int = 8, ridge: float = 1e-3) -> torch.Tensor:
    """Mean L1 residual of the best per-image linear colour map from the source's low-passed
    colours to the output's: zero when the output's coarse colour is any global recolouring of the
    source (a palette), high for colour blotches the source does not explain (a grey sky painted
    green in places, a sunset split into orange and purple patches).

    Both images are averaged over `cell` x `cell` blocks, so brush strokes and grain finer than a
    cell cost nothing. The map is fitted per image in closed form on mean-centred colours; the
    ridge (relative to a colour variance) pulls the map of a flat source towards a flat output.
    """
    # The 3x3 solve must stay fp32 under mixed precision (autocast would run the matmuls in half).
    with torch.autocast(device_type=output.device.type, enabled=False):
        y = F.avg_pool2d(output.float(), cell).flatten(2)  # B, 3, N
        x = F.avg_pool2d(source.float(), cell).flatten(2)
        y = y - y.mean(dim=2, keepdim=True)
        x = x - x.mean(dim=2, keepdim=True)
        n = x.shape[2]
        eye = torch.eye(x.shape[1], device=x.device, dtype=x.dtype)
        gram = x @ x.transpose(1, 2) / n + ridge * eye  # B, 3, 3
        cross = y @ x.transpose(1, 2) / n  # B, 3, 3
        colour_map = torch.linalg.solve(gram, cross.transpose(1, 2)).transpose(1, 2)  # cross @ gram^-1
        return (y - colour_map @ x).abs().mean()
