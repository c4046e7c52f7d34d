"""Auto size in the real window (`--size auto`, the demo scene at 640x480 5 fps): the style is
timed at start and runs at the largest size that fits; when the runner is slowed (another
program takes the CPU) the size steps down, and back up when it is fast again; the HUD says
which size runs; picking a fixed size in the combo pins it."""

from __future__ import annotations

import functools
import time

import pytest

from app import controller as controller_module
from app import sources
from app.auto_size import AUTO_SIZE, AutoSize, AutoSizeConfig
from models.engine import InferenceEngine
from tests.app.conftest import wait_style

pytestmark = pytest.mark.slow
BASE_PIXELS = 256 * 344  # a 640x480 frame at 256 px


@pytest.fixture
def slowed(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Every engine's runner sleeps `ms_at_256` scaled by its frame's pixels: the tiny test
    styles then cost what a real style costs, and the cost can be changed mid-run."""
    cost = {"ms_at_256": 30.0}
    real_runner = InferenceEngine.runner

    def runner(engine: InferenceEngine, generator):
        inner = real_runner(engine, generator)

        def run(bgr):
            time.sleep(cost["ms_at_256"] * bgr.shape[0] * bgr.shape[1] / BASE_PIXELS / 1000.0)
            return inner(bgr)

        return run

    monkeypatch.setattr(InferenceEngine, "runner", runner)
    # a 5 fps scene: a 200 ms frame, so the sleeps outweigh the real work on a loaded CPU
    monkeypatch.setattr(sources, "DemoSource", functools.partial(sources.DemoSource, fps=5.0))
    quick = AutoSizeConfig(dwell_s=2.0, window_s=3.0, min_frames=8, ban_s=60.0)  # 5 frames a second
    monkeypatch.setattr(controller_module, "AutoSize", functools.partial(AutoSize, quick))
    return cost


def hud(window) -> str:
    return " ".join(window.view.hud_lines)


def test_auto_size_fits_the_machine_steps_down_when_slowed_and_back_up(qtbot, make_window, styles, slowed) -> None:
    window = make_window("demo", size="auto")
    controller = window.controller
    assert window.size_combo.currentData() == AUTO_SIZE and window.size_combo.currentText() == "Auto"
    wait_style(qtbot, window, "alpha")
    # timed at start, smallest first, up to the first size over 0.8 x 0.8 of the 200 ms frame
    # (the runner's 30 ms at 256 px, 89 ms at 432 px, 105 ms at 480 px, plus the real work)
    auto = controller.inference.auto
    assert abs(auto.interval_s - 0.2) < 0.02  # the source's rate, measured before the timing
    timings, budget = controller.loader.calibration, auto.start_budget_ms()
    fitting = [size for size, ms in timings.items() if ms <= budget]
    assert list(timings) == sorted(timings) and list(timings)[:3] == [256, 288, 320], timings
    start = controller.loader.calibrated_size
    assert start == max(fitting) >= 320 and controller.size_auto, timings
    # on a loaded CPU the policy may already have stepped down from the start (dwell 2 s here)
    assert controller.size <= start and controller.size >= 256
    qtbot.waitUntil(lambda: f"auto {controller.size}px" in hud(window), timeout=5000)

    slowed["ms_at_256"] = 250.0  # another program takes the CPU: even 256 px is over the budget
    qtbot.waitUntil(lambda: controller.size == 256, timeout=30_000)  # as far down as it has to go
    qtbot.waitUntil(lambda: "auto 256px" in hud(window), timeout=5000)

    slowed["ms_at_256"] = 30.0  # free again: back up, one size at a time
    qtbot.waitUntil(lambda: controller.size > 256, timeout=30_000)
    assert controller.size_auto and controller.size < start  # the size it fell from waits out its ban

    # a fixed size pins it: the policy is gone, the size stays whatever the runner costs
    window.size_combo.setCurrentIndex(window.size_combo.findData(256))
    qtbot.waitUntil(lambda: controller.size == 256 and not controller.size_auto, timeout=15_000)
    slowed["ms_at_256"] = 1.0
    qtbot.wait(3000)
    assert controller.size == 256 and "| 256px |" in hud(window)
    assert window.settings.size == 256


def test_auto_is_the_default_and_saved_sizes_keep_working(qtbot, make_window, styles, settings_file) -> None:
    from app.settings import AppSettings, open_settings

    assert AppSettings.load(open_settings()).size == AUTO_SIZE  # nothing saved yet: Auto
    window = make_window("demo", size=None)
    assert window.controller.size_auto and window.size_combo.currentText() == "Auto"
    wait_style(qtbot, window, "alpha")
    window.close()
    assert AppSettings.load(open_settings()).size == AUTO_SIZE  # saved as Auto

    settings_file.write_text(settings_file.read_text().replace("size=-1", "size=384"))  # an older version's
    assert AppSettings.load(open_settings()).size == 384
    pinned = make_window("demo", size=None)
    assert not pinned.controller.size_auto and pinned.size_combo.currentData() == 384
    pinned.close()
    settings_file.write_text(settings_file.read_text().replace("size=384", "size=-7"))  # hand-edited
    assert AppSettings.load(open_settings()).size == AUTO_SIZE
