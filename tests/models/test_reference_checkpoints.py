"""A reference pytorch-CycleGAN-and-pix2pix generator checkpoint works unchanged as a style."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoints import infer_config
from models.engine import InferenceEngine
from models.registry import GeneratorConfig, create_generator
from models.style_library import StyleLibrary
from tests.conftest import REPO, tiny_generator


def save_reference_checkpoint(path: Path, model: torch.nn.Module, stale_stats: bool, prefix: str = "") -> None:
    """What the reference code writes: a plain state_dict (old versions added norm running stats)."""
    state = {prefix + k: v for k, v in model.state_dict().items()}
    if stale_stats:
        for i in (2, 5, 8):
            state[f"{prefix}model.{i}.running_mean"] = torch.zeros(4)
            state[f"{prefix}model.{i}.running_var"] = torch.ones(4)
            state[f"{prefix}model.{i}.num_batches_tracked"] = torch.tensor(0)
    torch.save(state, path)


def reference_formula(model: torch.nn.Module, bgr: np.ndarray) -> np.ndarray:
    """The reference test-time path: RGB in [-1, 1], tanh out, back to uint8."""
    rgb = torch.from_numpy(np.ascontiguousarray(bgr[:, :, ::-1])).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        out = model(rgb)[0].permute(1, 2, 0).numpy()
    return np.clip(np.round((out + 1) * 127.5), 0, 255).astype(np.uint8)[:, :, ::-1]


@pytest.mark.parametrize(
    ("n_blocks", "dropout", "stale", "prefix"),
    [(9, False, False, ""), (6, False, True, ""), (6, True, True, "module.")],
)
def test_reference_checkpoint_matches_reference_formula(
    tmp_path: Path, n_blocks: int, dropout: bool, stale: bool, prefix: str
) -> None:
    model, config = tiny_generator("resnet", ngf=4, n_blocks=n_blocks, dropout=dropout)
    ckpt = tmp_path / "latest_net_G_A.pth"
    save_reference_checkpoint(ckpt, model, stale, prefix)

    style = StyleLibrary(tmp_path / "lib").resolve(str(ckpt))
    assert style.config == config
    loaded, _ = StyleLibrary(tmp_path / "lib").load(str(ckpt))

    frame = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    engine = InferenceEngine(device="cpu", size=None, precision="fp32")
    engine.set_style(loaded, "ref")
    diff = np.abs(engine.process(frame).astype(int) - reference_formula(model.eval(), frame).astype(int))
    assert diff.max() <= 1  # "to within rounding"


def test_infer_config_reads_keys() -> None:
    model, _ = tiny_generator("resnet", ngf=4, n_blocks=9, dropout=True)
    config = infer_config(model.state_dict())
    assert (config.arch, config.ngf, config.n_blocks, config.dropout) == ("resnet", 4, 9, True)
    assert any(".conv_block.6.weight" in k for k in model.state_dict())


@pytest.mark.parametrize("arch", ["lite", "lite_hq"])
def test_infer_config_tells_the_lite_decoders_apart(arch: str) -> None:
    """A loose lite or lite_hq weights file is rebuilt as the architecture it was saved from."""
    state = create_generator(GeneratorConfig(arch, ngf=8, n_blocks=3)).state_dict()
    assert infer_config(state) == GeneratorConfig(arch, ngf=8, n_blocks=3)
    toned = create_generator(GeneratorConfig(arch, ngf=8, n_blocks=3, global_tone=True)).state_dict()
    assert infer_config(toned) == GeneratorConfig(arch, ngf=8, n_blocks=3, global_tone=True)


def test_import_style_command_converts_into_library(tmp_path: Path) -> None:
    model, config = tiny_generator("resnet", ngf=4, n_blocks=6)
    ckpt = tmp_path / "monet_net_G.pth"
    save_reference_checkpoint(ckpt, model, stale_stats=True)
    env = {"STYLECAM_WEIGHTS": str(tmp_path / "lib"), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "main.py", "import-style", str(ckpt), "--name", "monet_ref"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lib = StyleLibrary(tmp_path / "lib")
    (style,) = lib.list_styles()
    assert style.name == "monet_ref" and style.config == config and style.path.suffix == ".safetensors"
    listing = subprocess.run(
        [sys.executable, "main.py", "styles", "--device", "cpu"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert "monet_ref" in listing.stdout and "resnet ngf=4 blocks=6" in listing.stdout and "CPU" in listing.stdout
