"""The EMA of the generators: the average itself, what the trainer stores, what the export ships."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from models.style_library import StyleLibrary
from train.stages.average import average_checkpoints
from train.stages.export import export_run
from train.trainers.checkpoint import load_checkpoint
from train.trainers.cyclegan import config_for_resume, run_training
from train.trainers.ema import WARMUP, WeightEMA

from .conftest import tiny_config


def test_shadow_moves_towards_source_with_warmup_and_copies_buffers() -> None:
    source = nn.Sequential(nn.Linear(2, 2, bias=False), nn.BatchNorm1d(2))
    nn.init.zeros_(source[0].weight)
    ema = WeightEMA({"net": source}, decay=0.9)
    with torch.no_grad():
        source[0].weight.fill_(1.0)
        source[1].running_mean.fill_(3.0)
    ema.update()
    shadow = ema.shadows["net"]
    first_decay = min(0.9, 2 / (WARMUP + 1))  # warm-up: the first updates follow the source closely
    assert torch.allclose(shadow[0].weight, torch.full((2, 2), 1 - first_decay))
    assert torch.equal(shadow[1].running_mean, torch.full((2,), 3.0))
    for _ in range(200):
        ema.update()
    assert ema.current_decay() == 0.9
    assert torch.allclose(shadow[0].weight, torch.ones(2, 2), atol=1e-6)
    assert not any(p.requires_grad for p in shadow.parameters())
    with pytest.raises(ValueError, match="between 0 and 1"):
        WeightEMA({"net": source}, decay=1.0)


def test_ema_run_stores_shadows_and_exports_them(dataroot: Path, tmp_path: Path) -> None:
    """With --ema-decay the checkpoint holds the shadows beside the raw weights, the export ships
    the shadows and says so, and `train.stages.average` averages the shadows of its snapshots."""
    run = tmp_path / "run"
    run_training(tiny_config(dataroot, run, max_steps=4, ema_decay=0.5, snapshot_every=2, save_every=100), quiet=True)
    state = load_checkpoint(run)
    assert state["ema"]["updates"] == 4
    raw, shadow = state["models"]["G_A"], state["ema"]["models"]["G_A"]
    assert any(not torch.equal(raw[k], shadow[k]) for k in raw), "the shadow should lag the raw weights"

    style = export_run(run, "ema", library_root=tmp_path / "lib")
    assert style.training["ema_decay"] == 0.5 and style.training["ema_updates"] == 4
    shipped = StyleLibrary(tmp_path / "lib").load("ema")[0].state_dict()
    assert all(torch.equal(shipped[k], shadow[k]) for k in shadow)

    snaps = [run / "checkpoints" / f"step_000000{s}.pt" for s in (2, 4)]
    averaged = average_checkpoints(snaps)
    first, last = (load_checkpoint(p)["ema"]["models"]["G_A"] for p in snaps)
    for k, tensor in averaged["ema"]["models"]["G_A"].items():
        assert torch.allclose(tensor, (first[k].float() + last[k].float()) / 2)


def test_ema_switched_on_when_resuming_starts_at_the_resumed_weights(dataroot: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run_training(tiny_config(dataroot, run, max_steps=2), quiet=True)
    plain = load_checkpoint(run)
    assert "ema" not in plain
    # ema_decay and decay_fraction may change on resume (a finished run continued gently).
    config = config_for_resume(plain["config"], {"ema_decay": 0.999, "decay_fraction": 1.0, "max_steps": 4})
    run_training(config, resume_state=plain, stop_at_step=2, quiet=True)
    resumed = load_checkpoint(run)
    assert resumed["ema"]["updates"] == 0
    for k, v in plain["models"]["G_A"].items():
        assert torch.equal(resumed["ema"]["models"]["G_A"][k], v)
