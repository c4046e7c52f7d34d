"""Frame runners: the part of the engine that turns a BGR uint8 frame into a stylized one.

A runner takes a BGR uint8 HWC frame whose sides are multiples of 4 (the engine resizes first)
and returns the stylized BGR uint8 HWC frame of the same size. The returned array may be a view
of the runner's own buffer, valid until its next call: the engine makes the one owned copy.

- `OpenVinoRunner` (CPU default when `openvino` and `onnx` are installed): the generator, with the
  uint8 NHWC -> float NCHW conversion and the rounding back to uint8 inside the graph, is exported
  to ONNX once per style and compiled by OpenVINO once per frame shape. On the 2-core dev machine
  the lite generator takes 0.51-0.75x of PyTorch eager's fp32 time (fused norms, no layout round
  trips; ResNet-9, compute-bound, gains 0-15%), and its cost grows less with pixel count (1280x720
  vs 256x256 per pixel: 1.39x vs eager's 1.60x; both linear up to 640x360).
- `GuardAfterRunner` (bf16 on the CPU for a style with a colour guard, models/colour_guard.py): the
  generator without its guard in OpenVINO bf16, then the guard in PyTorch fp32 on the processing-
  size frame (about 1.3 ms at 341x256). In one bf16 graph the guard's per-frame 3x3 solve lost
  15-38 dB against fp32; split, Ukiyo-e stays at 50-53 dB and runs 1.7x faster than in fp32.
  `openvino_runner` picks between the two.
- `TorchRunner` (CUDA, half precision, or when OpenVINO is missing): uint8 upload, conversion on
  the device, channels_last; on CUDA pinned host buffers and one synchronisation per frame (the
  copy back); optional `torch.compile` (CUDA graphs via mode="reduce-overhead" on CUDA). It also
  offers the engine the full-frame device path (`full_frame`, `run_full_frame`; the steps are in
  models/device_path.py): the full-size frame goes up once, the final frame comes down once.
"""

from __future__ import annotations

import copy
import functools
import io
import threading
import warnings
from collections import OrderedDict
from typing import Protocol

import numpy as np
import torch
from torch import nn

from models import openvino_runtime
from models.colour_guard import guard_frame
from models.device_path import DeviceStabilizer, stylize_on_device
from models.lite_generator import fold_demodulation
from models.quantize import quantize_frame_model


class FrameRunner(Protocol):
    """BGR uint8 HWC (sides multiples of 4) -> stylized BGR uint8 HWC of the same size."""

    name: str

    def __call__(self, bgr: np.ndarray) -> np.ndarray: ...


class FrameModel(nn.Module):
    """A generator prepared for frames: takes BGR in [0, 255], returns BGR in [-1, 1].

    The BGR<->RGB swap and the [0,255]->[-1,1] scaling are folded into the first and last
    convolutions (exact, because the generators pad by reflection), so the frame path does
    no per-pixel channel shuffle or normalisation pass. Demodulated convolutions are folded to
    plain ones first (their filters are fixed from here on).
    """

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = fold_demodulation(generator)
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


