"""The palette map: the closed-form colour fit, the generators and engine that run it, and the
`train.palette` -> `train.evaluate` -> `train.stages.export` path a user takes with a finished run."""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from models.engine import InferenceEngine
from models.registry import GeneratorConfig, create_generator
from models.style_library import StyleLibrary
from tests.conftest import tiny_generator
from tests.models.test_engine import natural_frame
from train.evaluation.evaluate import load_images
from train.evaluation.evaluate import main as evaluate_main
from train.stages.export import main as export_main
from train.stages.export import run_generators
from train.stages.palette import FIT_SIZE, ColourMoments, fit_colour_map, image_moments
from train.stages.palette import main as palette_main
from train.trainers.checkpoint import load_checkpoint

SWAP_RED_BLUE = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def palette_twin(plain: torch.nn.Module, config: GeneratorConfig) -> torch.nn.Module:
    """`plain` with an identity palette map added, its other weights the same."""
    mapped = create_generator(replace(config, palette=True)).eval()
    mapped.load_state_dict(plain.state_dict(), strict=False)
    return mapped


def random_colours(rng: np.random.Generator, mean: list[float], mix: np.ndarray) -> np.ndarray:
    px = rng.normal(size=(64 * 64, 3)) @ mix.T + np.asarray(mean)
    return np.clip(px * 127.5 + 127.5, 0, 255).round().astype(np.uint8).reshape(64, 64, 3)


def test_fitted_map_gives_the_target_mean_and_covariance() -> None:
    rng = np.random.default_rng(0)
    source = [random_colours(rng, [-0.3, -0.2, -0.4], np.array([[0.1, 0.05, 0], [0, 0.12, 0], [0.02, 0, 0.08]]))]
    target = [random_colours(rng, [0.3, 0.25, 0.1], np.array([[0.2, 0, 0], [0.05, 0.1, 0], [0, 0.03, 0.15]]))]
    matrix, bias = fit_colour_map(image_moments(source), image_moments(target))
    px = source[0].reshape(-1, 3) / 127.5 - 1.0
    mapped = px @ matrix.T + bias
    wanted = image_moments(target)
    assert np.allclose(mapped.mean(axis=0), wanted.mean(), atol=1e-6)
    assert np.allclose(np.cov(mapped, rowvar=False, bias=True), wanted.covariance(), atol=1e-6)
    assert np.allclose(matrix, matrix.T, atol=1e-9)  # the Monge-Kantorovich map is symmetric


def test_a_flat_colour_source_still_gives_a_finite_map() -> None:
    flat = ColourMoments()
    flat.add(np.full((8, 8, 3), 100, np.uint8))
    busy = image_moments([np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)])
    matrix, bias = fit_colour_map(flat, busy)
    assert np.isfinite(matrix).all() and np.isfinite(bias).all()


def test_identity_palette_changes_nothing_and_a_fitted_one_maps_every_pixel() -> None:
    plain, config = tiny_generator("lite", global_tone=True)
    mapped = create_generator(replace(config, palette=True)).eval()
    missing, unexpected = mapped.load_state_dict(plain.state_dict(), strict=False)
    assert set(missing) == {"palette.weight", "palette.bias"} and not unexpected
    x = torch.rand(1, 3, 30, 42) * 2 - 1
    with torch.no_grad():
        assert torch.equal(plain(x), mapped(x))
        mapped.palette.set_map(2 * torch.eye(3), torch.tensor([0.5, 0.0, -0.5]))
        want = (2 * plain(x) + torch.tensor([0.5, 0.0, -0.5]).view(1, 3, 1, 1)).clamp(-1, 1)
        assert torch.allclose(mapped(x), want, atol=1e-6)


@pytest.mark.parametrize("arch", ["lite_hq", "resnet"])
def test_engine_runs_the_palette_on_rgb_and_returns_bgr(arch: str) -> None:
    """The frame path flips the last convolution to BGR: with the palette that must be the
    palette's, or a red/blue swap would come out as no swap at all."""
    plain, config = tiny_generator(arch, n_blocks=1)
    swapped = palette_twin(plain, config)
    swapped.palette.set_map(SWAP_RED_BLUE, torch.zeros(3))
    frame = natural_frame(64, 96)
    outputs = []
    for model in (plain, swapped):
        engine = InferenceEngine(device="cpu", size=None, precision="fp32")  # exact: bf16 rounds by channel
        engine.set_style(copy.deepcopy(model), arch)  # the engine prepares the model in place
        outputs.append(engine.process(frame))
    assert not np.array_equal(outputs[0], outputs[1])
    assert np.array_equal(outputs[0][..., ::-1], outputs[1])


