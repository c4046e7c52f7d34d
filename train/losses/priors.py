"""The loss terms a run adds to its generator objective, each a named entry with a weight field.

`PRIORS` maps a term's name (its column in losses.csv) to a `Prior`: the config field that holds
its weight and a function of the step's `PriorInputs`. A run uses the terms whose weight field its
config has (CycleGAN: grid, tv, flat, colour, hue, spike; distillation: grid, structure, consistency,
texture, palette, faces); `weighted_priors` computes the non-zero ones and reports the rest as 0, so every run of
a kind logs the same columns. Adding a term is one function and one entry here, plus its weight
field in train/trainers/config.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from train.losses.face_structure import face_structure_loss, photo_faces
from train.losses.image_priors import colour_fit_residual, flat_texture, hue_keep_residual, total_variation
from train.losses.palette_swd import palette_swd_loss
from train.losses.stride_pattern import stride_pattern_loss
from train.losses.webcam_losses import structure_loss, texture_energy_loss, transform_consistency


@dataclass
class PriorInputs:
    """What a step hands its priors (RGB in [-1, 1], (B, 3, H, W))."""

    photo: torch.Tensor  # the input photos (domain A)
    styled: torch.Tensor  # the photo -> style output being trained
    config: Any  # the run's config: a term may read its own settings there
    reverse: torch.Tensor | None = None  # CycleGAN: the style -> photo output
    reference: torch.Tensor | None = None  # distillation: the teacher's output for the photos
    generator: nn.Module | None = None  # the photo -> style generator (terms that run it again)
    rng: torch.Generator | None = None  # the run's own stream for terms that draw at random
    spike_total: torch.Tensor | None = None  # CycleGAN: the droplet penalty hooked into the forward pass
    paintings: torch.Tensor | None = None  # distillation: a batch of training paintings (the palette term)


@dataclass(frozen=True)
class Prior:
    weight: str  # the config field holding its weight (0 = off)
    fn: Callable[[PriorInputs], torch.Tensor]


def _grid(x: PriorInputs) -> torch.Tensor:
    loss = stride_pattern_loss(x.styled)
    return loss + stride_pattern_loss(x.reverse) if x.reverse is not None else loss


def _consistency(x: PriorInputs) -> torch.Tensor:
    cfg = x.config
    return transform_consistency(x.generator, x.photo, x.styled, cfg.consistency_shift, cfg.consistency_noise, x.rng)


def _palette(x: PriorInputs) -> torch.Tensor:
    if x.paintings is None or x.rng is None:
        raise RuntimeError("the palette term needs a batch of training paintings and the run's rng")
    return palette_swd_loss(x.styled, x.paintings, x.rng, levels=x.config.palette_levels)


def _spike(x: PriorInputs) -> torch.Tensor:
    if x.spike_total is None:
        raise RuntimeError("the droplet penalty needs the SpikePenalty hooks of the generators being trained")
    return x.spike_total


# Order is the order of the columns in losses.csv.
PRIORS: dict[str, Prior] = {
    # CycleGAN (train/trainers/cyclegan.py)
    "grid": Prior("lambda_grid", _grid),  # train/losses/stride_pattern.py; both directions
    "tv": Prior("lambda_tv", lambda x: total_variation(x.styled)),
    "flat": Prior("lambda_flat_texture", lambda x: flat_texture(x.styled, x.photo)),
    "colour": Prior("lambda_colour_fit", lambda x: colour_fit_residual(x.styled, x.photo)),
    "hue": Prior("lambda_hue_keep", lambda x: hue_keep_residual(x.styled, x.photo)),
    "spike": Prior("lambda_spike", _spike),  # train/losses/spike_penalty.py
    # distillation and the webcam fine-tune (train/trainers/distill.py, train/losses/webcam_losses.py)
    "structure": Prior("lambda_structure", lambda x: structure_loss(x.styled, x.photo)),
    "consistency": Prior("lambda_consistency", _consistency),
    "texture": Prior(
        "lambda_texture", lambda x: texture_energy_loss(x.styled, x.reference, levels=x.config.texture_levels)
    ),
    "palette": Prior("lambda_palette", _palette),  # train/losses/palette_swd.py
    "faces": Prior(  # train/losses/face_structure.py
        "lambda_faces", lambda x: face_structure_loss(x.styled, x.photo, photo_faces(x.photo))
    ),
}


def priors_of(config: Any) -> dict[str, Prior]:
    """The terms whose weight field `config` has, in PRIORS order."""
    return {name: prior for name, prior in PRIORS.items() if hasattr(config, prior.weight)}


def weighted_priors(config: Any, inputs: PriorInputs, device: torch.device) -> dict[str, torch.Tensor]:
    """Each of the config's terms times its weight; a term weighted 0 is not computed (the grid
    term runs two FFTs, the consistency term a second forward pass) and reads 0."""
    out = {}
    for name, prior in priors_of(config).items():
        weight = getattr(config, prior.weight)
        out[name] = prior.fn(inputs) * weight if weight > 0 else torch.zeros((), device=device)
    return out
