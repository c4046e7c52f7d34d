"""The model choice in the real window: with Auto size and the Auto model, a style whose full
model cannot hold 360 px here runs its fast twin (timed at start like any model), the HUD says
so, and View > Model pins the full model or the twin; a style without a twin runs its own."""

from __future__ import annotations

import functools
import time

import pytest

from app import controller as controller_module
from app import sources
from app.auto_size import FAST_BELOW, AutoSize, AutoSizeConfig
from models.engine import InferenceEngine
from tests.app.conftest import wait_style
from tests.conftest import tiny_generator

pytestmark = pytest.mark.slow
BASE_PIXELS = 256 * 344  # a 640x480 frame at 256 px
FULL_MS, FAST_MS = 250.0, 10.0  # at 256 px: the full model holds no size of a 5 fps source, the twin all


@pytest.fixture
def priced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runners sleep as a full style and its twin would cost on a laptop (by the generator's
    architecture, scaled by the frame's pixels), on a 5 fps demo scene."""
    real_runner = InferenceEngine.runner

    def runner(engine: InferenceEngine, generator):
        inner = real_runner(engine, generator)
        ms = FAST_MS if generator.config.arch == "lite_fast" else FULL_MS

        def run(bgr):
            time.sleep(ms * bgr.shape[0] * bgr.shape[1] / BASE_PIXELS / 1000.0)
            return inner(bgr)

        return run

    monkeypatch.setattr(InferenceEngine, "runner", runner)
    monkeypatch.setattr(sources, "DemoSource", functools.partial(sources.DemoSource, fps=5.0))
    quick = AutoSizeConfig(dwell_s=2.0, window_s=3.0, min_frames=8, ban_s=60.0)
    monkeypatch.setattr(controller_module, "AutoSize", functools.partial(AutoSize, quick))


def hud(window) -> str:
    return " ".join(window.view.hud_lines)


def test_auto_model_runs_the_fast_twin_where_the_full_model_is_too_slow(qtbot, make_window, styles, priced) -> None:
    styles.add_fast_twin("alpha", *tiny_generator("lite_fast", seed=4, ngf=4, n_blocks=1, decoder_norm="demod"))
    window = make_window("demo", size="auto")
    controller = window.controller
    assert controller.model == "auto" and window.model_actions["auto"].isChecked()
    wait_style(qtbot, window, "alpha")
    qtbot.waitUntil(lambda: controller.engine.fast_twin, timeout=30_000)
    assert controller.loader.fast and controller.size >= FAST_BELOW  # the twin holds 360 px and more
    qtbot.waitUntil(lambda: "Alpha (fast model)" in hud(window), timeout=5000)

    window.model_actions["full"].trigger()  # View > Model > Full: the style's own generator
    qtbot.waitUntil(lambda: not controller.engine.fast_twin, timeout=30_000)
    assert window.settings.model == "full" and controller.engine.style_name == "alpha"
    qtbot.waitUntil(lambda: "(fast model)" not in hud(window), timeout=5000)

    window.model_actions["fast"].trigger()
    qtbot.waitUntil(lambda: controller.engine.fast_twin, timeout=30_000)
    window.choose_style(window.style_combo.findData("beta"))  # no twin: it runs its own model
    wait_style(qtbot, window, "beta")
    assert not controller.engine.fast_twin
    window.close()

    from app.settings import AppSettings, open_settings

    assert AppSettings.load(open_settings()).model == "fast"  # saved, as the other choices


def test_auto_model_keeps_the_full_model_where_it_holds_the_size(qtbot, make_window, styles, monkeypatch) -> None:
    styles.add_fast_twin("alpha", *tiny_generator("lite_fast", seed=4, ngf=4, n_blocks=1, decoder_norm="demod"))
    monkeypatch.setattr(sources, "DemoSource", functools.partial(sources.DemoSource, fps=2.0))  # 500 ms a frame
    window = make_window("demo", size="auto")
    wait_style(qtbot, window, "alpha")
    qtbot.waitUntil(lambda: window.controller.loader.calibrated_size is not None, timeout=30_000)
    qtbot.wait(500)
    assert window.controller.loader.calibrated_size >= FAST_BELOW and not window.controller.engine.fast_twin
