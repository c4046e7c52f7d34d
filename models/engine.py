"""The inference engine: BGR uint8 frame of any size in, stylized BGR uint8 frame out.

One engine is shared by the GUI's inference worker, the `stylize` command and the benchmarks.
It owns the device choice (CUDA fp16 + channels_last + cudnn benchmark, else CPU fp32), the
frame <-> tensor conversion (uint8 is uploaded, conversion happens on the device), and the
thread-safe style switch: `process` snapshots the active model once per frame, so no frame is
ever computed with two styles, and `set_style` swaps only after the new model is warmed up.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from models.frames import as_bgr, processing_shape, resize
from models.inference_norm import use_inference_norms


def pick_device(requested: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without a GPU is a clear error."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        from models.errors import StyleCamError

        raise StyleCamError("device 'cuda' was requested but no CUDA GPU is available; use --device cpu or auto")
    return torch.device(requested)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA fp16 ({torch.cuda.get_device_name(device)})"
    return f"CPU fp32 ({torch.get_num_threads()} threads)"


class FrameModel(nn.Module):
    """A generator prepared for frames: takes BGR in [0, 255], returns BGR in [-1, 1].

    The BGR<->RGB swap and the [0,255]->[-1,1] scaling are folded into the first and last
    convolutions (exact, because the generators pad by reflection), so the frame path does
    no per-pixel channel shuffle or normalisation pass.
    """

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator
        convs = [m for m in generator.modules() if isinstance(m, nn.Conv2d)]
        first, last = convs[0], convs[-1]
        if first.in_channels != 3 or last.out_channels != 3:
            raise ValueError("generator must start and end with 3-channel convolutions")
        with torch.no_grad():
            w = first.weight.flip(1)  # RGB input channels -> BGR
            bias = first.bias if first.bias is not None else torch.zeros(first.out_channels)
            first.bias = nn.Parameter(bias - w.sum(dim=(1, 2, 3)))  # x/127.5 - 1: the "- 1" part
            first.weight.copy_(w / 127.5)
            last.weight.copy_(last.weight.flip(0))  # RGB output -> BGR
            if last.bias is not None:
                last.bias.copy_(last.bias.flip(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator(x)


@dataclass
class _Active:
    model: FrameModel | None
    name: str


class InferenceEngine:
    """Stylizes frames with the current style; safe to call from one worker thread while
    another thread switches styles or changes size/strength."""

    def __init__(self, device: str = "auto", size: int | None = 256, strength: float = 1.0) -> None:
        self.device = pick_device(device)
        self.half = self.device.type == "cuda"
        self.dtype = torch.float16 if self.half else torch.float32
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self._lock = threading.Lock()
        self._active = _Active(None, "")
        self._size = size
        self._strength = float(strength)
        self.last_inference_ms = 0.0

    # -- settings -------------------------------------------------------------------------
    @property
    def size(self) -> int | None:
        return self._size

    @size.setter
    def size(self, value: int | None) -> None:
        self._size = int(value) if value else None

    @property
    def strength(self) -> float:
        return self._strength

    @strength.setter
    def strength(self, value: float) -> None:
        self._strength = min(1.0, max(0.0, float(value)))

    @property
    def style_name(self) -> str:
        return self._active.name

    def describe(self) -> str:
        return describe_device(self.device)

    # -- styles ---------------------------------------------------------------------------
    def prepare(self, generator: nn.Module) -> FrameModel:
        """Move a CPU generator to the engine's device and precision, ready for frames."""
        model = FrameModel(use_inference_norms(copy.deepcopy(generator))).eval().requires_grad_(False)
        return model.to(self.device, self.dtype, memory_format=torch.channels_last)

    def set_style(self, generator: nn.Module, name: str = "", warmup_shape: tuple[int, int] | None = None) -> None:
        """Prepare and warm up `generator`, then make it the active style atomically."""
        model = self.prepare(generator)
        self._warm_up(model, warmup_shape or processing_shape(360, 640, self._size))
        with self._lock:
            self._active = _Active(model, name)

    def _warm_up(self, model: FrameModel, shape: tuple[int, int]) -> None:
        frame = np.zeros((*shape, 3), np.uint8)
        for _ in range(2):
            self._run(model, frame)

    # -- frames ---------------------------------------------------------------------------
    @torch.inference_mode()
    def _run(self, model: FrameModel, small_bgr: np.ndarray) -> np.ndarray:
        # BGR uint8 HWC (host) -> BGR float NCHW channels_last in [0, 255] on the device
        x = torch.from_numpy(small_bgr).to(self.device, non_blocking=True)
        x = x.permute(2, 0, 1).unsqueeze(0).to(self.dtype, memory_format=torch.channels_last)
        y = model(x)
        # [-1, 1] -> uint8 with rounding; NHWC view of a channels_last tensor needs no copy
        y = y.mul(127.5).add_(128.0).clamp_(0.0, 255.0).to(torch.uint8)
        return y.permute(0, 2, 3, 1)[0].contiguous().cpu().numpy()

    def process(self, frame: np.ndarray) -> np.ndarray:
        """Stylize one frame; returns a BGR uint8 frame of the input's height and width."""
        bgr = as_bgr(frame)
        active, size, strength = self._active, self._size, self._strength
        if active.model is None:
            return bgr.copy()
        h, w = bgr.shape[:2]
        ph, pw = processing_shape(h, w, size)
        start = time.perf_counter()
        styled = resize(self._run(active.model, resize(bgr, ph, pw)), h, w)
        self.last_inference_ms = (time.perf_counter() - start) * 1000.0
        if strength < 1.0:
            styled = cv2.addWeighted(styled, strength, bgr, 1.0 - strength, 0.0)
        return styled
