"""Stride-locked patterns: the training penalty against them and the measure that reports them.

A generator that downsamples twice by 2 is translation-equivariant only in steps of 4 pixels, so
wherever its input gives it nothing to work with (sky, water, a wall) the only texture it can
paint is periodic with period 4 and locked to the image grid. CPU-trained styles grew exactly
that: a regular hatching or halftone over every output. Natural images and paintings have no
such component; it shows up as sharp peaks at the DFT frequencies that are multiples of N/4.

- `stride_pattern_loss` (training): the grid-locked 4x4 component of an image, i.e. the mean over
  all 4x4 blocks of each block's deviation from its own mean, as an L1 value. It is ~0 for real
  images, differentiable, and costs one reshape and one mean.
- `stride_peak_ratio` (evaluation): power at the multiples of N/4 over the power next to them,
  median over images. Photos and paintings measure about 1-2; a visibly hatched output 8-50.
"""

from __future__ import annotations

import numpy as np
import torch

PERIOD = 4  # two stride-2 downsamplings in every generator here


def _blocks(images: torch.Tensor, period: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H/p, p, W/p, p), cropping H and W down to multiples of p."""
    n, c, h, w = images.shape
    h, w = h - h % period, w - w % period
    return images[..., :h, :w].reshape(n, c, h // period, period, w // period, period)


def stride_pattern_loss(images: torch.Tensor, period: int = PERIOD) -> torch.Tensor:
    """Mean absolute grid-locked period-`period` component of a batch in [-1, 1] (fp32)."""
    blocks = _blocks(images.float(), period)
    deviation = blocks - blocks.mean(dim=(3, 5), keepdim=True)
    return deviation.mean(dim=(2, 4)).abs().mean()


def stride_peak_ratio(images_rgb: list[np.ndarray], period: int = PERIOD) -> float:
    """Median over images of the luma power at the multiples of N/period (N the side, DC left
    out) over the mean power of the bins around each one."""
    ratios = []
    for rgb in images_rgb:
        grey = rgb.astype(np.float64).mean(axis=2)
        h, w = grey.shape
        power = np.abs(np.fft.fft2(grey - grey.mean())) ** 2
        peaks, around = [], []
        for i in range(0, h, h // period):
            for j in range(0, w, w // period):
                if i == 0 and j == 0:
                    continue
                rows = [(i + d) % h for d in (-2, -1, 1, 2)]
                cols = [(j + d) % w for d in (-2, -1, 1, 2)]
                peaks.append(power[i, j])
                around.append(power[np.ix_(rows, cols)].mean())
        ratios.append(np.mean(peaks) / max(np.mean(around), 1e-12))
    return float(np.median(ratios))
