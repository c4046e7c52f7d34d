"""The engine's backends: OpenVINO and PyTorch give the same frames, and `process` never hands
out a buffer that the next frame overwrites."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from models.backends import openvino_available
from models.engine import InferenceEngine
from tests.conftest import tiny_generator

needs_openvino = pytest.mark.skipif(not openvino_available(), reason="openvino/onnx not installed")


def frames(h: int = 48, w: int = 64, n: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (h + w)], axis=-1)
    return [np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def generator_frame(model: torch.nn.Module, frame: np.ndarray) -> np.ndarray:
    """The BGR frame (float, rounded levels) the engine must give for `frame`: the plain
    generator on RGB in [-1, 1], without the engine's folding of both into its convolutions."""
    rgb = torch.from_numpy(frame[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        return ((model(rgb)[0].permute(1, 2, 0).numpy()[..., ::-1] + 1) * 127.5).round()


@needs_openvino
@pytest.mark.parametrize("arch", ["lite", "lite_hq", "lite_fast", "resnet", "lite_hq+tone"])
def test_openvino_matches_pytorch(arch: str) -> None:
    name, _, tone = arch.partition("+")
    model, _ = tiny_generator(name, global_tone=bool(tone)) if tone else tiny_generator(name)
    outputs = []
    for backend in ("openvino", "torch"):
        engine = InferenceEngine(device="cpu", size=None, backend=backend, precision="fp32")
        engine.set_style(model, backend)
        assert ("OpenVINO" in engine.describe()) == (backend == "openvino")
        outputs.append(engine.process(frames()[0]).astype(int))
    assert np.abs(outputs[0] - outputs[1]).max() <= 1


@pytest.mark.parametrize("backend", ["auto", "torch"])
@pytest.mark.parametrize("size", [None, 32])
def test_output_is_owned_by_the_caller(backend: str, size: int | None) -> None:
    engine = InferenceEngine(device="cpu", size=size, backend=backend)
    engine.set_style(tiny_generator()[0], "tiny")
    first, second = frames()
    out = engine.process(first)
    kept = out.copy()
    engine.process(second)
    assert np.array_equal(out, kept)


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="backend"):
        InferenceEngine(device="cpu", backend="tensorrt")


CTRL_C_AFTER_ENGINES_ARE_GONE = """
import gc, os, signal, sys, threading
import numpy as np
from models.engine import InferenceEngine
from tests.conftest import tiny_generator

def switch_styles_while_running():
    frame = np.zeros((32, 32, 3), np.uint8)
    engine = InferenceEngine(device="cpu", size=None, backend="openvino")
    engine.set_style(tiny_generator(seed=1)[0], "a")
    stop = threading.Event()
    worker = threading.Thread(target=lambda: [engine.process(frame) for _ in iter(stop.is_set, True)])
    worker.start()
    engine.set_style(tiny_generator(seed=2)[0], "b")
    stop.set()
    worker.join()

switch_styles_while_running()
gc.collect()
caught = []
signal.signal(signal.SIGINT, lambda *_: caught.append(1))
os.kill(os.getpid(), signal.SIGINT)
print("caught", len(caught))
"""


@needs_openvino
def test_ctrl_c_after_an_engine_is_released_does_not_crash() -> None:
    """OpenVINO's CPU plugin sets an alternate signal stack on the compiling thread; releasing
    the plugin with the last engine used to turn the next Ctrl-C into a SIGSEGV."""
    import subprocess
    import sys

    from tests.conftest import REPO

    run = subprocess.run(
        [sys.executable, "-c", CTRL_C_AFTER_ENGINES_ARE_GONE], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0 and "caught 1" in run.stdout, (run.returncode, run.stderr[-1000:])


@pytest.mark.parametrize("backend", ["auto", "torch"])
@pytest.mark.parametrize(
    "extra",
    [{"global_tone": True}, {"global_tone": True, "norm_clip": 1.0}, {"global_tone": True, "decoder_norm": "demod"}],
)
def test_folded_pixel_scaling_keeps_the_global_tone_path_exact(backend: str, extra: dict) -> None:
    """The engine folds BGR->RGB and [0,255]->[-1,1] into the first and last convolutions; the
    global-tone path reads the first one's output, so its frames must equal the plain generator's
    (with the decoder's cap or its demodulated convolutions too, which the OpenVINO export must keep)."""
    model, _ = tiny_generator("lite", **extra)
    assert float(model.tone.weight.detach().abs().sum()) > 0
    frame = frames()[0]
    engine = InferenceEngine(device="cpu", size=None, backend=backend, precision="fp32")
    engine.set_style(copy.deepcopy(model), "tone")
    got = engine.process(frame).astype(int)
    assert np.abs(got - generator_frame(model, frame)).max() <= 1


@pytest.mark.parametrize("colour", [{}, {"palette": True, "colour_guard": 8}], ids=["plain", "teacher-colour"])
@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_folded_pixel_scaling_is_exact_for_the_fast_twin_architecture(backend: str, colour: dict) -> None:
    """lite_fast's first convolution is a 6x6 stride-2 one and its last a 1x1 after a pixel
    shuffle, or its teacher's palette map before the colour guard: the engine's folding of BGR
    and the pixel scaling into them must stay exact."""
    model, _ = tiny_generator("lite_fast", decoder_norm="demod", **colour)
    frame = frames()[0]
    engine = InferenceEngine(device="cpu", size=None, backend=backend, precision="fp32")
    engine.set_style(copy.deepcopy(model), "fast")
    got = engine.process(frame).astype(int)
    assert np.abs(got - generator_frame(model, frame)).max() <= 1
