"""Nothing a user does writes into the source tree: a training run (export on, as by default)
with `--out` elsewhere, an import, a colour-guard switch on a shipped style and a removal all go
to the user library; the shipped `weights/` keeps every file and byte, and no style or run file
appears anywhere in the repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from models.style_library import SHIPPED_ROOT, StyleLibrary
from tests.conftest import REPO, run_main, tiny_generator
from tests.train.conftest import write_domain

PROBE = "untouched_probe"  # in every name this test creates, so its files are easy to spot
ARTEFACTS = (".safetensors", ".pt", ".pth", ".json", ".png", ".csv", ".tmp")


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def untracked(repo: Path) -> set[str]:
    """Untracked and ignored paths in the repository (others may be editing sources meanwhile)."""
    if shutil.which("git") is None or not (repo / ".git").exists():
        return set()
    run = subprocess.run(
        ["git", "status", "--porcelain=v1", "--untracked-files=all", "--ignored", "-z"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if run.returncode != 0:
        return set()
    entries = (e[3:] for e in run.stdout.split("\0") if e[:2] in ("??", "!!"))
    return {
        e for e in entries if not e.startswith((".venv/", ".pytest_cache/", ".ruff_cache/")) and "__pycache__" not in e
    }


def test_training_import_guard_and_removal_leave_the_source_tree_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_styles: Path
) -> None:
    from models.checkpoints import save_generator
    from train.stages.colour_guard import main as colour_guard_main
    from train.trainers.cyclegan import main as train_main

    monkeypatch.delenv("STYLECAM_WEIGHTS", raising=False)  # the app's own library: user over shipped
    shipped_before = tree_bytes(SHIPPED_ROOT)
    loose_before = untracked(REPO)

    data = tmp_path / "data"
    for split, count, size in (("train", 4, 40), ("test", 2, 48)):
        write_domain(data / f"{split}A", channel=2, count=count, size=size)
        write_domain(data / f"{split}B", channel=0, count=count, size=size)
    run = tmp_path / "runs" / PROBE
    args = ["--dataroot", str(data), "--out", str(run), "--name", PROBE, "--ngf", "8", "--n-blocks", "1",
            "--ndf", "8", "--load-size", "36", "--crop-size", "32", "--max-steps", "3", "--device", "cpu"]  # fmt: skip
    assert train_main(args) == 0  # exports at the end, as by default

    library = StyleLibrary()
    trained = library.resolve(PROBE)
    assert trained.path.parent == user_styles and trained.origin == "user"
    assert trained.training["steps"] == 3

    weights = tmp_path / f"{PROBE}_import.safetensors"
    save_generator(weights, *tiny_generator(seed=4))
    done = run_main("import-style", weights, "--name", f"{PROBE}_import")
    assert done.returncode == 0, done.stderr
    shipped_name = StyleLibrary(SHIPPED_ROOT).default_style_name()
    if shipped_name is not None:  # the colour guard on a shipped style: a user copy shadows it
        assert colour_guard_main([shipped_name, "--block", "8"]) == 0
        assert library.resolve(shipped_name).shadows_shipped
    for name in (f"{PROBE}_import", PROBE, shipped_name):
        if name is None:
            continue
        done = run_main("remove-style", name)
        assert done.returncode == 0, done.stderr
    assert {s.origin for s in library.list_styles()} <= {"shipped"}  # the user library is empty again

    assert tree_bytes(SHIPPED_ROOT) == shipped_before
    new = sorted(untracked(REPO) - loose_before)
    # runs/ is where people train beside the code (other runs may write there meanwhile): a file
    # of this test's would carry its name there; anywhere else any style or run file counts
    ours = [p for p in new if PROBE in p or p.startswith("weights/") or (p.endswith(ARTEFACTS) and "runs/" not in p)]
    assert not ours, f"written into the source tree: {ours}"
