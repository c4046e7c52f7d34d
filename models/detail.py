"""Detail-keeping upscaling: the style's output at the processing size, brought to the output
size with the camera frame's edges.

The generator runs at the processing size (256-480 px short side); a plain linear resize of its
output to the camera's size is soft, and eyes and mouths become smudges. Guided-filter upsampling
(He & Sun, "Fast Guided Filter", 2015) fits, at the processing size, a local linear map from the
input frame's luma to the stylized frame, `styled ~ a * luma + b` over (2r+1)^2 windows, then
applies the upsampled `a` and `b` to the full-size frame's luma: the frame's edges come back at
full resolution, with the style's colours. With a window wide enough to hold a face, it also
brings back features the generator smoothed away, but then the painted strokes are gone too (a
colour filter over a photo). `detail` is the control between the two ends, per pixel:

    out = resize(styled) + detail * (guided - resize(styled))

0 is the plain resize (bit for bit: the engine takes its old path), 1 the guided output. Because
`detail` varies slowly (it is a number, or a feathered face mask), the blend is done before the
upsampling (the base at the processing size, the gain at the fit size), which leaves two
3-channel resizes and one multiply-add at the output size:

    out = resize(styled + detail * (b - styled)) + resize(detail * a) * luma_full

All arithmetic is float32 in [0, 1] on OpenCV's SIMD kernels; `detail_upscale_torch` is the same
on a torch device (the CUDA path), on the frame already uploaded.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

# Window radius at the processing size and the regulariser of the fit (on a 0-1 scale). Chosen
# by the sweep in docs/detail.md: a 256-px face spans ~40-70 px, so r = 8 holds its eyes and
# mouth together with the cheeks around them, and eps = 1e-3 (a grey-level std of 8) keeps flat,
# noisy walls from being fitted to sensor noise.
RADIUS = 8
EPS = 1e-3
SUBSAMPLE = 4
# The app's and `stylize`'s default Detail, and face-aware mode on: chosen by the sweep in
# docs/detail.md (python -m benchmarks.detail_sweep).
DEFAULT_DETAIL = 0.05
DEFAULT_FACES = True
# Faces get detail ** FACE_EXPONENT (more than the scene for any detail in (0, 1), the same at the
# ends, so Detail 0 stays the plain resize and 1 keeps every edge everywhere).
FACE_EXPONENT = 0.25
LUMA_BGR = (0.114, 0.587, 0.299)


def face_detail(detail: float) -> float:
    """The detail a face gets in face-aware mode when the scene gets `detail`."""
    return float(detail) ** FACE_EXPONENT


def luma(bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 -> luma float32 (H, W) in [0, 1]."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return gray.astype(np.float32) * np.float32(1.0 / 255.0)


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def _three(x: np.ndarray) -> np.ndarray:
    """(H, W) -> (H, W, 3): OpenCV's per-element kernels want matching channel counts (numpy's
    broadcasting over channels took 5-7x longer here)."""
    return cv2.merge([x, x, x])


def guided_coefficients(
    guide: np.ndarray, styled: np.ndarray, radius: int = RADIUS, eps: float = EPS, subsample: int = SUBSAMPLE
) -> tuple[np.ndarray, np.ndarray]:
    """The guided filter's smoothed (a, b), each (h/s, w/s, 3) float32 at the fit size (`subsample`
    times smaller than `styled`), with `styled ~ a * guide + b` locally; `guide` is luma (h, w) in
    [0, 1], `styled` BGR uint8.

    As in the Fast Guided Filter, the fit runs `subsample` times smaller with the radius scaled
    alike (a and b are smooth); the caller resizes them to where they are used."""
    h, w = guide.shape
    fit = (max(1, w // subsample), max(1, h // subsample))
    radius = max(1, round(radius / subsample))
    g = cv2.resize(guide, fit, interpolation=cv2.INTER_AREA)
    p = cv2.resize(styled, fit, interpolation=cv2.INTER_AREA).astype(np.float32) * np.float32(1.0 / 255.0)
    mean_i = _box(g, radius)
    mean_i3 = _three(mean_i)
    mean_p = _box(p, radius)
    cov = cv2.subtract(_box(cv2.multiply(p, _three(g)), radius), cv2.multiply(mean_i3, mean_p))
    var = cv2.subtract(_box(cv2.multiply(g, g), radius), cv2.multiply(mean_i, mean_i))
    a = cv2.divide(cov, _three(var + np.float32(eps)))
    b = cv2.subtract(mean_p, cv2.multiply(a, mean_i3))
    return _box(a, radius), _box(b, radius)


class Scratch:
    """Full-size working arrays kept from frame to frame. Allocating the four 640x480x3 float32
    temporaries afresh each frame (page faults on 15 MB) took half of the step's time here
    (24 ms against 14 ms per call on the loaded 2-core CPU). One per stream and thread."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        array = self._arrays.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = self._arrays[name] = np.empty(shape, dtype)
        return array


