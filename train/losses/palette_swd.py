"""The painting-palette loss: a sliced Wasserstein distance between the patches of the output's
Laplacian pyramid and those of a batch of training paintings.

Why: the distillation's pixel, feature and GAN terms all pull a fine-tuned style towards its
teacher's colours, and on rooms and faces (which the teacher never saw) those lose to a plain
Reinhard colour transfer (docs/training-notes.md, issue 31). This term pulls the output's colour
and contrast, level by level, towards what the paintings hold. It is the evaluation's SWD+colour
(train/evaluation/metrics.py: ProGAN's 7x7 pyramid patches, one normalisation for both sets) made
differentiable through the sort (Heitz et al. 2021, "A Sliced Wasserstein Loss for Neural Texture
Synthesis"), computed against the *training* paintings; the test paintings stay for evaluation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PATCH = 7
MIN_RES = 16
_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur_down(x: torch.Tensor) -> torch.Tensor:
    """cv2.pyrDown: a 5x5 binomial blur (reflected border), then every second pixel."""
    kernel = (_BINOMIAL[:, None] * _BINOMIAL[None, :]).to(x)
    kernel = kernel.expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, groups=x.shape[1])[:, :, ::2, ::2]


def laplacian_levels(images: torch.Tensor, min_res: int = MIN_RES) -> list[torch.Tensor]:
    """Band-pass levels from full resolution down, then the low-pass residual at >= min_res
    (train/evaluation/metrics.laplacian_pyramid, in torch, on (B, C, H, W))."""
    levels, current = [], images
    while min(current.shape[-2:]) // 2 >= min_res:
        down = _blur_down(current)
        up = F.interpolate(down, size=current.shape[-2:], mode="bilinear", align_corners=False)
        levels.append(current - up)
        current = down
    levels.append(current)
    return levels


def random_patches(level: torch.Tensor, per_image: int, rng: torch.Generator) -> torch.Tensor:
    """(B * per_image, C * 7 * 7): 7x7 neighbourhoods at random places of every image."""
    b, c, h, w = level.shape
    ys = torch.randint(0, h - PATCH + 1, (b, per_image), generator=rng)
    xs = torch.randint(0, w - PATCH + 1, (b, per_image), generator=rng)
    offsets = torch.arange(PATCH)
    rows = (ys[:, :, None] + offsets).to(level.device)  # (B, P, 7)
    cols = (xs[:, :, None] + offsets).to(level.device)
    batch = torch.arange(b, device=level.device)[:, None, None, None]
    # level[b, :, rows, cols] for every patch: (B, P, 7, 7, C)
    patches = level.permute(0, 2, 3, 1)[batch, rows[:, :, :, None], cols[:, :, None, :]]
    return patches.permute(0, 1, 4, 2, 3).reshape(b * per_image, c * PATCH * PATCH)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, directions: int, rng: torch.Generator) -> torch.Tensor:
    """Mean 1-D Wasserstein distance of the two sets' projections on random unit directions
    (equal counts: the larger set is subsampled)."""
    n = min(len(a), len(b))
    if len(a) > n:
        a = a[torch.randperm(len(a), generator=rng)[:n].to(a.device)]
    if len(b) > n:
        b = b[torch.randperm(len(b), generator=rng)[:n].to(b.device)]
    dirs = torch.randn(a.shape[1], directions, generator=rng).to(a)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    pa, _ = torch.sort(a @ dirs, dim=0)
    pb, _ = torch.sort(b @ dirs, dim=0)
    return (pa - pb).abs().mean()


def palette_swd_loss(
    output: torch.Tensor,
    paintings: torch.Tensor,
    rng: torch.Generator,
    per_image: int = 256,
    directions: int = 64,
    levels: int = 0,
) -> torch.Tensor:
    """SWD (x 1, not the evaluation's x 1e3) between output and paintings, averaged over pyramid
    levels; each level normalised by the paintings' per-channel mean and the pooled std, as the
    evaluation's joint SWD. `levels` > 0 keeps only that many of the coarsest (the colour and the
    broad strokes, leaving the fine texture to the teacher). `paintings` carries no gradient."""
    paintings = paintings.detach()
    total = output.new_zeros(())
    out_levels, paint_levels = laplacian_levels(output), laplacian_levels(paintings)
    if levels > 0:
        out_levels, paint_levels = out_levels[-levels:], paint_levels[-levels:]
    per_painting = max(1, per_image * len(output) // len(paintings))
    for lo, lp in zip(out_levels, paint_levels, strict=True):
        fo, fp = random_patches(lo, per_image, rng), random_patches(lp, per_painting, rng)
        c = lo.shape[1]
        fo_c, fp_c = fo.view(len(fo), c, -1), fp.view(len(fp), c, -1)
        mean = fp_c.mean(dim=(0, 2), keepdim=True)
        std = torch.cat([fo_c.detach(), fp_c]).std(dim=(0, 2), keepdim=True) + 1e-8
        fo_n = ((fo_c - mean) / std).flatten(1)
        fp_n = ((fp_c - mean) / std).flatten(1)
        total = total + sliced_wasserstein(fo_n, fp_n, directions, rng)
    return total / len(out_levels)
