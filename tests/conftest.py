"""Shared fixtures: tiny generators, a temporary style library, and the ../shared data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models.registry import GeneratorConfig, create_generator
from models.style_library import StyleLibrary

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
VIDEOS = SHARED_DATA / "videos"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def run_main(*args: str | Path, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    """`python main.py ARGS` in the repo, in this test's environment (its own user style library)
    without STYLECAM_WEIGHTS, so the shipped and user libraries are the ones used; `env` adds to it."""
    environ = {k: v for k, v in os.environ.items() if k != "STYLECAM_WEIGHTS"} | env
    cmd = [sys.executable, "main.py", *map(str, args)]
    return subprocess.run(cmd, cwd=REPO, env=environ, capture_output=True, text=True, timeout=timeout)


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is missing: tests on real data need ../shared/data beside the repo")
    return path


def tiny_generator(arch: str = "lite", seed: int = 0, **overrides: int) -> tuple[torch.nn.Module, GeneratorConfig]:
    """An untrained but non-trivial generator (weights large enough to change the picture)."""
    config = GeneratorConfig(arch, **{"ngf": 8, "n_blocks": 2, **overrides})
    torch.manual_seed(seed)
    model = create_generator(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    return model, config


@pytest.fixture(autouse=True)
def user_styles(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty user style library: no test writes to the real home."""
    path = tmp_path_factory.mktemp("user-styles")
    monkeypatch.setenv("STYLECAM_USER_STYLES", str(path))
    return path


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StyleLibrary:
    """An isolated style library with two tiny styles, 'alpha' (default) and 'beta'."""
    root = tmp_path / "weights"
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(root))
    lib = StyleLibrary(root)
    for seed, name in enumerate(("alpha", "beta")):
        model, config = tiny_generator(seed=seed)
        lib.add_style(model, config, name)
    return lib
