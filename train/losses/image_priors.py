"""The image priors a training config weights (train/losses/priors.py names them): the
total-variation texture prior, its flat-region variant, and the colour priors (colour-blotch
fit, hue keeping), each a function of the generator's output and its photo.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (L1 TV): low for flat fills with
    sparse edges, high for grain; an L1 rather than L2 penalty so edges survive."""
    images = images.float()
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    return dx + dy


def flat_texture(output: torch.Tensor, source: torch.Tensor, sigma: float = 0.05) -> torch.Tensor:
    """L1 total variation of `output`, each neighbour difference weighted by how flat the source
    photo is there: exp(-|source difference| / sigma), averaged over the colour channels.

    Edges and textures the photo has (grass, a roof line) cost almost nothing, so the prior keeps
    them sharp; strokes painted into the photo's flat parts (the vertical streaks a small Monet
    generator paints into night skies, ringing lines beside edges) cost what plain TV charges.
    `sigma` is in the images' [-1, 1] units: 0.05 is about 6 grey levels."""
    output, source = output.float(), source.float()
    cost = output.new_zeros(())
    for dim in (-1, -2):
        d_out = output.diff(dim=dim).abs()
        flatness = torch.exp(-source.diff(dim=dim).abs().mean(dim=1, keepdim=True) / sigma)
        cost = cost + (d_out * flatness).mean()
    return cost


def _centred_block_colours(output: torch.Tensor, source: torch.Tensor, cell: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Both images averaged over `cell` x `cell` blocks, flattened to (B, 3, N) and mean-centred per image, in fp32."""
    y = F.avg_pool2d(output.float(), cell).flatten(2)
    x = F.avg_pool2d(source.float(), cell).flatten(2)
    return y - y.mean(dim=2, keepdim=True), x - x.mean(dim=2, keepdim=True)


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
        y, x = _centred_block_colours(output, source, cell)
        n = x.shape[2]
        eye = torch.eye(x.shape[1], device=x.device, dtype=x.dtype)
        gram = x @ x.transpose(1, 2) / n + ridge * eye  # B, 3, 3
        cross = y @ x.transpose(1, 2) / n  # B, 3, 3
        colour_map = torch.linalg.solve(gram, cross.transpose(1, 2)).transpose(1, 2)  # cross @ gram^-1
        return (y - colour_map @ x).abs().mean()


# RGB -> (lightness, red-green, yellow-blue): an opponent space where "keep the hues" is a scalar gain on the last two.
_OPPONENT = torch.tensor([[1 / 3, 1 / 3, 1 / 3], [1.0, -1.0, 0.0], [0.5, 0.5, -1.0]])


def _least_squares_gain(y: torch.Tensor, x: torch.Tensor, dims: tuple[int, ...], ridge: float) -> torch.Tensor:
    """The scalar g minimising |y - g x|^2 summed over `dims` (ridge per element pulls g to 0)."""
    n = x.shape[2]
    return (y * x).sum(dims, keepdim=True) / ((x**2).sum(dims, keepdim=True) + ridge * n)


def hue_keep_residual(output: torch.Tensor, source: torch.Tensor, cell: int = 8, ridge: float = 1e-3) -> torch.Tensor:
    """Like `colour_fit_residual`, but the per-image map may only change lightness (any gain and
    offset), tint everything (a chroma offset) and scale saturation (one chroma gain, at least 0;
    washing the colours out to grey keeps the hues for free, and a higher floor on that gain did
    not help: docs/training-notes.md, `--hue-keep-min-saturation`).

    What the full linear map allows and this does not is a swap of hues between regions: green
    fields painted red-brown while the blue sky stays blue, grey clouds painted yellow in patches.
    A painter's palette (warmer, paler, more saturated) stays free, and so does texture finer
    than a cell.
    """
    with torch.autocast(device_type=output.device.type, enabled=False):
        y, x = _centred_block_colours(output, source, cell)
        opponent = _OPPONENT.to(x.device)
        y, x = opponent @ y, opponent @ x  # B, 3, N
        light_gain = _least_squares_gain(y[:, :1], x[:, :1], dims=(2,), ridge=ridge)
        chroma_gain = _least_squares_gain(y[:, 1:], x[:, 1:], dims=(1, 2), ridge=ridge)
        gain = torch.cat([light_gain, chroma_gain.clamp(min=0.0).expand(-1, 2, -1)], dim=1)  # B, 3, 1
        return (y - gain * x).abs().mean()
