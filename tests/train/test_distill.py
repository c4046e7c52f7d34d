"""Distillation: a lite student learns to imitate a teacher generator on photos, then exports."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from models.checkpoints import save_generator
from models.registry import GeneratorConfig, create_generator
from models.style_library import StyleLibrary
from train.checkpoint import load_checkpoint
from train.distill import DistillConfig, Distiller, run_distill
from train.distill import main as distill_main
from train.trainer import init_weights


def _teacher(path: Path) -> Path:
    torch.manual_seed(1)
    config = GeneratorConfig("resnet", ngf=8, n_blocks=2)
    save_generator(path, init_weights(create_generator(config)), config)
    return path


def _config(dataroot: Path, teacher: Path, out: Path, **kw: object) -> DistillConfig:
    base = {"teacher": str(teacher), "dataroot": str(dataroot), "out": str(out), "ngf": 8, "n_blocks": 1, "ndf": 8,
            "load_size": 36, "crop_size": 32, "max_steps": 30, "log_every": 5, "sample_every": 1000,
            "export": False, "device": "cpu"}  # fmt: skip
    base.update(kw)
    return DistillConfig(**base)


def test_student_gets_closer_to_teacher(dataroot: Path, tmp_path: Path) -> None:
    teacher_path = _teacher(tmp_path / "teacher.safetensors")
    config = _config(dataroot, teacher_path, tmp_path / "run", lr=2e-3, lambda_gan=0.0, max_steps=50)
    from train.distill import load_teacher

    teacher, _ = load_teacher(str(teacher_path))
    d = Distiller(config, teacher)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        before = (d.student(x) - d.teacher(x)).abs().mean()
        d.teacher_tap.take(), d.student_tap.take()
    losses = [d.train_step(x) for _ in range(50)]
    assert all(math.isfinite(float(v)) for step in losses for v in step.values())
    with torch.no_grad():
        after = (d.student(x) - d.teacher(x)).abs().mean()
    assert after < 0.7 * before, (before, after)
    assert float(losses[-1]["feature"]) < float(losses[0]["feature"])


def test_distill_cli_resume_and_export(dataroot: Path, tmp_path: Path) -> None:
    teacher_path = _teacher(tmp_path / "teacher.safetensors")
    config = _config(dataroot, teacher_path, tmp_path / "run", max_steps=4)
    run_distill(config, quiet=True)
    state = load_checkpoint(tmp_path / "run")
    assert state["kind"] == "distill" and state["step"] == 4
    lib = tmp_path / "lib"
    args = ["--out", str(tmp_path / "run"), "--resume", "--max-steps", "6", "--export", "--library", str(lib),
            "--export-name", "twin", "--teacher", str(teacher_path)]  # fmt: skip
    assert distill_main(args) == 0
    _model, style = StyleLibrary(lib).load("twin")
    assert style.config == GeneratorConfig("lite", ngf=8, n_blocks=1)
    assert style.training["kind"] == "distill" and style.training["steps"] == 6
    assert style.training["teacher"] == str(teacher_path)
