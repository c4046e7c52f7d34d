"""CUT / FastCUT (train/trainers/cut.py): a tiny run trains, PatchNCE learns, resume and export work."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from models.registry import GeneratorConfig
from models.style_library import StyleLibrary
from train.losses.patch_nce import patch_nce
from train.stages.export import main as export_main
from train.trainers.checkpoint import load_checkpoint
from train.trainers.config import CutConfig
from train.trainers.cut import CutTrainer, run_cut
from train.trainers.cut import main as cut_main


def _config(dataroot: Path, out: Path, **kw: object) -> CutConfig:
    """A lite ngf=8, 1-block generator and ndf=8 PatchGAN on 32px crops, 16 patches per layer."""
    base = {"dataroot": str(dataroot), "out": str(out), "generator": "lite", "ngf": 8, "n_blocks": 1, "ndf": 8,
            "load_size": 36, "crop_size": 32, "max_steps": 4, "nce_patches": 16, "nce_dim": 16, "log_every": 2,
            "sample_every": 1000, "export": False, "device": "cpu"}  # fmt: skip
    base.update(kw)
    return CutConfig(**base)


def test_fast_flag_sets_the_fastcut_weights() -> None:
    assert (CutConfig().nce_weight(), CutConfig().identity_nce()) == (1.0, True)
    assert (CutConfig(fast=True).nce_weight(), CutConfig(fast=True).identity_nce()) == (10.0, False)
    assert CutConfig(fast=True, lambda_nce=2.0, nce_idt=True).nce_weight() == 2.0
    assert CutConfig().generator_config() == GeneratorConfig("lite_hq", ngf=16, n_blocks=9, decoder_norm="demod")


def test_patch_nce_prefers_matching_patches() -> None:
    torch.manual_seed(0)
    keys = torch.nn.functional.normalize(torch.randn(2, 8, 4), dim=-1)
    assert patch_nce(keys, keys, 0.07) < patch_nce(keys.roll(1, dims=1), keys, 0.07)


def test_tiny_cut_and_fastcut_runs_train(dataroot: Path, tmp_path: Path) -> None:
    for fast in (False, True):
        run = run_cut(_config(dataroot, tmp_path / f"run{fast}", fast=fast), quiet=True)
        state = load_checkpoint(run)
        assert state["kind"] == "cut" and state["step"] == 4 and state["export_model"] == "G"
        assert set(state["models"]) == {"G", "D", "F"}
        assert all(math.isfinite(v) for v in state["last_losses"].values())
        assert (state["last_losses"]["NCE_idt"] == 0.0) == fast


def test_nce_loss_decreases_when_optimised_alone(dataroot: Path, tmp_path: Path) -> None:
    trainer = CutTrainer(_config(dataroot, tmp_path / "run", nce_patches=32, nce_dim=32), total_steps=100)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    params = [*trainer.gen.parameters(), *trainer.heads.parameters()]
    opt = torch.optim.Adam(params, 1e-3)
    history = []
    for _ in range(30):
        out, in_feats = trainer.tap.run(x)
        loss = trainer.nce_loss(trainer.tap.encode(out), in_feats)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert all(math.isfinite(v) for v in history)
    assert sum(history[-5:]) / 5 < 0.8 * sum(history[:5]) / 5, history


def test_resume_continues_at_the_saved_step(dataroot: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run_cut(_config(dataroot, run, max_steps=6), stop_at_step=2, quiet=True)
    assert load_checkpoint(run)["step"] == 2
    assert cut_main(["--resume", str(run)]) == 0
    state = load_checkpoint(run)
    assert state["step"] == 6 and state["config"]["max_steps"] == 6
    logged = [line.split(",")[0] for line in (run / "losses.csv").read_text().splitlines()[1:]]
    assert logged == ["2", "4", "6"]


def test_export_gives_a_style_the_library_loads(dataroot: Path, tmp_path: Path) -> None:
    run = run_cut(_config(dataroot, tmp_path / "run", max_steps=2), quiet=True)
    lib = tmp_path / "lib"
    assert export_main([str(run), "--name", "cutstyle", "--library", str(lib)]) == 0
    model, style = StyleLibrary(lib).load("cutstyle")
    assert style.config == GeneratorConfig("lite", ngf=8, n_blocks=1, decoder_norm="demod")
    assert style.training["kind"] == "cut" and style.training["steps"] == 2
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 30, 42))
    assert out.shape == (1, 3, 30, 42) and torch.isfinite(out).all()


def test_init_fine_tunes_a_finished_style_with_the_grid_penalty(dataroot: Path, tmp_path: Path) -> None:
    """--init starts the generator as the style (architecture and weights, whatever the preset
    options say), and --lambda-grid is logged as a loss."""
    first = run_cut(_config(dataroot, tmp_path / "first", max_steps=2), quiet=True)
    lib = tmp_path / "lib"
    assert export_main([str(first), "--name", "base", "--library", str(lib)]) == 0
    base, style = StyleLibrary(lib).load("base")
    config = _config(dataroot, tmp_path / "tuned", init=str(lib / "base.safetensors"), generator="lite_hq",
                     ngf=16, lambda_grid=10.0)  # fmt: skip
    trainer = CutTrainer(config, total_steps=3)
    assert trainer.gen_config == style.config
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    base.inference_border = 0
    with torch.no_grad():
        assert torch.allclose(trainer.gen(x), base(x))
    losses = trainer.train_step(x, x)
    assert float(losses["grid"]) > 0 and math.isfinite(float(losses["NCE"]))


def test_without_the_pixel_layer_patch_nce_compares_only_encoder_features(dataroot: Path, tmp_path: Path) -> None:
    with_pixels = CutTrainer(_config(dataroot, tmp_path / "a"), total_steps=2)
    without = CutTrainer(_config(dataroot, tmp_path / "b", nce_pixels=False), total_steps=2)
    assert len(without.heads) == len(with_pixels.heads) - 1 == len(without.tap.layers)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert all(f.shape[1] != 3 for f in without.tap.encode(x))  # no raw RGB among the features
    assert math.isfinite(float(without.train_step(x, x)["NCE"]))
