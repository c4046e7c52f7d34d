"""The full-frame device path: the whole frame's work on the runner's torch device (CUDA).

The host path (models/engine.py) resizes on the host, runs the model, brings its output back and
then stabilizes, upscales with detail and blends on the host. Where the runner offers it
(`TorchRunner.full_frame`), this module owns the same steps on the device instead:

- the full-size uint8 frame goes up once (a pinned buffer on CUDA), together with a small float
  side buffer in the same copy (see below);
- `device_resize` brings it to the processing size on the device, as `models.frames.resize` does
  on the host (exact 2x area halvings, then a linear step, rounded to grey levels after each);
- the model runs; its output stays on the device as grey levels (the host runner's rounding);
- `DeviceStabilizer` does the temporal stabilizer's warp (grid_sample) and blend on the device;
- the detail step is `models.detail.detail_upscale_torch`, guided by the uploaded full-size
  frame, in float32 (the guided filter's variance does not survive fp16); Detail 0 is a bilinear
  upscale on the device (`device_resize`, which also shrinks as the host does where the
  processing size is larger than the frame);
- the strength blend, the rounding to uint8, and one download of the final frame, one sync.

What stays on the host is what only needs the small *input* frame, never the stylized one: a
host resize of the frame to the processing size (to half of it above `AUX_FULL_MAX_SHORT`), from
which the DIS optical flow and the stabilizer's keep-map (`DeviceStabilizer.plan`) and the face
tracker's mask are computed. They travel as one small float32 (h, w, 4) array [dx, dy, keep, face
mask] appended to the frame's upload, and are brought to the processing size on the device
(`upsample_aux`). So the stylized picture never reaches the host before the final download.

The stabilizer's device state (the previous output) hangs off the engine's per-stream
`TemporalStabilizer` object (`device_stabilizer`), so `reset_stream()`, which makes a new one,
forgets it too.
"""

from __future__ import annotations

import weakref
from typing import Protocol

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from models.detail import detail_upscale_torch, face_detail
from models.faces import FaceTracker
from models.frames import resize
from models.temporal import TemporalStabilizer

AUX_CHANNELS = 4  # dx, dy (where each pixel was in the previous frame), keep, face mask
# Above this processing short side the side buffer (flow, keep-map, face mask) is made at half the
# processing size and brought up on the device: on a lent H200's host the stabilizer's host work
# at 720 px took 35 ms a frame (DIS flow, remap, blur, and a 15 MB buffer to fill and upload),
# the GPU's whole share 10 ms. The flow and the blurred keep-map are smooth, so half of them loses
# little (tests/models/test_device_path.py holds the picture to the full-size plan's).
AUX_FULL_MAX_SHORT = 360


class FullFrameRunner(Protocol):
    """A runner that takes the whole frame's work on its device (`TorchRunner`)."""

    full_frame: bool

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
    ) -> np.ndarray: ...


def device_resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """`models.frames.resize` on a float NCHW tensor of grey levels (0-255): exact 2x area
    halvings while shrinking by 2x or more, then bilinear (half-pixel centres, as OpenCV's
    INTER_LINEAR), each step rounded to levels as OpenCV's uint8 resizes are."""
    h, w = x.shape[-2:]
    if (h, w) == (height, width):
        return x
    while h >= 2 * height and w >= 2 * width and h % 2 == 0 and w % 2 == 0:
        h, w = h // 2, w // 2
        x = F.avg_pool2d(x, 2).add_(0.5).floor_()  # OpenCV rounds halves up
    if (h, w) == (height, width):
        return x
    return F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False).add_(0.5).floor_()