def test_palette_cli_evaluate_and_export(trained_run: Path, dataroot: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    assert palette_main([str(run)]) == 0
    fitted = run / "checkpoints" / "palette.pt"
    state = load_checkpoint(fitted)
    assert state["generator_config"]["palette"] and set(state["palette"]) == {"G_A", "G_B"}
    assert state["palette"]["G_A"]["target"].endswith("trainB")

    # The red "photos" come out with the blue "paintings'" mean colour (on the training folders).
    before, _, _ = run_generators(load_checkpoint(run))
    after, _, _ = run_generators(state)
    photos = torch.stack([torch.from_numpy(np.asarray(p)) for p in _training_photos(dataroot)])
    x = photos.permute(0, 3, 1, 2).float() / 127.5 - 1
    target = torch.tensor(state["palette"]["G_A"]["mean_target"])
    with torch.no_grad():
        err_before = (before(x).mean(dim=(0, 2, 3)) - target).abs().max()
        err_after = (after(x).mean(dim=(0, 2, 3)) - target).abs().max()
    assert err_after < 0.03 and err_before > 0.5  # not exact: the target sits on the clamp at -1

    assert evaluate_main(["--run", str(fitted), "--size", "48", "--no-timing"]) == 0
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert evaluation["generator"].endswith("palette")
    lib = tmp_path / "lib"
    assert export_main([str(fitted), "--name", "paletted", "--library", str(lib)]) == 0
    model, style = StyleLibrary(lib).load("paletted")
    assert style.config.palette and style.training["palette"]["G_A"]["images"][0] == 6
    assert style.evaluation["generator"] == evaluation["generator"]
    with torch.no_grad():
        assert torch.allclose(model(x), after(x), atol=1e-5)

    # The run's own checkpoint, exported now, must not carry the palette checkpoint's figures.
    assert export_main([str(run), "--name", "plain", "--library", str(lib)]) == 0
    assert StyleLibrary(lib).resolve("plain").evaluation == {}


def _training_photos(dataroot: Path) -> list[np.ndarray]:
    return load_images(dataroot / "trainA", FIT_SIZE, None, "photos")  # as the fit sees them


def test_palette_cli_refuses_a_fitted_checkpoint_and_missing_folders(trained_run: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    assert palette_main([str(run), "--domain-b", str(tmp_path / "nowhere")]) == 2
    assert "domain_b" in capsys.readouterr().err
    assert palette_main([str(run), "--out", str(tmp_path / "p.pt")]) == 0
    assert palette_main([str(tmp_path / "p.pt")]) == 2
    assert "already has a palette" in capsys.readouterr().err


def test_refit_fits_a_fixed_palette_map_again_on_the_raw_outputs(trained_run: Path, tmp_path: Path) -> None:
    """A style fine-tuned with its map fixed gets the map fitted again on the generator's outputs
    before it: refitting an unchanged generator gives back the map it already had."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    assert palette_main([str(run), "--out", str(tmp_path / "p.pt")]) == 0
    assert palette_main([str(tmp_path / "p.pt"), "--refit", "--out", str(tmp_path / "again.pt")]) == 0
    first, again = (load_checkpoint(tmp_path / f) for f in ("p.pt", "again.pt"))
    key = first["export_model"]
    for name in ("palette.weight", "palette.bias"):
        assert torch.allclose(again["models"][key][name], first["models"][key][name], atol=1e-4), name
    assert again["palette"][key]["mean_before"] == first["palette"][key]["mean_before"]


def test_palette_cost_benchmark_compares_the_same_weights() -> None:
    from benchmarks.stage_costs import without_palette

    plain, config = tiny_generator("lite_hq", n_blocks=1)
    mapped = palette_twin(plain, config)
    twin = without_palette(mapped, mapped.config)
    assert twin.palette is None
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(twin(x), plain(x))


@pytest.mark.parametrize("arch", ["lite", "resnet"])
def test_a_loose_weights_file_reveals_its_palette(arch: str) -> None:
    from models.checkpoints import infer_config

    _, config = tiny_generator(arch, n_blocks=1)
    mapped = create_generator(replace(config, palette=True))
    assert infer_config(mapped.state_dict()).palette
    assert not infer_config(create_generator(config).state_dict()).palette
