"""CPU precision: bf16 where the CPU has it, fp32 where it does not (and a clear notice when bf16
was asked for there), and bf16 keeps the shipped styles' pictures within 40 dB PSNR of fp32 on
real webcam frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from models import precision as precision_module
from models.backends import GuardAfterRunner, OpenVinoRunner, openvino_available
from models.engine import InferenceEngine
from models.precision import cpu_has_bf16, cpuinfo_flags, detect_bf16, resolve_precision
from models.style_library import StyleLibrary
from tests.conftest import REPO, shared_path

XEON = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile amx_bf16\n"
AMX_ONLY = "flags\t\t: fpu avx512f amx_tile amx_bf16\n"
OLD_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n\nprocessor\t: 1\nflags\t: avx512_bf16\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes bf16\n"


def never(*_):
    raise AssertionError("OpenVINO was asked although /proc/cpuinfo answered")


@pytest.mark.parametrize(("text", "expected"), [(XEON, True), (AMX_ONLY, True), (OLD_CPU, False), (ARM, False)])
def test_bf16_support_is_read_from_cpuinfo_flags(text: str, expected: bool) -> None:
    assert detect_bf16(cpuinfo=lambda: text, openvino=never, platform="linux") is expected


def test_without_cpuinfo_openvino_answers_and_unknown_means_fp32() -> None:
    assert detect_bf16(cpuinfo=never, openvino=lambda: True, platform="win32") is True
    assert detect_bf16(cpuinfo=never, openvino=lambda: False, platform="darwin") is False
    assert detect_bf16(cpuinfo=never, openvino=lambda: None, platform="win32") is False  # no OpenVINO
    assert detect_bf16(cpuinfo=lambda: None, openvino=lambda: None, platform="linux") is False  # unreadable
    assert cpuinfo_flags("") == set()


def test_auto_is_bf16_only_where_the_cpu_has_it() -> None:
    assert resolve_precision("auto", has_bf16=True).name == "bf16"
    assert resolve_precision("auto", has_bf16=False) == resolve_precision("fp32", has_bf16=True)
    assert resolve_precision("auto", has_bf16=False).notice is None  # nothing was asked for: no notice
    with pytest.raises(ValueError, match="fp16"):
        resolve_precision("fp16")


@pytest.mark.parametrize(("has_bf16", "backend_ok", "reason"), [(False, True, "no bf16"), (True, False, "OpenVINO")])
def test_bf16_requested_where_it_cannot_run_falls_back_to_fp32_with_one_notice(
    has_bf16: bool, backend_ok: bool, reason: str
) -> None:
    resolved = resolve_precision("bf16", has_bf16=has_bf16, bf16_backend=backend_ok)
    assert resolved.name == "fp32"
    assert reason in resolved.notice and "running fp32" in resolved.notice and "\n" not in resolved.notice


@pytest.mark.skipif(not openvino_available(), reason="OpenVINO is not installed")
def test_engine_on_a_cpu_without_bf16_runs_fp32_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision_module, "cpu_has_bf16", lambda: False)
    style = StyleLibrary(REPO / "weights").load("monet")[0]
    for requested in ("auto", "bf16"):
        engine = InferenceEngine("cpu", size=64, precision=requested)
        engine.set_style(style, "monet")
        assert engine.precision == "fp32" and "CPU fp32 OpenVINO" in engine.describe()
        assert engine._active.runner.precision == "fp32"  # what OpenVINO was told, not only the label
        assert (engine.precision_notice is not None) == (requested == "bf16")


def test_describe_names_the_precision_in_use() -> None:
    for requested in ("auto", "fp32", "bf16"):
        engine = InferenceEngine("cpu", precision=requested)
        assert f"CPU {engine.precision} " in engine.describe()
    assert InferenceEngine("cpu", cpu_bf16=False).precision == "fp32"  # the older flag still works


def real_frames() -> list[np.ndarray]:
    """Two 640x480 frames, 2 s apart, from each webcam clip."""
    frames = []
    for name in ("book.mkv", "sister.mkv"):
        cap = cv2.VideoCapture(str(shared_path("videos", name)))
        for index in range(81):  # read in order: seeking in an mkv is not frame-exact
            ok, frame = cap.read()
            assert ok, (name, index)
            if index in (20, 80):
                frames.append(frame)
        cap.release()
    return frames


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


@pytest.mark.skipif(not openvino_available(), reason="bf16 runs on the OpenVINO backend, which is not installed")
@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no bf16 instructions (AVX512-BF16 or AMX)")
@pytest.mark.parametrize("style", ["vangogh", "monet", "ukiyoe"])
def test_bf16_keeps_shipped_styles_within_40_db_of_fp32_on_real_frames(style: str) -> None:
    """Every shipped style runs bf16 when asked; Ukiyo-e's colour guard (15-38 dB inside one bf16
    graph) runs after the bf16 body in fp32, and the picture stays within 40 dB as the others'."""
    frames = real_frames()
    generator = StyleLibrary(REPO / "weights").load(style)[0]
    guarded = generator.guard is not None
    assert guarded == (style == "ukiyoe")
    for size in (256, 360):
        engines = {p: InferenceEngine("cpu", size=size, precision=p) for p in ("fp32", "bf16")}
        for name, engine in engines.items():
            engine.set_style(generator, style)
            runner = engine._active.runner
            split = guarded and name == "bf16"
            assert isinstance(runner, GuardAfterRunner if split else OpenVinoRunner) and runner.precision == name
            assert f"CPU {name} OpenVINO" in engine.describe() and engine.precision_notice is None
        for frame in frames:
            fp32, bf16 = engines["fp32"].process(frame), engines["bf16"].process(frame)
            assert not np.array_equal(fp32, bf16), "bf16 gave fp32's pixels: it did not run"
            assert psnr(fp32, bf16) >= 40.0, (style, size, psnr(fp32, bf16))