class DeviceStabilizer:
    """`TemporalStabilizer` split in two: the flow and keep-map on the host from the small input
    frames (`plan`), the warp of the previous output and the blend on the device (`apply`)."""

    def __init__(self, hold: float, tolerance: float) -> None:
        self.hold, self.tolerance = hold, tolerance
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._prev_gray: np.ndarray | None = None
        self._prev_out: torch.Tensor | None = None
        self._grid: np.ndarray | None = None

    def plan(self, small_in: np.ndarray) -> np.ndarray | None:
        """Host side, from the BGR uint8 input (at the processing size or `aux_shape`'s): (h, w, 3)
        float32 [dx, dy, keep] (how far each pixel moved from the previous frame, in `small_in`'s
        pixels, and how much of the previous output it keeps), or None when there is no previous
        frame of this shape."""
        gray = cv2.cvtColor(small_in, cv2.COLOR_BGR2GRAY)
        prev, self._prev_gray = self._prev_gray, gray
        if prev is None or prev.shape != gray.shape:
            return None
        flow = self._flow.calc(gray, prev, None)
        if self._grid is None or self._grid.shape[:2] != gray.shape:
            ys, xs = np.mgrid[0 : gray.shape[0], 0 : gray.shape[1]].astype(np.float32)
            self._grid = np.dstack([xs, ys])
        where = self._grid + flow
        warped_gray = cv2.remap(prev, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mismatch = cv2.blur(cv2.absdiff(gray, warped_gray), (3, 3)).astype(np.float32)
        keep = np.clip(1.0 - mismatch / self.tolerance, 0.0, 1.0) * np.float32(self.hold)
        return np.dstack([flow, keep])

    def apply(self, styled: torch.Tensor, plan: torch.Tensor | None) -> torch.Tensor:
        """Device side: `styled` (1, 3, h, w) grey levels, `plan` (h, w, >=3) from `plan` on the
        device, at `styled`'s size (or None); returns the stabilized output, kept as the next
        frame's previous one."""
        prev = self._prev_out
        if plan is None or prev is None or prev.shape != styled.shape:
            out = styled
        else:
            h, w = styled.shape[-2:]
            # pixel centres -> [-1, 1] with align_corners=True (pixel 0 at -1, pixel w-1 at 1),
            # as cv2.remap reads them; "border" is BORDER_REPLICATE
            xs = torch.arange(w, device=plan.device, dtype=plan.dtype)
            ys = torch.arange(h, device=plan.device, dtype=plan.dtype)[:, None]
            gx = (plan[..., 0] + xs) * (2.0 / max(w - 1, 1)) - 1.0
            gy = (plan[..., 1] + ys) * (2.0 / max(h - 1, 1)) - 1.0
            grid = torch.stack([gx, gy], -1).unsqueeze(0)
            warped = F.grid_sample(prev, grid, mode="bilinear", padding_mode="border", align_corners=True).round_()
            keep = plan[..., 2][None, None]
            out = (warped * keep + styled * (1.0 - keep)).round_()
        self._prev_out = out
        return out


_DEVICE_STABILIZERS: weakref.WeakKeyDictionary[TemporalStabilizer, DeviceStabilizer] = weakref.WeakKeyDictionary()


def device_stabilizer(host: TemporalStabilizer) -> DeviceStabilizer:
    """The device state belonging to the engine's per-stream stabilizer (same hold, tolerance)."""
    state = _DEVICE_STABILIZERS.get(host)
    if state is None:
        state = _DEVICE_STABILIZERS[host] = DeviceStabilizer(host.hold, host.tolerance)
    return state


def aux_shape(shape: tuple[int, int]) -> tuple[int, int]:
    """The side buffer's size for a processing size: the same up to `AUX_FULL_MAX_SHORT`, else half."""
    h, w = shape
    return shape if min(h, w) <= AUX_FULL_MAX_SHORT else ((h + 1) // 2, (w + 1) // 2)


def upsample_aux(aux: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """The (ah, aw, 4) side buffer brought to `shape` on the device: bilinear (pixel centres, as
    the host resizes), its flow scaled from the small buffer's pixels to the processing size's."""
    ah, aw = aux.shape[:2]
    if (ah, aw) == tuple(shape):
        return aux
    up = F.interpolate(aux.permute(2, 0, 1)[None], size=shape, mode="bilinear", align_corners=False)
    up = up[0].permute(1, 2, 0).contiguous()
    up[..., 0] *= shape[1] / aw
    up[..., 1] *= shape[0] / ah
    return up


def process_full_frame(
    runner: FullFrameRunner,
    bgr: np.ndarray,
    shape: tuple[int, int],
    *,
    detail: float,
    strength: float,
    faces: FaceTracker | None,
    stabilizer: TemporalStabilizer | None,
) -> np.ndarray:
    """The engine's frame on the device path: the host work on the small input (flow, keep-map,
    face mask), then one call of the runner that uploads once and downloads the final frame."""
    use_faces = faces is not None and detail > 0.0  # as the host path: faces advance only when used
    side = aux_shape(shape)
    small_in = resize(bgr, *side) if (stabilizer is not None or use_faces) else None
    state = device_stabilizer(stabilizer) if stabilizer is not None else None
    plan = state.plan(small_in) if state is not None else None
    mask = None
    if use_faces:
        faces.update(small_in)
        mask = faces.mask(side)
    aux = None
    if plan is not None or mask is not None:
        aux = np.zeros((*side, AUX_CHANNELS), np.float32)
        if plan is not None:
            aux[..., :3] = plan
        if mask is not None:
            aux[..., 3] = mask
    return runner.run_full_frame(
        bgr,
        shape,
        aux,
        detail=detail,
        strength=strength,
        stabilizer=state,
        has_plan=plan is not None,
        has_mask=mask is not None,
    )


def stylize_on_device(
    forward: torch.nn.Module,
    dtype: torch.dtype,
    frame: torch.Tensor,
    shape: tuple[int, int],
    aux: torch.Tensor | None,
    *,
    detail: float,
    strength: float,
    stabilizer: DeviceStabilizer | None,
    has_plan: bool,
    has_mask: bool,
) -> torch.Tensor:
    """The device work of one frame: `frame` the uploaded BGR uint8 (H, W, 3), `aux` the uploaded
    float32 side buffer at `aux_shape(shape)` (or None); returns the final BGR uint8 (H, W, 3), on
    the device."""
    height, width = frame.shape[:2]
    ph, pw = shape
    if aux is not None:
        aux = upsample_aux(aux, shape)
    full = frame.permute(2, 0, 1).unsqueeze(0).float()  # grey levels, NCHW
    small_in = device_resize(full, ph, pw)
    x = small_in.to(dtype, memory_format=torch.channels_last)  # BGR [0, 255]: FrameModel's input
    # the runner's to_uint8 rounding, kept as float levels on the device
    small = forward(x).float().mul_(127.5).add_(128.0).clamp_(0.0, 255.0).floor_()
    if stabilizer is not None:
        small = stabilizer.apply(small, aux if has_plan else None)
    if detail > 0.0:
        weight: float | torch.Tensor = detail
        if has_mask:
            weight = detail + (face_detail(detail) - detail) * aux[..., 3][None, None]
        out = detail_upscale_torch(full / 255.0, small_in / 255.0, small / 255.0, weight) * 255.0
    elif (ph, pw) != (height, width):
        out = device_resize(small, height, width)  # bilinear up; as the host, halvings first down
    else:
        out = small
    if strength < 1.0:
        out = out * strength + full * (1.0 - strength)
    # not in place: `out` may be the stabilizer's kept previous output
    return out.round().clamp(0.0, 255.0).to(torch.uint8)[0].permute(1, 2, 0).contiguous()