def detail_upscale(
    frame: np.ndarray,
    small_in: np.ndarray,
    styled: np.ndarray,
    detail: float | np.ndarray,
    radius: int = RADIUS,
    eps: float = EPS,
    scratch: Scratch | None = None,
) -> np.ndarray:
    """Upscale `styled` (the generator's BGR uint8 output for `small_in`, the frame resized to the
    processing size) to `frame`'s size, taking edges from `frame` by `detail` (a number in [0, 1],
    or an (h, w) float32 map at the processing size). Returns a new BGR uint8 array; `scratch`
    keeps the full-size working arrays for the next call."""
    h, w = frame.shape[:2]
    scratch = scratch or Scratch()
    a, b = guided_coefficients(luma(small_in), styled, radius, eps)
    fit = (a.shape[1], a.shape[0])
    b = cv2.resize(b, (styled.shape[1], styled.shape[0]), interpolation=cv2.INTER_LINEAR)
    p = styled.astype(np.float32) * np.float32(1.0 / 255.0)
    if np.isscalar(detail):
        base = cv2.addWeighted(b, 255.0 * float(detail), p, 255.0 * (1.0 - float(detail)), 0.0)
        gain = a * np.float32(detail)
    else:
        weight = np.asarray(detail, np.float32)
        base = cv2.add(p, cv2.multiply(cv2.subtract(b, p), _three(weight))) * np.float32(255.0)
        gain = cv2.multiply(a, _three(cv2.resize(weight, fit, interpolation=cv2.INTER_AREA)))
    # the output's 0-255 scale is folded into base and gain here, at the processing size, so the
    # full-size work is two resizes, a multiply by the uint8 luma and a saturating add; the gain
    # goes from the fit size to the output in one resize (it is the smoother of the two)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY, dst=scratch.get("gray", (h, w), np.uint8))
    gray3 = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR, dst=scratch.get("gray3", (h, w, 3), np.uint8))
    # in place, into two full-size float arrays rather than three: the step is bound by memory
    # traffic, and a third 3.7 MB array at 640x480 spills out of the cache (docs/performance.md)
    gain_up = cv2.resize(gain, (w, h), dst=scratch.get("gain", (h, w, 3), np.float32), interpolation=cv2.INTER_LINEAR)
    cv2.multiply(gain_up, gray3, dst=gain_up, dtype=cv2.CV_32F)
    base_up = cv2.resize(base, (w, h), dst=scratch.get("base", (h, w, 3), np.float32), interpolation=cv2.INTER_LINEAR)
    return cv2.add(gain_up, base_up, dtype=cv2.CV_8U)


# -- the same on a torch device (CUDA path) --------------------------------------------------
def _box_t(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over (2r+1)^2 windows of an NCHW tensor, reflect-padded like the OpenCV version."""
    k = 2 * radius + 1
    return F.avg_pool2d(F.pad(x, (radius,) * 4, mode="reflect"), k, stride=1)


def luma_t(bgr: torch.Tensor) -> torch.Tensor:
    """BGR NCHW in [0, 1] -> luma N1HW."""
    weights = torch.tensor(LUMA_BGR, dtype=bgr.dtype, device=bgr.device).view(1, 3, 1, 1)
    return (bgr * weights).sum(1, keepdim=True)


def detail_upscale_torch(
    frame: torch.Tensor,
    small_in: torch.Tensor,
    styled: torch.Tensor,
    detail: float | torch.Tensor,
    radius: int = RADIUS,
    eps: float = EPS,
    subsample: int = SUBSAMPLE,
) -> torch.Tensor:
    """`detail_upscale` on NCHW float tensors in [0, 1] (BGR): `frame` at the output size,
    `small_in` and `styled` at the processing size, `detail` a number or an N1HW map at the
    processing size. Returns NCHW in [0, 1] at the output size (not clamped)."""
    size = styled.shape[-2:]
    fit = (max(1, size[0] // subsample), max(1, size[1] // subsample))
    radius = max(1, round(radius / subsample))
    guide = F.interpolate(luma_t(small_in), size=fit, mode="area")
    p = F.interpolate(styled, size=fit, mode="area")
    mean_i, mean_p = _box_t(guide, radius), _box_t(p, radius)
    cov = _box_t(guide * p, radius) - mean_i * mean_p
    var = _box_t(guide * guide, radius) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    a, b = _box_t(a, radius), F.interpolate(_box_t(b, radius), size=size, mode="bilinear")
    base = styled + detail * (b - styled)
    fit_detail = F.interpolate(detail, size=fit, mode="area") if torch.is_tensor(detail) else detail
    out_size = frame.shape[-2:]
    gain = F.interpolate(a * fit_detail, size=out_size, mode="bilinear")
    return F.interpolate(base, size=out_size, mode="bilinear") + gain * luma_t(frame)
