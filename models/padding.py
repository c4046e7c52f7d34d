"""Shared helper: generators that downsample by 4 need inputs whose sides are multiples of 4."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int = 4) -> tuple[torch.Tensor, int, int]:
    """Reflect-pad the bottom/right of an NCHW tensor up to a multiple; returns (x, H, W) before."""
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h or pad_w:
        mode = "reflect" if min(h, w) > max(pad_h, pad_w) else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    return x, h, w
