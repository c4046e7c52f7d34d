"""int8 on the CPU (`--precision int8`, models/quantize.py): OpenVINO runs the convolutions on its
int8 kernels, the shipped styles stay within 38 dB PSNR of fp32 on real webcam frames, a
colour-guarded style keeps its guard in the graph, and where int8 cannot run the engine says so
and runs fp32."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from models.backends import FrameModel, OpenVinoRunner, openvino_available
from models.engine import InferenceEngine
from models.precision import resolve_precision
from models.quantize import QuantConv2d, calibration_frame, quantizable, quantize_frame_model, quantized_conv_count
from models.style_library import StyleLibrary
from tests.conftest import REPO, tiny_generator
from tests.models.test_precision import psnr, real_frames

needs_openvino = pytest.mark.skipif(not openvino_available(), reason="int8 runs on OpenVINO, which is not installed")


def test_calibration_frame_is_fixed_and_covers_the_levels() -> None:
    frame = calibration_frame()
    assert frame.dtype == np.uint8 and frame.shape == (256, 344, 3)
    assert np.array_equal(frame, calibration_frame())  # a style's int8 graph does not vary run to run
    assert frame.min() < 20 and frame.max() > 235 and frame.std() > 40


def test_every_convolution_but_the_first_and_the_depthwise_ones_is_quantized() -> None:
    generator, _ = tiny_generator("lite_hq", ngf=8, n_blocks=2)
    model = FrameModel(generator).eval()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    frame = calibration_frame((64, 96), seed=1)
    quantized = quantize_frame_model(model, [frame])
    expected = sum(quantizable(c) for c in convs)
    assert 0 < expected < len(convs) and quantized_conv_count(quantized) == expected
    assert not quantizable(convs[0]) and all(isinstance(m, nn.Conv2d) for m in convs)  # the original is untouched
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        fp32, int8 = model(x), quantized(x)
    error = (fp32 - int8).abs()
    # of a [-1, 1] range: small but real rounding (an untrained net with large weights amplifies it)
    assert 0 < float(error.mean()) < 0.05, float(error.mean())


def test_a_relu_input_gets_the_unsigned_range_and_a_signed_one_the_symmetric() -> None:
    conv = nn.Conv2d(8, 8, 3, padding=1, padding_mode="reflect")
    unsigned, signed = QuantConv2d(conv, 0.0, 6.0), QuantConv2d(conv, -2.0, 3.0)
    assert (unsigned.qmin, unsigned.qmax, unsigned.scale) == (0, 255, pytest.approx(6.0 / 255))
    assert (signed.qmin, signed.qmax, signed.scale) == (-128, 127, pytest.approx(3.0 / 127))
    x = torch.rand(1, 8, 12, 12) * 6
    with torch.no_grad():
        assert torch.allclose(unsigned(x), conv(x), atol=0.05)  # reflect padding as the original's


def test_int8_is_asked_for_by_name_only_and_falls_back_where_it_cannot_run() -> None:
    assert resolve_precision("int8").name == "int8" and resolve_precision("int8").notice is None
    fallback = resolve_precision("int8", bf16_backend=False)
    assert fallback.name == "fp32" and "OpenVINO" in fallback.notice
    assert resolve_precision("auto", has_bf16=False).name == "fp32"  # auto never picks int8
    engine = InferenceEngine("cpu", precision="int8", backend="torch")
    assert engine.precision == "fp32" and "int8" in engine.precision_notice


def int8_kernels(runner: OpenVinoRunner) -> int:
    """How many convolutions the compiled model runs in int8 (u8 or i8 runtime precision)."""
    compiled = next(iter(runner._requests.values())).get_compiled_model()
    count = 0
    for op in compiled.get_runtime_model().get_ops():
        info = op.get_rt_info()
        if info["layerType"].astype(str) == "Convolution":
            count += info["runtimePrecision"].astype(str) in ("u8", "i8")
    return count


@needs_openvino
@pytest.mark.parametrize("style", ["vangogh", "ukiyoe"])
def test_int8_runs_int8_kernels_within_35_db_of_fp32_on_real_frames(style: str) -> None:
    """Van Gogh (the default) and Ukiyo-e (a colour guard, which int8 keeps inside the graph: only
    convolutions are quantized) on two webcam clips: 41.6-45.6 dB measured at 256, 38 asserted."""
    frames = real_frames()
    generator = StyleLibrary(REPO / "weights").load(style)[0]
    engines = {p: InferenceEngine("cpu", size=256, precision=p) for p in ("fp32", "int8")}
    for name, engine in engines.items():
        engine.set_style(generator, style)
        assert type(engine._active.runner) is OpenVinoRunner and engine._active.runner.precision == name
        assert f"CPU {name} OpenVINO" in engine.describe() and engine.precision_notice is None
    assert int8_kernels(engines["int8"]._active.runner) >= 10
    for frame in frames:
        fp32, int8 = engines["fp32"].process(frame), engines["int8"].process(frame)
        assert not np.array_equal(fp32, int8), "int8 gave fp32's pixels: it did not run"
        assert psnr(fp32, int8) >= 38.0, (style, psnr(fp32, int8))
