"""The processing size has one owner, the engine in use; changing it never reads a style from disk
again, and the next frames are computed at the new size."""

from __future__ import annotations

import numpy as np
import pytest

from app.controller import Controller
from models.engine import InferenceEngine
from models.style_library import StyleLibrary
from tests.app.conftest import FRAME_TIMEOUT_MS


def counted_loads(library: StyleLibrary, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every `library.load` call, by name (the real method still runs, on the real files)."""
    calls: list[str] = []
    real = library.load

    def load(name_or_path):
        calls.append(str(name_or_path))
        return real(name_or_path)

    monkeypatch.setattr(library, "load", load)
    return calls


def reference(library: StyleLibrary, name: str, size: int, image: np.ndarray) -> np.ndarray:
    """What a fresh engine at `size` makes of `image` with style `name`."""
    engine = InferenceEngine(device="cpu", size=size)
    engine.set_style(library.load(name)[0], name)
    return engine.process(image)


def next_frame(qtbot, controller: Controller, style: str, size: int):
    """The next processed frame after this call that used `style` at `size` (a frame already in
    flight when the size changed was stylized by the engine before, at the old size)."""
    frames = []

    def wanted(frame) -> bool:
        return frame.style_name == style and frame.size == size

    controller.frame_ready.connect(frames.append)
    qtbot.waitUntil(lambda: any(wanted(f) for f in frames), timeout=FRAME_TIMEOUT_MS)
    controller.frame_ready.disconnect(frames.append)
    assert controller.size == size and controller.engine.size == size
    return next(f for f in frames if wanted(f))


def test_size_change_keeps_styles_in_memory_and_applies_to_the_next_frames(
    qtbot, styles: StyleLibrary, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = counted_loads(styles, monkeypatch)
    controller = Controller(lambda: InferenceEngine(device="cpu"), styles)
    controller.set_size(64)
    controller.start("demo", "alpha")
    try:
        qtbot.waitUntil(lambda: controller.engine.style_name == "alpha", timeout=FRAME_TIMEOUT_MS)
        qtbot.waitUntil(lambda: "beta" in controller.loader.ready, timeout=FRAME_TIMEOUT_MS)  # preloaded
        assert sorted(loads) == ["alpha", "beta"]  # each style read once
        at_64 = next_frame(qtbot, controller, "alpha", 64)

        controller.set_size(128)
        qtbot.waitUntil(lambda: controller.size == 128, timeout=FRAME_TIMEOUT_MS)
        at_128 = next_frame(qtbot, controller, "alpha", 128)
        # the engine in use was rebuilt for 128 and the others are prepared again, all from memory
        qtbot.waitUntil(lambda: "beta" in controller.loader.ready, timeout=FRAME_TIMEOUT_MS)
        assert controller.loader.ready["beta"][0].size == 128
        controller.set_style("beta")
        qtbot.waitUntil(lambda: controller.engine.style_name == "beta", timeout=FRAME_TIMEOUT_MS)
        assert controller.engine.size == 128
        assert sorted(loads) == ["alpha", "beta"], "a size change read styles from disk again"
    finally:
        controller.shutdown(5.0)

    # each frame is what an engine at that processing size makes of its input: computed at 128
    for frame, size in ((at_64, 64), (at_128, 128)):
        assert frame.stylized.shape == frame.original.shape == (480, 640, 3)
        expected = reference(styles, "alpha", size, frame.original)
        other = reference(styles, "alpha", 192 - size, frame.original)
        error = np.abs(frame.stylized.astype(int) - expected).mean()
        assert error < 1.0, (size, error)
        assert np.abs(frame.stylized.astype(int) - other).mean() > 4 * error + 1.0, size
