"""The colour guard: takes out the colour patches a style paints that the photo does not explain.

A small CPU-trained generator paints some regions in colours unrelated to the scene: pink and
green patches over a grey stormy sky, a pink halo around a snowy peak (the Ukiyo-e style). Per
frame, the guard fits the best affine map from the input's block-mean colours to the output's
(blocks of `block` pixels, least squares in closed form), and removes from the output the part
of its block-mean *chroma* that the map does not predict, spread back over the block's pixels by
bilinear upsampling. What stays: the style's palette (the map may recolour everything, and swap
hues, as the prints do), all brushwork finer than a block, and all of the output's lightness.
`train.evaluate` reports the same block fit's residual as *colour blotch*.

It has no parameters, so it is switched on per style through its architecture
(`GeneratorConfig.colour_guard`, the block size in pixels at the generator's input) and can be
tried on any trained style without retraining (`python -m train.evaluate --colour-guard 8`).
Everything here is plain tensor arithmetic (a 3x3 solve by cofactors, not `torch.linalg`), so a
guarded generator exports to ONNX/OpenVINO and runs in fp16 on CUDA (the fit itself in fp32).
It is invariant to an affine change of the input's colours and equivariant to a reordering of
the channels, which is what lets the engine fold BGR input in [0, 255] into the first
convolution (models/backends.py) without telling the guard.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.errors import StyleCamError

RIDGE = 1e-3  # of the input's mean block-colour variance: keeps the solve sane on flat frames


def _cross(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    u0, u1, u2 = u.unbind(-1)
    v0, v1, v2 = v.unbind(-1)
    return torch.stack([u1 * v2 - u2 * v1, u2 * v0 - u0 * v2, u0 * v1 - u1 * v0], -1)


def solve_3x3(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a^-1 @ b for a batch of invertible 3x3 matrices `a` (N, 3, 3) and `b` (N, 3, K)."""
    r0, r1, r2 = a.unbind(1)
    c0, c1, c2 = _cross(r1, r2), _cross(r2, r0), _cross(r0, r1)
    det = (r0 * c0).sum(-1)
    inverse = torch.stack([c0, c1, c2], -1) / det[:, None, None]
    return inverse @ b


def block_fit_residual(x: torch.Tensor, y: torch.Tensor, block: int) -> torch.Tensor:
    """Block means of `y` minus their best affine prediction from `x`'s block means (N, 3, h, w)."""
    xb = F.avg_pool2d(x.float(), block, ceil_mode=True)
    yb = F.avg_pool2d(y.float(), block, ceil_mode=True)
    xf, yf = xb.flatten(2), yb.flatten(2)  # (N, 3, M)
    xc = xf - xf.mean(-1, keepdim=True)
    yc = yf - yf.mean(-1, keepdim=True)
    count = xf.shape[-1]
    cov_xx = xc @ xc.transpose(1, 2) / count
    cov_xy = xc @ yc.transpose(1, 2) / count
    scale = (cov_xx[:, 0, 0] + cov_xx[:, 1, 1] + cov_xx[:, 2, 2]) / 3 + 1e-12
    eye = torch.eye(3, dtype=cov_xx.dtype, device=cov_xx.device)
    weights = solve_3x3(cov_xx + RIDGE * scale[:, None, None] * eye, cov_xy)  # (N, 3 in, 3 out)
    residual = yc - weights.transpose(1, 2) @ xc
    return residual.view_as(yb)


class ColourGuard(nn.Module):
    """output <- output - (unexplained block chroma, upsampled); see the module docstring."""

    def __init__(self, block: int) -> None:
        super().__init__()
        if block < 2:
            raise StyleCamError(f"colour guard block {block} must be 0 (off) or at least 2 pixels")
        self.block = block

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        residual = block_fit_residual(x, y, self.block)
        chroma = residual - residual.mean(1, keepdim=True)  # the grey axis (1,1,1) is lightness
        up = F.interpolate(chroma, scale_factor=float(self.block), mode="bilinear", align_corners=False)
        return (y - up[..., : y.shape[-2], : y.shape[-1]].to(y.dtype)).clamp(-1.0, 1.0)

    def extra_repr(self) -> str:
        return f"block={self.block}"


def guard_frame(block: int, frame: np.ndarray, styled: np.ndarray) -> np.ndarray:
    """`ColourGuard(block)` on uint8 frames (the input `frame` and the generator's `styled`, same
    size, channels in the same order), in NumPy and OpenCV: what the engine runs after a bf16
    body (models/backends.py), the same picture within one level, at about a quarter of the
    time PyTorch takes for its full-frame passes on a 2-core CPU."""
    h, w = frame.shape[:2]
    rows = np.minimum(np.arange(0, -(-h // block) + 1) * block, h)
    cols = np.minimum(np.arange(0, -(-w // block) + 1) * block, w)
    counts = (np.diff(rows)[:, None] * np.diff(cols)[None, :])[..., None]

    def block_means(image: np.ndarray) -> np.ndarray:  # avg_pool2d with ceil_mode: partial edge blocks
        s = cv2.integral(image)[rows][:, cols].astype(np.float64)
        return (s[1:, 1:] - s[:-1, 1:] - s[1:, :-1] + s[:-1, :-1]) / counts

    xb = block_means(frame)
    yb = (block_means(styled) - 127.5) / 127.5
    xc = xb.reshape(-1, 3) - xb.reshape(-1, 3).mean(0)
    yc = yb.reshape(-1, 3) - yb.reshape(-1, 3).mean(0)
    cov_xx, cov_xy = xc.T @ xc / len(xc), xc.T @ yc / len(xc)
    ridge = RIDGE * (np.trace(cov_xx) / 3 + 1e-12)
    residual = yc - xc @ np.linalg.solve(cov_xx + ridge * np.eye(3), cov_xy)
    chroma = (residual - residual.mean(1, keepdims=True)).reshape(yb.shape).astype(np.float32)
    # half-pixel centres and edge clamping, as F.interpolate(scale_factor=block, align_corners=False)
    up = cv2.resize(chroma, (chroma.shape[1] * block, chroma.shape[0] * block), interpolation=cv2.INTER_LINEAR)
    out = cv2.scaleAdd(up[:h, :w], -127.5, styled.astype(np.float32))
    np.clip(out + 0.5, 0.0, 255.0, out=out)  # to_uint8's rounding: floor(v * 127.5 + 128)
    return out.astype(np.uint8)


def set_colour_guard(generator: nn.Module, block: int) -> nn.Module:
    """Switch a built generator's guard on at `block` pixels (0 = off), in place; returns it."""
    if not hasattr(generator, "guard"):
        raise ValueError(f"{type(generator).__name__} has no colour guard slot")
    generator.guard = ColourGuard(block) if block else None
    return generator
