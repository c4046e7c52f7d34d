"""Slim checkpoints: what a lent GPU brings back (scripts/gpu_recipe.sh) is the generators, their
configs and EMA, and it exports, evaluates and teaches like the full checkpoint, but never resumes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models.errors import StyleCamError
from models.style_library import StyleLibrary
from train.stages.export import export_run
from train.trainers.checkpoint import SLIM, load_checkpoint, main, save_slim, slim_checkpoint
from train.trainers.cyclegan import run_training
from train.trainers.distill import load_teacher

from .conftest import tiny_config


def test_slim_keeps_generators_configs_and_ema_only(dataroot: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run_training(tiny_config(dataroot, run, max_steps=3, ema_decay=0.5), quiet=True)
    full = load_checkpoint(run)
    slim = slim_checkpoint(full)
    assert set(slim["models"]) == {"G_A", "G_B"} and slim["slim"]
    assert not {"optimizers", "schedulers", "scalers", "rank_states"} & set(slim)
    assert slim["ema"]["models"].keys() == full["ema"]["models"].keys()
    assert (slim["config"], slim["generator_config"], slim["step"]) == (
        full["config"], full["generator_config"], full["step"],
    )  # fmt: skip
    for key, tensor in full["models"]["G_A"].items():
        assert torch.equal(slim["models"]["G_A"][key], tensor)
    assert "optimizers" in full  # the full state is left as it was


def test_slim_file_exports_the_same_style_and_teaches_but_does_not_resume(
    dataroot: Path, tmp_path: Path, capsys
) -> None:
    run = tmp_path / "run"
    run_training(tiny_config(dataroot, run, max_steps=2, ema_decay=0.5), quiet=True)
    assert main([str(run)]) == 0
    path = run / "checkpoints" / SLIM
    assert f"{path}: cyclegan step 2 of 2" in capsys.readouterr().out
    assert path.stat().st_size < (run / "checkpoints" / "latest.pt").stat().st_size
    a = export_run(run, "full", library_root=tmp_path / "lib")
    b = export_run(path, "slim", library_root=tmp_path / "lib")
    library = StyleLibrary(tmp_path / "lib")
    weights_a, weights_b = library.load(a.name)[0].state_dict(), library.load(b.name)[0].state_dict()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    _teacher, config = load_teacher(str(path))
    assert config.ngf == 8
    from train.trainers.cyclegan import main as train_main

    assert train_main(["--resume", str(path), "--max-steps", "3"]) == 2
    assert "slim checkpoint" in capsys.readouterr().err


def test_slim_of_a_missing_run_is_one_line(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.startswith("error: no checkpoint at")
    with pytest.raises(StyleCamError):
        save_slim(tmp_path / "nothing")
