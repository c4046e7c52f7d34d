"""The inference engine: BGR uint8 frame of any size in, stylized BGR uint8 frame out.

One engine is shared by the GUI's inference worker, the `stylize` command and the benchmarks.
It owns the device choice (CUDA fp16 + channels_last + cudnn benchmark, else the CPU in bf16
where the CPU has it and fp32 elsewhere, see `models.precision`), the
backend (OpenVINO on CPU when installed, else PyTorch; see `models.backends`), the host-side
resizes (on uint8, before upload and after download), and the thread-safe style switch:
`process` snapshots the active runner once per frame, so no frame is ever computed with two
styles, and `set_style` swaps only after the new runner is warmed up. With `stabilize` on, each
output passes the temporal stabilizer at the processing size (models/temporal.py), so the engine
is then stateful per stream: `reset_stream()` when the source changes.

`detail` (0..1) is how much of the camera frame's edges the step up from the processing size to
the output size keeps (models/detail.py; 0 is a plain linear resize). With `faces` on, detected
faces get more of it than the scene (`face_detail`), through a feathered mask that follows them
from frame to frame (models/faces.py), another per-stream state; `live` (the app) runs the face
detection beside the frames instead of inside them.
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

from models.backends import (
    FrameModel,
    FrameRunner,
    GuardAfterRunner,
    OpenVinoRunner,
    TorchRunner,
    openvino_available,
    openvino_runner,
)
from models.detail import Scratch, detail_upscale, face_detail
from models.device_path import process_full_frame
from models.errors import StyleCamError
from models.faces import FaceTracker
from models.frames import as_bgr, processing_shape, resize
from models.inference_norm import use_inference_norms
from models.precision import resolve_precision
from models.temporal import TemporalStabilizer

__all__ = ["FrameModel", "InferenceEngine", "describe_device", "pick_device"]


def pick_device(requested: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without a GPU is a clear error."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise StyleCamError("device 'cuda' was requested but no CUDA GPU is available; use --device cpu or auto")
    return torch.device(requested)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA fp16 ({torch.cuda.get_device_name(device)})"
    return f"CPU fp32 ({torch.get_num_threads()} threads)"


BACKENDS = ("auto", "openvino", "torch")


@dataclass
class _Active:
    runner: FrameRunner | None
    name: str


class InferenceEngine:
    """Stylizes frames with the current style; safe to call from one worker thread while
    another thread switches styles or changes size/strength.

    `backend`: "auto" (OpenVINO for CPU fp32 when installed, else PyTorch), "openvino" or "torch".
    `precision`: the CPU's, "auto" (bf16 where the CPU has AVX512-BF16 or AMX and OpenVINO runs,
    else fp32), "fp32", "bf16" (fp32 with `precision_notice` set where bf16 cannot run; on
    OpenVINO bf16 is 1.9x faster at 45-50 dB PSNR against fp32) or "int8" (OpenVINO only,
    models/quantize.py: 40-46 dB). CUDA always runs fp16.
    `cpu_bf16`: the older spelling; True means precision="bf16", False "fp32".
    `compile`: wrap the PyTorch model in `torch.compile` (CUDA graphs on CUDA; measured slower
    than eager on the 2-core CPU, so off by default).
    `stabilize`: blend each output with the motion-compensated previous one where the scene is
    still (models/temporal.py); for video streams, not for unrelated images.
    """

    def __init__(
        self,
        device: str = "auto",
        size: int | None = 256,
        strength: float = 1.0,
        *,
        backend: str = "auto",
        precision: str = "auto",
        cpu_bf16: bool | None = None,
        compile: bool = False,
        stabilize: bool = False,
        detail: float = 0.0,
        faces: bool = False,
        live: bool = False,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
        self.device = pick_device(device)
        self.half = self.device.type == "cuda"
        self.dtype = torch.float16 if self.half else torch.float32
        self.backend = backend
        if cpu_bf16 is not None:
            precision = "bf16" if cpu_bf16 else "fp32"
        self.precision_requested = precision
        self.precision_notice: str | None = None  # one line when the precision run is not the one asked for
        if self.half:
            resolve_precision(precision, has_bf16=False)  # still rejects a misspelt precision
            self.precision = "fp16"
            if precision in ("bf16", "int8"):
                self.precision_notice = f"{precision} applies to the CPU; CUDA runs fp16"
        else:
            openvino = backend != "torch" and openvino_available()
            resolved = resolve_precision(precision, bf16_backend=openvino)
            self.precision, self.precision_notice = resolved.name, resolved.notice
        self.compile = compile
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self._lock = threading.Lock()
        self._active = _Active(None, "")
        self.fast_twin = False  # the style runs its fast twin (set by whoever builds it: the app's loader)
        self._size = size
        self._strength = float(strength)
        self._stabilizer = TemporalStabilizer() if stabilize else None
        self._detail = min(1.0, max(0.0, float(detail)))
        self.live = live  # a live stream (the app): face detection runs beside the frames, not in them
        self._faces: FaceTracker | None = self._face_tracker() if faces else None
        self.last_inference_ms = 0.0
        self.last_detail_ms = 0.0  # the detail step's share of last_inference_ms
        self._scratch = Scratch()  # the detail step's full-size arrays (process runs on one thread)

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
    def stabilize(self) -> bool:
        return self._stabilizer is not None

    @stabilize.setter
    def stabilize(self, value: bool) -> None:
        if bool(value) != self.stabilize:
            self._stabilizer = TemporalStabilizer() if value else None

    @property
    def detail(self) -> float:
        """How much of the frame's edges the upscaling keeps: 0 plain resize .. 1 every edge."""
        return self._detail

    @detail.setter
    def detail(self, value: float) -> None:
        self._detail = min(1.0, max(0.0, float(value)))

    @property
    def faces(self) -> bool:
        """Face-aware detail: faces found in the frame get `face_detail(detail)`."""
        return self._faces is not None

    @faces.setter
    def faces(self, value: bool) -> None:
        if bool(value) != self.faces:
            old, self._faces = self._faces, (self._face_tracker() if value else None)
            if old is not None:
                old.close()

    def _face_tracker(self) -> FaceTracker:
        return FaceTracker(background=self.live)

    def reset_stream(self) -> None:
        """Forget the previous frame (a new source starts): the next output is not blended, and
        no face of the old source lingers in the mask."""
        if self._stabilizer is not None:
            self._stabilizer = TemporalStabilizer()  # a new object: the worker may be mid-frame
        if self._faces is not None:
            old, self._faces = self._faces, self._face_tracker()
            old.close()

    @property
    def style_name(self) -> str:
        return self._active.name

    def describe(self) -> str:
        runner = self._active.runner
        if isinstance(runner, (OpenVinoRunner, GuardAfterRunner)):
            return f"CPU {runner.precision} OpenVINO {runner.version} ({runner.threads} threads)"
        if runner is None and self.device.type == "cpu" and self.backend != "torch" and openvino_available():
            return f"CPU {self.precision} OpenVINO ({torch.get_num_threads()} threads)"
        return describe_device(self.device) + (" PyTorch compiled" if self.compile else " PyTorch")

    @property
    def running_precision(self) -> str:
        """What the current style's runner computes in: `precision`, but fp32 for a runner
        without bf16 (PyTorch on the CPU)."""
        return getattr(self._active.runner, "precision", self.precision)

    @property
    def cpu_bf16(self) -> bool:
        """Whether the CPU computes in bf16 (the precision in use)."""
        return self.precision == "bf16"

    def uses_openvino(self) -> bool:
        """Whether styles set from now on run on OpenVINO (CPU fp32 and `backend` allows it)."""
        if self.device.type != "cpu" or self.dtype != torch.float32 or self.backend == "torch":
            return False
        if self.backend == "openvino" and not openvino_available():
            raise StyleCamError("backend 'openvino' was requested but openvino/onnx are not installed")
        return openvino_available()

    # -- styles ---------------------------------------------------------------------------
    def prepare(self, generator: nn.Module) -> FrameModel:
        """Move a CPU generator to the engine's device and precision, ready for frames."""
        model = FrameModel(use_inference_norms(copy.deepcopy(generator))).eval().requires_grad_(False)
        return model.to(self.device, self.dtype, memory_format=torch.channels_last)

    def runner(self, generator: nn.Module) -> FrameRunner:
        """Build the frame runner for `generator` on this engine's device, dtype and backend."""
        if self.uses_openvino():
            threads = torch.get_num_threads()
            return openvino_runner(generator, threads, bf16=self.precision == "bf16", int8=self.precision == "int8")
        return TorchRunner(self.prepare(generator), self.device, self.dtype, compile=self.compile)

    def set_style(self, generator: nn.Module, name: str = "", warmup_shape: tuple[int, int] | None = None) -> None:
        """Prepare and warm up `generator`, then make it the active style atomically."""
        runner = self.runner(generator)
        self._warm_up(runner, warmup_shape or processing_shape(360, 640, self._size))
        with self._lock:
            self._active = _Active(runner, name)
        self.reset_stream()  # the previous style's strokes must not linger

    @staticmethod
    def _warm_up(runner: FrameRunner, shape: tuple[int, int]) -> None:
        frame = np.zeros((*shape, 3), np.uint8)
        for _ in range(2):
            runner(frame)

    # -- frames ---------------------------------------------------------------------------
    def process(self, frame: np.ndarray) -> np.ndarray:
        """Stylize one frame; returns a BGR uint8 frame of the input's height and width.

        With a runner that offers it (`full_frame`: `TorchRunner` on CUDA), the whole frame's
        work runs on the device, one upload and one download (models/device_path.py); else on
        the host: resize, runner, stabilizer, detail and strength with OpenCV."""
        bgr = as_bgr(frame)
        active, size, strength, stabilizer = self._active, self._size, self._strength, self._stabilizer
        detail, faces = self._detail, self._faces
        if active.runner is None:
            return bgr.copy()
        h, w = bgr.shape[:2]
        ph, pw = processing_shape(h, w, size)
        start = time.perf_counter()
        if getattr(active.runner, "full_frame", False):
            # the device path (models/device_path.py): one upload, everything on the device, one
            # download; the detail step is not timed apart there (that would take a second sync)
            styled = process_full_frame(
                active.runner, bgr, (ph, pw), detail=detail, strength=strength, faces=faces, stabilizer=stabilizer
            )
            self.last_detail_ms = 0.0
            self.last_inference_ms = (time.perf_counter() - start) * 1000.0
            return styled
        small_in = resize(bgr, ph, pw)
        small = active.runner(small_in)  # may be the runner's buffer: not ours to keep
        if stabilizer is not None:
            small = stabilizer(small_in, small)
        detail_start = time.perf_counter()
        if detail > 0.0:
            styled = detail_upscale(
                bgr, small_in, small, self._detail_map(small_in, detail, faces), scratch=self._scratch
            )
        elif (ph, pw) != (h, w):
            styled = resize(small, h, w)  # the one owned copy
        else:
            styled = small.copy()
        if strength < 1.0:
            styled = cv2.addWeighted(styled, strength, bgr, 1.0 - strength, 0.0)
        end = time.perf_counter()
        self.last_detail_ms = (end - detail_start) * 1000.0 if detail > 0.0 else 0.0
        self.last_inference_ms = (end - start) * 1000.0
        return styled

    @staticmethod
    def _detail_map(small_in: np.ndarray, detail: float, faces: FaceTracker | None) -> float | np.ndarray:
        """`detail` for the scene, raised towards `face_detail(detail)` inside the face mask."""
        if faces is None:
            return detail
        faces.update(small_in)
        mask = faces.mask(small_in.shape[:2])
        if mask is None:
            return detail
        return detail + (face_detail(detail) - detail) * mask
