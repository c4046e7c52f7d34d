"""The CPU compute precision: whether this CPU does bfloat16 in hardware, and what "auto", "fp32",
"bf16" or "int8" resolves to on it.

bf16 is worth it only with hardware support (AVX512-BF16 or AMX): there OpenVINO's bf16 kernels
run the shipped styles 1.9x faster than fp32 at 45-50 dB PSNR against it (docs/performance.md);
without it OpenVINO would emulate bf16 slower than fp32. So "auto" is bf16 exactly where the CPU
has it. Asking for bf16 where the CPU lacks it, or on a backend without bf16 kernels (PyTorch on
the CPU), is not an error: the engine runs fp32 and says so in one notice line, because a saved
or scripted `--precision bf16` should keep working when moved to another machine.

A style with a colour guard (models/colour_guard.py) runs its guard in fp32 whatever was asked:
the guard's closed-form 3x3 least-squares solve per frame loses its accuracy in bf16 (Ukiyo-e in
one bf16 graph: 15-38 dB PSNR against fp32 on real webcam frames), so in bf16 the generator runs
without it and the guard after it (models/backends.py, `GuardAfterRunner`: 50-53 dB).

int8 (models/quantize.py) is opt-in: OpenVINO runs it on any x86 CPU, at 40-46 dB PSNR against
fp32 on webcam frames; what it gains depends on the CPU's int8 instructions (docs/performance.md).

Support is read from /proc/cpuinfo's flags on Linux; elsewhere from OpenVINO's CPU device
(OPTIMIZATION_CAPABILITIES lists "BF16" where it has native bf16 kernels); if neither answers,
fp32.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PRECISIONS = ("auto", "fp32", "bf16", "int8")
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # /proc/cpuinfo names (x86)


def cpuinfo_flags(text: str) -> set[str]:
    """The feature flags of a /proc/cpuinfo text (x86 "flags", ARM "Features"), first CPU."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def _openvino_has_bf16() -> bool | None:
    try:
        from models.backends import openvino_available, shared_core

        if not openvino_available():
            return None
        return "BF16" in shared_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # an OpenVINO that cannot open its CPU plugin: we do not know
        return None


def detect_bf16(
    cpuinfo: Callable[[], str | None] | None = None,
    openvino: Callable[[], bool | None] = _openvino_has_bf16,
    platform: str = sys.platform,
) -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX).

    `cpuinfo` returns the /proc/cpuinfo text (None when unreadable) and `openvino` OpenVINO's
    answer (None when unknown); both are injectable so the decision can be tested anywhere.
    """
    if platform.startswith("linux"):
        text = (cpuinfo or _read_cpuinfo)()
        if text is not None:
            return bool(cpuinfo_flags(text) & BF16_FLAGS)
    return bool(openvino())


def _read_cpuinfo() -> str | None:
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None


@functools.cache
def cpu_has_bf16() -> bool:
    """`detect_bf16()` for this machine, asked once per process."""
    return detect_bf16()


@dataclass(frozen=True)
class Precision:
    """What runs (`name`: "fp32", "bf16" or "int8") and, when that differs from the request, why."""

    name: str
    notice: str | None = None


def resolve_precision(requested: str = "auto", *, has_bf16: bool | None = None, bf16_backend: bool = True) -> Precision:
    """ "auto" -> bf16 where the CPU has it, else fp32; "bf16" without hardware support (or on a
    backend without bf16 kernels, `bf16_backend=False`) -> fp32 with a one-line notice; "int8" ->
    int8 on OpenVINO (`bf16_backend`), else fp32 with a notice. "auto" never picks int8: it is
    opt-in, as its gain depends on the CPU (1.0x-1.5x on AVX2 without VNNI) and it costs a few dB."""
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r}; choose one of {', '.join(PRECISIONS)}")
    if requested == "fp32":
        return Precision("fp32")
    if requested == "int8":  # any x86 CPU OpenVINO runs on has int8 kernels; gains vary (module docstring)
        if bf16_backend:
            return Precision("int8")
        return Precision("fp32", "int8 runs on the OpenVINO backend only, and this engine uses PyTorch; running fp32")
    supported = cpu_has_bf16() if has_bf16 is None else has_bf16
    if not supported:
        why = "this CPU has no bf16 instructions (AVX512-BF16 or AMX)"
    elif not bf16_backend:
        why = "bf16 runs on the OpenVINO backend only, and this engine uses PyTorch"
    else:
        return Precision("bf16")
    return Precision("fp32", f"bf16 was requested but {why}; running fp32" if requested == "bf16" else None)
