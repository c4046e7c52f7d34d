"""The shipped styles: the figures in weights/manifest.json are what `train.evaluate` measures now,
and every style not labelled a preview meets the quality bar the README states for shipped styles.

Each style is evaluated once on its dataset's test split (100 photos at 256x256; the three add
about 55 s to the suite on the idle 2-core CPU), so a retrained or hand-edited weights file
cannot ship with stale numbers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from models.style_library import DEFAULT_ROOT, Style, StyleLibrary
from tests.conftest import REPO, SHARED_DATA
from train.evaluation.evaluate import EvalResult, evaluate_generators

SHIPPED = StyleLibrary(DEFAULT_ROOT)
# Stored figures are rounded and CPU kernels differ slightly between machines.
RELATIVE_TOLERANCE = 0.02
# Photos and paintings measure 1.2-3.3; the hatched outputs of earlier runs measured 19-72.
MAX_GRID_PEAK_RATIO = 5.0
# "The stylized image still shows the photo's scene": the weakest shipped style keeps 0.3.
MIN_EDGE_CORRELATION = 0.3


def is_preview(style: Style) -> bool:
    return "preview" in style.display_name.lower() or style.training.get("status", "").startswith("preview")


@pytest.fixture(scope="module")
def measured() -> dict[str, tuple[Style, EvalResult]]:
    """Every shipped style evaluated on the test folders its manifest entry names."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is missing: the shipped styles are evaluated on ../shared/data")
    out = {}
    for name in SHIPPED.names():
        model, style = SHIPPED.load(name)
        ev = style.evaluation
        photos, paintings = REPO / ev["photos_dir"], REPO / ev["style_dir"]
        result = evaluate_generators(model, None, photos, paintings, size=ev["size"], time_engine=False)
        out[name] = (style, result)
    return out


@pytest.mark.parametrize("name", SHIPPED.names())
def test_manifest_figures_are_reproduced(name: str, measured: dict) -> None:
    style, result = measured[name]
    stored, now = style.evaluation, result.summary()
    assert (now["photos"], now["style_images"]) == (stored["photos"], stored["style_images"])
    for key in ("swd", "swd_joint", "ssim_luma", "edge_correlation", "grid_peak_ratio", "colour_blotch", "hue_swap"):
        for method, value in stored[key].items():
            assert now[key][method] == pytest.approx(value, rel=RELATIVE_TOLERANCE, abs=0.01), (key, method)


@pytest.mark.parametrize("name", [s.name for s in SHIPPED.list_styles() if not is_preview(s)])
def test_finished_styles_meet_the_quality_bar(name: str, measured: dict) -> None:
    _, result = measured[name]
    for joint in (False, True):
        stylized = result.swd("stylized", joint)
        assert stylized < result.swd("photos", joint), f"{name}: no closer to the paintings than the photos"
        assert stylized < result.swd("reinhard", joint), f"{name}: no closer than Reinhard colour transfer"
    assert result.grid["stylized"] < MAX_GRID_PEAK_RATIO, f"{name}: stride-locked hatching"
    assert result.edges["stylized"] >= MIN_EDGE_CORRELATION, f"{name}: the photo's scene is lost"


def test_every_shipped_style_says_how_it_was_made() -> None:
    for style in SHIPPED.list_styles():
        training = style.training
        for key in ("data", "steps", "crop_size", "wall_time_minutes", "hardware"):
            assert training.get(key), f"{style.name}: manifest lacks training {key}"
        assert Path(style.path).stat().st_size < 5_000_000, f"{style.name}: weights file is not small"


# The webcam target every shipped style meets with the app's stabilizer (train/evaluation/webcam_metrics.py).
MAX_FLICKER_RATIO = 1.3


@pytest.mark.parametrize("name", SHIPPED.names())
def test_every_shipped_style_records_its_webcam_figures(name: str) -> None:
    """Measured on both webcam clips at the app's processing size, with and without the stabilizer
    (`python -m train.evaluate --clips ...`); steady enough with it."""
    webcam = SHIPPED.resolve(name).evaluation["webcam"]
    assert webcam["size"] == 256 and webcam["stabilize"] is True
    for figures in (webcam, webcam["without_stabilizer"]):
        assert set(figures["clips"]) == {"book.mkv", "sister.mkv"}
        assert all(c["faces"] > 0 and 0 < c["face_structure"] <= 1 for c in figures["clips"].values())
    assert max(c["flicker_ratio"] for c in webcam["clips"].values()) <= MAX_FLICKER_RATIO
