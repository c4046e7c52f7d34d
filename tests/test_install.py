"""`pip install .` gives a desktop tool: the wheel built from pyproject.toml holds every module, the
shipped styles and the app icon, and its `stylecam` command runs the CLI from the installed copy
(finding the shipped weights beside the installed `models`), not from the source tree.

The wheel is built from a copy of the sources (an in-tree build would leave build/ and
*.egg-info in the working tree) and installed with `--no-deps --target`: the venv's torch,
PySide6 and the rest are used as they are instead of being installed a second time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow  # a wheel build and two CLI start-ups: 15-30 s on the 2-core dev machine

SOURCES = (
    "pyproject.toml",
    "requirements.txt",
    "README.md",
    "main.py",
    "app",
    "models",
    "train",
    "benchmarks",
    "weights",
)
PACKAGES = (
    "app", "app/workers", "models", "train", "train/trainers", "train/losses", "train/evaluation",
    "train/stages", "benchmarks",
)  # fmt: skip


def pip(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, src / name)
    dist = tmp_path_factory.mktemp("dist")
    # no build isolation: setuptools from the venv, nothing fetched from an index
    run = pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, ".", cwd=src)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    (found,) = dist.glob("stylecam-*.whl")
    return found


def test_wheel_holds_modules_weights_icon_and_the_entry_point(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = next(n.rsplit("/", 1)[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
        metadata = zf.read(f"{info}/METADATA").decode()
    # every module of the source tree, none left behind
    for package in PACKAGES:
        for path in (REPO / package).glob("*.py"):
            assert f"{package}/{path.name}" in names, f"{package}/{path.name} is missing from the wheel"
    assert "main.py" in names
    for path in (REPO / "weights").iterdir():
        assert f"weights/{path.name}" in names, f"shipped style file {path.name} is missing"
    assert {"app/assets/stylecam.svg", "app/assets/stylecam.png"} <= names
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "docs/", "scripts/"))]
    assert "stylecam = main:main" in entry_points
    for requirement in ("torch==", "PySide6-Essentials==", "pyvirtualcam"):
        assert f"Requires-Dist: {requirement}" in metadata


def test_installed_stylecam_command_runs_from_the_installed_copy(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    run = pip("install", "--no-deps", "--no-index", "--target", target, wheel, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    script = target / "bin" / "stylecam"
    assert script.is_file()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(target),  # the installed copy only: run from tmp_path, not the repo
        "STYLECAM_USER_STYLES": os.environ["STYLECAM_USER_STYLES"],
        "OMP_NUM_THREADS": "1",
    }

    def stylecam(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(script), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )

    helped = stylecam("--help")
    assert helped.returncode == 0, helped.stderr
    assert "--virtual-camera" in helped.stdout and "stylize" in helped.stdout
    assert helped.stdout.startswith("usage: stylecam "), helped.stdout  # the command typed, not main.py
    benched = stylecam("bench", "--help")
    assert benched.returncode == 0 and benched.stdout.startswith("usage: stylecam bench "), benched.stderr

    listed = stylecam("styles", "--device", "cpu")
    assert listed.returncode == 0, listed.stderr
    assert "*vangogh" in listed.stdout  # the shipped default, read from the installed weights/
    assert f"shipped (read-only): {target / 'weights'}" in listed.stdout
    assert str(REPO) not in listed.stdout
