"""Export into the style library and load in the app's engine; offline evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from models.engine import InferenceEngine
from models.style_library import StyleLibrary
from train.evaluation.evaluate import evaluate_generators
from train.evaluation.evaluate import main as evaluate_main
from train.evaluation.metrics import frechet_distance, reinhard_transfer, sliced_wasserstein, swd, swd_descriptors
from train.stages.export import main as export_main
from train.stages.export import run_generators
from train.trainers.checkpoint import load_checkpoint
from train.trainers.cyclegan import main as train_main

from .conftest import SHARED_DATA


def test_export_then_engine(trained_run: Path, tmp_path: Path, capsys) -> None:
    assert export_main([str(trained_run), "--name", "red2blue", "--library", str(tmp_path)]) == 0
    library = StyleLibrary(tmp_path)
    model, style = library.load("red2blue")
    assert style.training["steps"] == 3 and style.training["crop_size"] == 32
    assert {"losses", "hardware", "wall_time_minutes", "data"} <= set(style.training)
    # The exported weights are exactly the run's A->B generator.
    forward, _, _ = run_generators(load_checkpoint(trained_run))
    x = torch.rand(1, 3, 36, 44) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(model(x), forward(x))
    engine = InferenceEngine("cpu", size=64)
    engine.set_style(model, style.name)
    frame = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    out = engine.process(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    # Evaluate the library style and store its figures in the manifest entry.
    # Data paths are stored relative to the folder holding the library, so manifests travel.
    domain_a = Path(style.training["data"]["domain_a"])
    assert not domain_a.is_absolute()
    data = (tmp_path.parent / domain_a).resolve().parent
    StyleLibrary(tmp_path).update_entry("red2blue", evaluation={"generator": "an earlier, narrower generator"})
    args = ["--style", "red2blue", "--library", str(tmp_path), "--photos", str(data / "testA"), "--style-images",
            str(data / "testB"), "--size", "48", "--no-timing", "--update-library", "--sheet", str(tmp_path / "s.png")]  # fmt: skip
    assert evaluate_main(args) == 0
    assert "stylized (model)" in capsys.readouterr().out
    evaluation = StyleLibrary(tmp_path).resolve("red2blue").evaluation
    assert "swd" in evaluation and evaluation["generator"] == style.config.describe()
    assert (tmp_path / "s.png").is_file()


def test_provenance_names_the_priors_a_run_was_trained_with(trained_run: Path) -> None:
    from train.stages.export import training_provenance

    state = load_checkpoint(trained_run)
    state["config"] = {**state["config"], "lambda_spike": 0.05, "lambda_tv": 0.0}
    priors = training_provenance(state, trained_run)["priors"]
    assert priors["lambda_spike"] == 0.05 and all(priors.values())  # switched-off terms are left out
    assert "spike_sigma" not in priors  # the default threshold goes without saying
    state["config"]["spike_sigma"] = 6.0
    assert training_provenance(state, trained_run)["priors"]["spike_sigma"] == 6.0


def test_export_evaluate_stores_the_test_folders_it_used(trained_run: Path, tmp_path: Path) -> None:
    """`--evaluate` on a run without evaluation.json stores the same entry the file gets (the
    shipped-styles test re-evaluates on the folders it names)."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "evaluation.json").unlink(missing_ok=True)
    assert export_main([str(run), "--name", "fresh", "--library", str(tmp_path / "lib"), "--evaluate"]) == 0
    evaluation = StyleLibrary(tmp_path / "lib").resolve("fresh").evaluation
    assert evaluation["step"] == 3 and evaluation["photos_dir"].endswith("testA") and "swd" in evaluation


