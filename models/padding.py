"""Shared helper: the input padding generators need (sides that are multiples of their
downsampling, and an optional margin that keeps border artefacts out of the picture)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int = 4, border: int = 0) -> tuple[torch.Tensor, int, int]:
    """Reflect-pad an NCHW tensor by `border` pixels on every side, then its bottom/right up to a
    multiple; returns (x, H, W) before. The caller's picture is x[..., border:border+H, border:border+W]."""
    h, w = x.shape[-2:]
    pad_h, pad_w = -(h + 2 * border) % multiple, -(w + 2 * border) % multiple
    if border or pad_h or pad_w:
        # Reflection needs more pixels than it mirrors; tiny inputs repeat their edge instead.
        mode = "reflect" if min(h, w) > border + max(pad_h, pad_w) else "replicate"
        x = F.pad(x, (border, border + pad_w, border, border + pad_h), mode=mode)
    return x, h, w
