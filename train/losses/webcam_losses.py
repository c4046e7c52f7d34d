"""Training objectives for what a webcam shows, with no downloaded network: faces that keep their
features and a still scene that stays still.

- `structure_loss`: in windows where the photo has luma structure (eyes, mouths, outlines), the
  output's luma-gradient magnitude should correlate with the photo's; windows without structure
  (a sky, a wall) carry no weight, so brushwork there stays free. It is the training form of the
  face-structure figure in train/evaluation/webcam_metrics.py (Pearson correlation of Sobel magnitudes).
- `transform_consistency`: G(T(x) + noise) close to T(G(x)) for a small random shift T and
  sensor noise, so the generator paints the same strokes on a scene that moves by a
  pixel or flickers by a grey level (the crawling texture of a still wall). No run-time cost.

- `texture_energy_loss`: the output keeps as much fine detail (brushwork) in each cell as the
  style's own output there, wherever the strokes sit: what stops the two priors above from
  buying their figures by painting no strokes at all.

All tensors are RGB in [-1, 1], (B, 3, H, W); both losses run in fp32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_LUMA = (0.299, 0.587, 0.114)
_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
# Training forwards skip the generators' inference margin, so their outer pixels carry the frame
# of lines the zero-padded layers paint there (models/lite_generator.py); neither loss looks at it.
BORDER = 8


def luma(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB -> (B, 1, H, W) Rec. 601 luma, in fp32."""
    weights = images.new_tensor(_LUMA, dtype=torch.float32).view(1, 3, 1, 1)
    return (images.float() * weights).sum(dim=1, keepdim=True)


def sobel_magnitude(gray: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """(B, 1, H, W) -> gradient magnitude of the same size (replicate-padded Sobel, as cv2.Sobel)."""
    kx = gray.new_tensor(_SOBEL_X).view(1, 1, 3, 3)
    kernels = torch.cat([kx, kx.transpose(2, 3)], dim=0)
    grads = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), kernels)
    return (grads.pow(2).sum(dim=1, keepdim=True) + eps).sqrt()


def _crop_border(x: torch.Tensor, border: int) -> torch.Tensor:
    if border and min(x.shape[-2:]) > 4 * border:
        return x[..., border:-border, border:-border]
    return x


def structure_loss(output: torch.Tensor, source: torch.Tensor, window: int = 32) -> torch.Tensor:
    """1 - local correlation of luma-gradient magnitudes, averaged over windows weighted by how
    much structure the source has there (the std of its gradient magnitude): 0 when the output's
    edges follow the photo's wherever the photo has edges, up to 2 when they are anti-correlated.

    Correlation is free of scale and offset, so a style may paint its edges bolder or fainter, and
    of what happens in flat windows; windows overlap by half."""
    with torch.autocast(device_type=output.device.type, enabled=False):
        g_out = _crop_border(sobel_magnitude(luma(output)), BORDER)
        g_src = _crop_border(sobel_magnitude(luma(source)), BORDER)
        window = min(window, *g_out.shape[-2:])
        pool = lambda t: F.avg_pool2d(t, window, stride=max(1, window // 2))  # noqa: E731
        mu_o, mu_s = pool(g_out), pool(g_src)
        var_o = (pool(g_out * g_out) - mu_o * mu_o).clamp_min(0)
        var_s = (pool(g_src * g_src) - mu_s * mu_s).clamp_min(0)
        cov = pool(g_out * g_src) - mu_o * mu_s
        corr = cov / (var_o * var_s + 1e-8).sqrt()
        weight = var_s.sqrt()
        return ((1.0 - corr) * weight).sum() / (weight.sum() + 1e-8)


def transform_consistency(
    generator: nn.Module,
    source: torch.Tensor,
    output: torch.Tensor,
    max_shift: int = 4,
    noise_std: float = 0.02,
    generator_rng: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean |G(T(x) + n) - T(G(x))| away from the borders, for a random whole-pixel shift T of up
    to `max_shift` pixels and Gaussian sensor noise n of up to `noise_std` (in [-1, 1] units; 0.02
    is 2.5 grey levels). `output` is G(x), already computed by the caller; gradients reach both
    forwards.

    Whole pixels, because a sub-pixel shift resamples (blurs) T(G(x)), and matching that blur
    teaches the generator to paint no strokes at all (tried: the Van Gogh lost its brushwork)."""
    dy, dx = (int(v) for v in torch.randint(-max_shift, max_shift + 1, (2,), generator=generator_rng))
    sigma = torch.rand(source.shape[0], 1, 1, 1, generator=generator_rng).to(source.device) * noise_std
    noise = torch.randn(source.shape, generator=generator_rng).to(source.device) * sigma
    moved = generator(torch.roll(source, (dy, dx), dims=(2, 3)) + noise)
    target = torch.roll(output.float(), (dy, dx), dims=(2, 3))
    # The rolled-in rows and columns wrap around; the border crop (> max_shift) drops them.
    return _crop_border((moved.float() - target).abs(), max(BORDER, max_shift)).mean()


def detail_energy(images: torch.Tensor, cell: int = 8) -> torch.Tensor:
    """Mean |x - 3x3 box blur of x| over `cell` x `cell` cells, per channel: how much fine
    detail each cell holds, not where in the cell it is."""
    images = images.float()
    detail = images - F.avg_pool2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return F.avg_pool2d(detail.abs(), cell)


def texture_energy_loss(output: torch.Tensor, reference: torch.Tensor, cell: int = 8, levels: int = 1) -> torch.Tensor:
    """L1 between the cells' detail energy of `output` and of `reference` (the style's output),
    summed over `levels` octaves (each a 2x2 average of the one before): the second octave holds
    the strokes a few pixels wide, which a stronger structure prior otherwise smooths away."""
    with torch.autocast(device_type=output.device.type, enabled=False):
        out, ref = (_crop_border(t, BORDER).float() for t in (output, reference))
        loss = out.new_zeros(())
        for level in range(levels):
            if level:
                out, ref = F.avg_pool2d(out, 2), F.avg_pool2d(ref, 2)
            loss = loss + (detail_energy(out, cell) - detail_energy(ref, cell)).abs().mean()
        return loss
