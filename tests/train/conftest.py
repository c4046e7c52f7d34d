"""Tiny synthetic domains (red vs blue noise squares) and a tiny training config for fast tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from train.trainers.config import TrainConfig

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


def write_domain(folder: Path, channel: int, count: int = 6, size: int = 40, seed: int = 0) -> Path:
    """Noise squares in one colour channel (BGR index), saved as PNGs."""
    rng = np.random.default_rng(seed + channel)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        img = np.zeros((size, size, 3), np.uint8)
        img[..., channel] = rng.integers(120, 256, (size, size))
        cv2.imwrite(str(folder / f"{i:03d}.png"), img)
    return folder


@pytest.fixture(scope="session")
def dataroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """trainA = red squares (photos), trainB = blue squares (the 'style'), plus small test splits."""
    root = tmp_path_factory.mktemp("syn")
    write_domain(root / "trainA", channel=2)
    write_domain(root / "trainB", channel=0)
    write_domain(root / "testA", channel=2, count=3, size=48, seed=5)
    write_domain(root / "testB", channel=0, count=3, size=48, seed=5)
    # beside it, as ../shared/data/webcam_photos is beside each dataset: the recipes' last stage
    # mixes its trainA in ("../webcam_photos/trainA")
    write_domain(root.parent / "webcam_photos" / "trainA", channel=1, count=4)
    return root


def tiny_config(dataroot: Path, out: Path, **overrides: object) -> TrainConfig:
    """A lite ngf=8, 1-block generator and ndf=8 PatchGAN on 32px crops."""
    base = {
        "name": "tiny",
        "dataroot": str(dataroot),
        "out": str(out),
        "generator": "lite",
        "ngf": 8,
        "n_blocks": 1,
        "ndf": 8,
        "load_size": 36,
        "crop_size": 32,
        "max_steps": 4,
        "pool_size": 3,
        "sample_every": 1000,
        "log_every": 2,
        "export": False,
        "device": "cpu",
    }
    base.update(overrides)
    return TrainConfig(**base)


@pytest.fixture(scope="session")
def trained_run(dataroot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-step tiny run on the synthetic domains (tests that change its files copy it first)."""
    from train.trainers.cyclegan import run_training

    out = tmp_path_factory.mktemp("run")
    run_training(tiny_config(dataroot, out, max_steps=3), quiet=True)
    return out