def test_training_exports_at_the_end(dataroot: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    args = ["--dataroot", str(dataroot), "--out", str(tmp_path / "run"), "--name", "auto_style", "--ngf", "8",
            "--n-blocks", "1", "--ndf", "8", "--load-size", "36", "--crop-size", "32", "--max-steps", "2",
            "--device", "cpu", "--library", str(lib)]  # fmt: skip
    assert train_main(args) == 0
    style = StyleLibrary(lib).resolve("auto_style")
    manifest = json.loads((lib / "manifest.json").read_text())["styles"]["auto_style"]
    assert style.config.ngf == 8
    assert "swd" in manifest["evaluation"] and "cycle_l1" in manifest["evaluation"]  # evaluated on testA/testB
    assert (tmp_path / "run" / "evaluation_sheet.png").is_file()


def test_evaluate_run_cli_writes_table_json_and_sheet(trained_run: Path, capsys) -> None:
    assert evaluate_main(["--run", str(trained_run), "--size", "48", "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert "Reinhard Lab transfer" in out and "cycle reconstruction" in out
    figures = json.loads((trained_run / "evaluation.json").read_text())
    assert set(figures["swd"]) == {"stylized", "photos", "reinhard"}
    assert set(figures["colour_blotch"]) == {"stylized", "reinhard"}  # measured against the photos
    assert set(figures["hue_swap"]) == {"stylized", "reinhard"}
    assert (trained_run / "evaluation_sheet.png").stat().st_size > 0


def test_swd_tells_sets_apart() -> None:
    rng = np.random.default_rng(0)
    smooth = [np.clip(rng.normal(128, 8, (64, 64, 3)), 0, 255).astype(np.uint8) for _ in range(6)]
    smooth2 = [np.clip(rng.normal(128, 8, (64, 64, 3)), 0, 255).astype(np.uint8) for _ in range(6)]
    stripes = [np.tile((np.arange(64) % 8 < 4)[None, :, None] * 255, (64, 1, 3)).astype(np.uint8)] * 6
    base = swd_descriptors(smooth, seed=1)
    same = np.mean(swd(swd_descriptors(smooth2), base))
    different = np.mean(swd(swd_descriptors(stripes), base))
    assert same < 0.5 * different
    x = rng.normal(size=(500, 8))
    assert sliced_wasserstein(x, x) == 0.0
    assert abs(frechet_distance(x, x)) < 1e-6
    assert frechet_distance(x, x + 1.0) == pytest.approx(8.0, rel=1e-6)


def test_reinhard_matches_target_colour_statistics() -> None:
    rng = np.random.default_rng(0)
    source = rng.integers(0, 120, (32, 32, 3), dtype=np.uint8)
    target = rng.integers(100, 256, (32, 32, 3), dtype=np.uint8)
    out = reinhard_transfer(source, target)
    assert abs(out.mean() - target.mean()) < 12


@pytest.mark.shared_data
def test_evaluate_on_shared_monet_data() -> None:
    root = SHARED_DATA / "monet2photo"
    if not (root / "testA").is_dir() or not (root / "testB").is_dir():
        pytest.skip(f"shared data not found at {root} (expected ../shared/data/monet2photo/testA and testB)")
    torch.manual_seed(0)
    from models.registry import GeneratorConfig, create_generator

    identity_like = create_generator(GeneratorConfig("lite", ngf=8, n_blocks=1))
    result = evaluate_generators(identity_like, None, root / "testA", root / "testB", size=64, max_images=12,
                                 time_engine=False)  # fmt: skip
    assert result.photos == 12 and result.style_images == 12
    for method in ("stylized", "photos", "reinhard"):
        assert np.isfinite(result.swd(method)) and result.swd(method) > 0
    # Reinhard moves photo colours to Monet's: closer in the colour-aware SWD than raw photos.
    assert result.swd("reinhard", joint=True) < result.swd("photos", joint=True)
    assert 0.3 < result.ssim["reinhard"] <= 1.0
    # Reinhard recolours each photo as a whole (nearly linear in RGB): almost no colour blotch.
    assert result.blotch["reinhard"] < 2.0
    # ...and keeps each region's hue relative to the others (one tint, one saturation gain).
    assert result.hue_swap["reinhard"] < 3.0