def to_uint8(y: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> uint8 levels, rounded to nearest (floor(v * 127.5 + 128) = round(v * 127.5 + 127.5))."""
    return y.mul(127.5).add_(128.0).clamp_(0.0, 255.0).floor_().to(torch.uint8)


class _Uint8FrameModel(nn.Module):
    """The whole frame path as one graph: BGR uint8 NHWC in, BGR uint8 NHWC out (for export)."""

    def __init__(self, model: FrameModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BGR uint8 NHWC -> BGR float NCHW in [0, 255] (scaling folded into the first conv)
        y = self.model(x.permute(0, 3, 1, 2).float())
        return to_uint8(y).permute(0, 2, 3, 1)


def openvino_available() -> bool:
    try:
        import onnx  # noqa: F401  (torch's ONNX exporter needs it)

        openvino_runtime.load()
    except ImportError:
        return False
    return True


@functools.cache
def shared_core() -> object:
    """One OpenVINO Core for the whole process, never released.

    Its CPU plugin installs an alternate signal stack on the thread that first compiles; if the
    last Core went away the plugin library would be unloaded with that stack, and the next
    signal delivered to the thread (Ctrl-C) would crash the process with SIGSEGV.
    """
    ov = openvino_runtime.load()

    return ov.Core()


class OpenVinoRunner:
    """OpenVINO CPU inference of a generator; one compiled model per frame shape (a few kept)."""

    name = "OpenVINO"
    max_shapes = 4

    def __init__(self, generator: nn.Module, threads: int, bf16: bool = False, int8: bool = False) -> None:
        ov = openvino_runtime.load()

        self._core = shared_core()
        self.threads, self.version = threads, ov.__version__.split("-")[0]
        self._config = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": threads,
            # OpenVINO picks bf16 on CPUs that have it: keep fp32 unless asked (bf16: ~47 dB PSNR).
            "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32",
            # Pinning threads to cores measured slower on a shared machine and fights the app's
            # own capture/display threads.
            "ENABLE_CPU_PINNING": False,
        }
        self.precision = "int8" if int8 else "bf16" if bf16 else "fp32"
        frame_model = FrameModel(copy.deepcopy(generator).float().eval()).eval()
        if int8:  # convolutions in int8 between fake-quant pairs; the rest of the graph stays fp32
            frame_model = quantize_frame_model(frame_model)
        model = _Uint8FrameModel(frame_model).requires_grad_(False)
        example = torch.zeros(1, 64, 64, 3, dtype=torch.uint8)
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant-folding notes from the TorchScript exporter
            torch.onnx.export(
                model,
                (example,),
                buffer,
                dynamo=False,  # the TorchScript exporter: ~1 s here, vs ~10 s for ov.convert_model
                opset_version=17,
                input_names=["bgr"],
                output_names=["styled"],
                dynamic_axes={"bgr": {1: "height", 2: "width"}, "styled": {1: "height", 2: "width"}},
            )
        self._model = self._core.read_model(buffer.getvalue())
        self._requests: OrderedDict[tuple[int, int], object] = OrderedDict()
        self._lock = threading.Lock()

    def _request(self, h: int, w: int) -> object:
        request = self._requests.get((h, w))
        if request is None:
            model = self._model.clone()
            model.reshape({0: [1, h, w, 3]})  # static shapes compile to the fastest kernels
            request = self._core.compile_model(model, "CPU", self._config).create_infer_request()
            self._requests[(h, w)] = request
            if len(self._requests) > self.max_shapes:
                self._requests.popitem(last=False)
        else:
            self._requests.move_to_end((h, w))
        return request

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        with self._lock:  # an infer request serves one call at a time
            request = self._request(h, w)
            request.infer({0: np.ascontiguousarray(bgr)[None]}, share_inputs=True)
            return request.get_output_tensor(0).data[0]  # a view of OpenVINO's buffer


class GuardAfterRunner:
    """A guarded generator on OpenVINO bf16 with its colour guard taken out and run after it
    (`guard_frame`: NumPy and OpenCV in fp64/fp32, on the frame at the processing size): the
    guard fits the frame's block colours to the output's, which bf16 cannot do accurately; 1.5 ms
    at 512x384 here, where PyTorch's full-frame passes took 6.5 (a quarter of the twin's frame)."""

    name = "OpenVINO"

    def __init__(self, generator: nn.Module, threads: int, bf16: bool = True) -> None:
        body = copy.deepcopy(generator)
        self.guard, body.guard = body.guard, None
        self.body = OpenVinoRunner(body, threads, bf16=bf16)  # bf16=False: the same split in fp32, for tests
        self.threads, self.version, self.precision = self.body.threads, self.body.version, self.body.precision

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        # The guard is invariant to an affine change of the input's colours and equivariant to a
        # reordering of the channels, so the BGR uint8 frames are what it needs.
        return guard_frame(self.guard.block, bgr, self.body(bgr))


def openvino_runner(
    generator: nn.Module, threads: int, bf16: bool = False, int8: bool = False
) -> OpenVinoRunner | GuardAfterRunner:
    """The OpenVINO runner for `generator`: one graph, or in bf16 with a colour guard, the body in
    bf16 and the guard after it in fp32. In int8 the guard stays in the graph: only convolutions
    are quantized, so its solve runs in fp32 there."""
    if bf16 and not int8 and getattr(generator, "guard", None) is not None:
        return GuardAfterRunner(generator, threads)
    return OpenVinoRunner(generator, threads, bf16=bf16, int8=int8)


class TorchRunner:
    """PyTorch inference of a prepared `FrameModel` on any device and dtype."""

    name = "PyTorch"

    def __init__(self, model: FrameModel, device: torch.device, dtype: torch.dtype, compile: bool = False) -> None:
        self.device, self.dtype = device, dtype
        self.model = model
        self._forward = model
        if compile:
            mode = "reduce-overhead" if device.type == "cuda" else "default"  # CUDA graphs on CUDA
            self._forward = torch.compile(model, mode=mode, dynamic=False)
        self._pinned: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
        self._lock = threading.Lock()
        # The full-frame path's host buffers (pinned on CUDA), one size at a time, and a count of
        # every host<->device copy it makes (the tests check one of each per frame).
        self._staging: torch.Tensor | None = None
        self._download: torch.Tensor | None = None
        self.transfers = {"uploads": 0, "downloads": 0, "syncs": 0}
        # Whether the engine takes the full-frame device path with this runner
        # (models/device_path.py) or the host path (resize, __call__, detail on the host). On by
        # default on CUDA only: on the CPU the host path's OpenCV kernels are the faster ones, and
        # the CPU fallback keeps its behaviour; the tests turn it on to run the device path on CPU.
        self.full_frame = device.type == "cuda"

    @torch.inference_mode()
    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        with self._lock:
            if self.device.type == "cuda":
                return self._run_cuda(bgr)
            x = torch.from_numpy(np.ascontiguousarray(bgr))
            # BGR uint8 HWC -> BGR float NCHW (channels_last, so no copy) in [0, 255]
            x = x.permute(2, 0, 1).unsqueeze(0).to(self.dtype, memory_format=torch.channels_last)
            # NHWC view of a channels_last tensor needs no copy
            return to_uint8(self._forward(x)).permute(0, 2, 3, 1)[0].numpy()

    def _run_cuda(self, bgr: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        buffers = self._pinned.get((h, w))
        if buffers is None:
            pin = {"dtype": torch.uint8, "pin_memory": True}
            buffers = (torch.empty((h, w, 3), **pin), torch.empty((h, w, 3), **pin))
            self._pinned = {(h, w): buffers}  # one shape at a time: frees the old buffers
        upload, download = buffers
        upload.numpy()[...] = bgr  # the host copy into page-locked memory
        # uint8 upload (1/4 of the float bytes); conversion to float happens on the GPU
        x = upload.to(self.device, non_blocking=True).permute(2, 0, 1).unsqueeze(0)
        x = x.to(self.dtype, memory_format=torch.channels_last)
        y = to_uint8(self._forward(x)).permute(0, 2, 3, 1)[0]
        download.copy_(y, non_blocking=True)
        torch.cuda.current_stream(self.device).synchronize()  # the one host sync per frame
        return download.numpy()

    # -- the full-frame device path (models/device_path.py) -----------------------------------
    @torch.inference_mode()
    def run_full_frame(
        self,
        bgr: np.ndarray,
        shape: tuple[int, int],
        aux: np.ndarray | None,
        *,
        detail: float,
        strength: float,
        stabilizer: DeviceStabilizer | None,
        has_plan: bool,
        has_mask: bool,
    ) -> np.ndarray:
        """The whole frame on the device: one upload of the full-size BGR uint8 frame (with the
        small float32 `aux` side buffer in the same copy), resize, model, stabilizer, detail and
        strength on the device, one download of the final frame and one sync. Returns a new
        BGR uint8 array of `bgr`'s size."""
        with self._lock:
            frame, aux_t = self._upload(bgr, aux)
            out = stylize_on_device(
                self._forward,
                self.dtype,
                frame,
                shape,
                aux_t,
                detail=detail,
                strength=strength,
                stabilizer=stabilizer,
                has_plan=has_plan,
                has_mask=has_mask,
            )
            return self._fetch(out)

    def _upload(self, bgr: np.ndarray, aux: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One host-to-device copy of a staging buffer holding the frame's bytes and then, at a
        64-byte aligned offset, `aux`'s float32 bytes; returns device views of the two."""
        h, w = bgr.shape[:2]
        frame_bytes = h * w * 3
        offset = -(-frame_bytes // 64) * 64
        total = offset + (aux.nbytes if aux is not None else 0)
        if self._staging is None or self._staging.numel() != total:
            self._staging = torch.empty(total, dtype=torch.uint8, pin_memory=self.device.type == "cuda")
        host = self._staging.numpy()
        host[:frame_bytes].reshape(h, w, 3)[...] = bgr
        if aux is not None:
            host[offset:].view(np.float32).reshape(aux.shape)[...] = aux
        staged = self._staging.to(self.device, non_blocking=True)  # on the CPU: the buffer itself
        self.transfers["uploads"] += 1
        frame = staged[:frame_bytes].view(h, w, 3)
        aux_t = staged[offset:].view(torch.float32).view(aux.shape) if aux is not None else None
        return frame, aux_t

    def _fetch(self, out: torch.Tensor) -> np.ndarray:
        """The one device-to-host copy of the final frame (and on CUDA the one sync)."""
        self.transfers["downloads"] += 1
        if self.device.type != "cuda":
            return out.to("cpu").numpy().copy() if out.device.type != "cpu" else out.numpy()
        if self._download is None or self._download.shape != out.shape:
            self._download = torch.empty(out.shape, dtype=torch.uint8, pin_memory=True)
        self._download.copy_(out, non_blocking=True)
        torch.cuda.current_stream(self.device).synchronize()
        self.transfers["syncs"] += 1
        return self._download.numpy().copy()  # the caller keeps it; the pinned buffer is reused
