"""DistributedDataParallel through the real command line: torchrun with 2 CPU processes on gloo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from train.trainers.checkpoint import load_checkpoint

from .conftest import REPO

pytestmark = pytest.mark.slow


def test_torchrun_two_gloo_processes(dataroot: Path, tmp_path: Path) -> None:
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "train", "--dataroot", str(dataroot), "--out", str(tmp_path), "--generator", "lite",
        "--ngf", "8", "--n-blocks", "1", "--ndf", "8", "--load-size", "36", "--crop-size", "32",
        "--max-steps", "3", "--pool-size", "2", "--device", "cpu", "--threads", "1", "--no-export",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = load_checkpoint(tmp_path)
    assert state["step"] == 3 and state["world_size"] == 2
    ranks = state["rank_states"]
    assert len(ranks) == 2
    # DDP kept the replicas identical, although each rank saw different images.
    assert torch.equal(ranks[0]["checksum"], ranks[1]["checksum"])
    assert not torch.equal(ranks[0]["pool_a"]["images"], ranks[1]["pool_a"]["images"])
    assert "2 processes" in state["hardware"]
