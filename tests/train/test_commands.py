"""The training commands the README names still run by those names: `python -m train`,
`train.evaluate`, `train.cut`, `train.palette`, `train.colour_guard`, `train.distill`, and the
ones the docs name at their own paths (export, average, checkpoint)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import REPO

COMMANDS = [
    "train", "train.evaluate", "train.cut", "train.palette", "train.colour_guard", "train.distill",
    "train.stages.export", "train.stages.average", "train.trainers.checkpoint",
]  # fmt: skip


@pytest.mark.parametrize("module", COMMANDS)
def test_command_runs_by_its_documented_name(module: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("usage:"), run.stdout[:500]
