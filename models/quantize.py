"""INT8 inference on the CPU: a generator rewritten with quantize/dequantize pairs around its
convolutions, for OpenVINO to run on its int8 kernels (`--precision int8`).

Static post-training quantization, no training and no data files:
- Weights: per output channel, symmetric int8. The rounding sits in the graph (fake-quant), not
  in the stored weights: OpenVINO only picks its int8 convolutions for a Dequantize feeding the
  weights (pre-rounded float weights ran at 1.02x).
- Activations: per tensor, the full range (min to max) of each convolution's input over the
  calibration frames; unsigned 0..255 where the input is never negative (after a ReLU), else
  symmetric int8. Clipping the rare peaks costs more than the coarser levels: the 99.99th
  percentile gave 2.5-4 dB less on webcam frames, the 99.9th 5 dB less (these generators carry
  information in a few large activations).
- Left in float: the first convolution (it sees the raw frame, whose levels already are uint8 and
  whose error would reach every later layer) and the depthwise ones (6% of the time; OpenVINO's
  int8 depthwise kernels gained nothing measurable).

Calibration runs once per style, when its runner is built, in PyTorch fp32 on three
`calibration_frame`s: fixed synthetic scenes made here (gradients, edges and texture at several
scales, skin and foliage tones), so a style's int8 graph does not depend on what the camera showed
first and no data file ships. Measured on the shipped styles (docs/performance.md) it keeps
41.5-46.0 dB PSNR against fp32 on real webcam frames.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.inference_norm import use_inference_norms

CALIBRATION_SEEDS = (0, 1, 2)  # three synthetic scenes: 0.5-1.5 dB over one, for 3x of a 0.1 s pass
CALIBRATION_SHAPE = (256, 344)  # the Auto size's usual processing size on a 4:3 camera


class QuantConv2d(nn.Module):
    """A convolution whose input and weights go through int8 fake-quant (exported to ONNX as
    QuantizeLinear/DequantizeLinear pairs). Reflect padding is applied before the input's
    quantization so the pair sits right in front of the convolution, where OpenVINO fuses it."""

    def __init__(self, conv: nn.Conv2d, low: float, high: float) -> None:
        super().__init__()
        self.stride, self.dilation, self.groups = conv.stride, conv.dilation, conv.groups
        self.padding_mode, self.padding = conv.padding_mode, conv.padding
        self.weight = nn.Parameter(conv.weight.detach().clone(), requires_grad=False)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone(), requires_grad=False)
        self.unsigned = low >= 0.0
        if self.unsigned:
            self.scale, self.qmin, self.qmax = max(high, 1e-8) / 255.0, 0, 255
        else:
            self.scale, self.qmin, self.qmax = max(abs(low), abs(high), 1e-8) / 127.0, -128, 127
        scale = self.weight.abs().amax(dim=(1, 2, 3)).clamp_min(1e-12) / 127.0
        self.register_buffer("weight_scale", scale.float())
        self.register_buffer("weight_zero", torch.zeros_like(scale, dtype=torch.int32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padding = self.padding
        if self.padding_mode != "zeros":
            ph, pw = self.padding
            x = F.pad(x, (pw, pw, ph, ph), mode=self.padding_mode)
            padding = (0, 0)
        x = torch.fake_quantize_per_tensor_affine(x, self.scale, 0, self.qmin, self.qmax)
        w = torch.fake_quantize_per_channel_affine(self.weight, self.weight_scale, self.weight_zero, 0, -128, 127)
        return F.conv2d(x, w, self.bias, self.stride, padding, self.dilation, self.groups)


def calibration_frame(shape: tuple[int, int] = CALIBRATION_SHAPE, seed: int = 0) -> np.ndarray:
    """A deterministic BGR uint8 scene for calibration: a lit background gradient, blobs in skin,
    foliage, sky and fabric tones, hard edges, and noise texture at several scales."""
    h, w = shape
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frame = np.empty((h, w, 3), np.float32)
    for c, (a, b) in enumerate(((40, 200), (60, 190), (90, 220))):  # a warm-to-cool backdrop
        frame[..., c] = a + (b - a) * (0.6 * yy / h + 0.4 * xx / w)
    skin, foliage, sky, fabric = [(95, 125, 190), (70, 105, 160)], [(40, 120, 60)], [(180, 130, 70)], [(50, 50, 140)]
    tones = skin + foliage + sky + fabric + [(30, 30, 30), (235, 235, 240)]  # BGR, and near-black / near-white
    for i in range(24):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(0.04, 0.25) * h, rng.uniform(0.04, 0.25) * w
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        mask = np.clip(1.5 - inside, 0.0, 1.0) if i % 2 else (inside < 1.0).astype(np.float32)  # soft and hard
        frame += mask[..., None] * (np.asarray(tones[i % len(tones)], np.float32) - frame)
    for cell in (2, 8, 32):  # texture: fine grain, mid-scale mottling, coarse shading
        noise = rng.normal(0.0, 1.0, (h // cell + 2, w // cell + 2)).astype(np.float32)
        noise = np.kron(noise, np.ones((cell, cell), np.float32))[:h, :w]
        frame += (12.0 if cell == 2 else 18.0) * noise[..., None]
    return np.clip(frame, 0, 255).astype(np.uint8)


@torch.no_grad()
def conv_input_ranges(model: nn.Module, frames: list[np.ndarray]) -> dict[str, tuple[float, float]]:
    """Each Conv2d's input range in `model` (a FrameModel: BGR float NCHW in [0, 255]) over
    `frames`: (low, high), the widest over the frames."""
    ranges: dict[str, tuple[float, float]] = {}

    def record(name: str):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            x = inputs[0].detach()
            low, high = float(x.amin()), float(x.amax())
            old_low, old_high = ranges.get(name, (low, high))
            ranges[name] = (min(low, old_low), max(high, old_high))

        return hook

    model = use_inference_norms(copy.deepcopy(model))  # the same function, 2-3x faster in PyTorch
    handles = [m.register_forward_pre_hook(record(n)) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    try:
        for frame in frames:
            model(torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float())
    finally:
        for handle in handles:
            handle.remove()
    return ranges


def quantizable(conv: nn.Conv2d) -> bool:
    """Whether `conv` is worth int8: any but the 3-channel first one and depthwise ones."""
    depthwise = conv.groups > 1 and conv.groups == conv.in_channels
    return conv.in_channels > 3 and not depthwise


def quantize_frame_model(model: nn.Module, frames: list[np.ndarray] | None = None) -> nn.Module:
    """A copy of `model` (a FrameModel) with its quantizable convolutions replaced by
    `QuantConv2d`, calibrated on `frames` (default: `calibration_frame()`)."""
    model = copy.deepcopy(model).float().eval()
    if frames is None:
        frames = [calibration_frame(seed=seed) for seed in CALIBRATION_SEEDS]
    ranges = conv_input_ranges(model, frames)
    for parent_name, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            name = f"{parent_name}.{child_name}" if parent_name else child_name
            if isinstance(child, nn.Conv2d) and quantizable(child) and name in ranges:
                setattr(parent, child_name, QuantConv2d(child, *ranges[name]))
    return model.requires_grad_(False)


def quantized_conv_count(model: nn.Module) -> int:
    return sum(isinstance(m, QuantConv2d) for m in model.modules())
