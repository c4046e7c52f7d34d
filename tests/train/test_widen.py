"""Widening a generator for a fine-tune: the wide copy paints what the narrow one did, then trains."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from models.checkpoints import load_generator_file, save_generator
from models.errors import StyleCamError
from models.registry import GeneratorConfig
from models.style_library import StyleLibrary
from tests.conftest import REPO, tiny_generator
from train.trainers.checkpoint import load_checkpoint
from train.trainers.distill import DistillConfig, Distiller, load_teacher, run_distill
from train.trainers.distill import main as distill_main
from train.trainers.widen import widen_generator

MONET = REPO / "weights" / "monet.safetensors"


def _frame_tensor(size: int = 96) -> torch.Tensor:
    """A real picture (the README's screenshot: a person at a desk), RGB in [-1, 1]."""
    bgr = cv2.imread(str(REPO / "docs" / "screenshot.png"))
    assert bgr is not None
    h, w = bgr.shape[:2]
    crop = cv2.resize(bgr[: min(h, w), : min(h, w)], (size, size), interpolation=cv2.INTER_AREA)
    rgb = crop[..., ::-1].astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None]


@pytest.mark.parametrize("arch", ["lite", "lite_hq"])
def test_a_widened_generator_paints_what_the_narrow_one_did(arch: str) -> None:
    narrow, config = tiny_generator(arch, ngf=8, n_blocks=2, global_tone=True)
    wide = widen_generator(narrow, GeneratorConfig(**{**config.to_dict(), "ngf": 12})).eval()
    x = _frame_tensor(64)
    with torch.no_grad():
        assert torch.allclose(wide(x), narrow(x), atol=1e-5)
    assert sum(p.numel() for p in wide.parameters()) > 1.8 * sum(p.numel() for p in narrow.parameters())


def test_the_shipped_monet_widened_keeps_its_picture() -> None:
    narrow, config = load_generator_file(MONET)
    wide = widen_generator(narrow.eval(), GeneratorConfig(**{**config.to_dict(), "ngf": config.ngf + 8})).eval()
    x = _frame_tensor()
    with torch.no_grad():
        before, after = narrow(x), wide(x)
    assert (after - before).abs().max() < 1e-4  # [-1, 1]: well under a grey level
    assert wide.config.ngf == config.ngf + 8


def test_widening_refuses_what_it_cannot_keep() -> None:
    narrow, config = tiny_generator("lite", ngf=8)
    with pytest.raises(StyleCamError, match="widen"):
        widen_generator(narrow, GeneratorConfig(**{**config.to_dict(), "ngf": 4}))
    resnet, resnet_config = tiny_generator("resnet", ngf=8, n_blocks=1)
    with pytest.raises(StyleCamError, match="light generator"):
        widen_generator(resnet, GeneratorConfig(**{**resnet_config.to_dict(), "ngf": 12}))


def test_a_fine_tune_with_a_larger_ngf_trains_a_widened_student(dataroot: Path, tmp_path: Path) -> None:
    narrow, config = tiny_generator("lite_hq", ngf=8, n_blocks=1, decoder_norm="demod")
    save_generator(tmp_path / "teacher.safetensors", narrow, config)
    options = {"teacher": str(tmp_path / "teacher.safetensors"), "dataroot": str(dataroot), "fine_tune": True,
               "ngf": 12, "ndf": 8, "load_size": 36, "crop_size": 32, "log_every": 5, "sample_every": 1000,
               "export": False, "device": "cpu", "lambda_structure": 1.0}  # fmt: skip
    teacher, teacher_config = load_teacher(options["teacher"])
    d = Distiller(DistillConfig(**options, out=str(tmp_path / "probe"), max_steps=3), teacher, "cpu", teacher_config)
    x = _frame_tensor(32)
    with torch.no_grad():
        assert torch.allclose(d.student(x), d.teacher(x), atol=1e-5)  # it starts as the teacher
        d.teacher_tap.take(), d.student_tap.take()
    losses = d.train_step(x)
    assert float(losses["feature"]) < 1e-8  # the adapters read the teacher's channels, not the new ones

    run_distill(DistillConfig(**options, out=str(tmp_path / "run"), max_steps=2), quiet=True)
    state = load_checkpoint(tmp_path / "run")
    assert state["generator_config"]["ngf"] == 12 and state["step"] == 2
    args = ["--out", str(tmp_path / "run"), "--resume", "--max-steps", "3", "--export", "--library",
            str(tmp_path / "lib"), "--export-name", "wide", "--teacher", options["teacher"]]  # fmt: skip
    assert distill_main(args) == 0
    assert load_checkpoint(tmp_path / "run")["step"] == 3
    _model, style = StyleLibrary(tmp_path / "lib").load("wide")
    assert style.config == GeneratorConfig(**{**config.to_dict(), "ngf": 12})
    with pytest.raises(StyleCamError, match="widen the teacher"):
        DistillConfig(**{**options, "ngf": 4}).student_config(teacher_config)
