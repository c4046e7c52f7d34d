"""Nothing leaves the machine: stylizing and training make no network call, and write nothing
to HOME outside StyleCam's own folders (OpenVINO's telemetry stays off: models/openvino_runtime.py).

Each command runs in a subprocess with a fresh HOME and a `sitecustomize` on PYTHONPATH that
records every name lookup and every socket connect (in that process and in any Python process it
starts) to a file; the test reads the file back.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import REPO

# sitecustomize runs before the program in every Python process started with this PYTHONPATH
RECORDER = """
import os, socket

_LOG = os.environ["STYLECAM_NET_LOG"]


def _record(what, detail):
    with open(_LOG, "a") as f:
        f.write(f"{os.getpid()} {what} {detail!r}\\n")


def _wrap(owner, name):
    original = getattr(owner, name)

    def recorded(*args, **kwargs):
        _record(name, args[:2])
        return original(*args, **kwargs)

    setattr(owner, name, recorded)


for _name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "create_connection"):
    _wrap(socket, _name)


class _RecordingSocket(socket.socket):
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _record("connect", address)
        return super().connect(address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _record("connect_ex", address)
        return super().connect_ex(address)

    def sendto(self, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _record("sendto", args[-1])
        return super().sendto(*args)


socket.socket = _RecordingSocket
"""

# StyleCam's own folders under HOME (the user style library on Linux); anything else is a leak
OWN = (".local/share/stylecam",)


def _environment(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    home, hook, log = tmp_path / "home", tmp_path / "hook", tmp_path / "net.log"
    home.mkdir()
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(RECORDER)
    drop = ("STYLECAM_WEIGHTS", "STYLECAM_USER_STYLES", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("CI")}
    env |= {"HOME": str(home), "PYTHONPATH": f"{hook}{os.pathsep}{REPO}", "STYLECAM_NET_LOG": str(log)}
    env |= {"OMP_NUM_THREADS": "1"}
    return env, home, log


def _has_openvino(env: dict[str, str]) -> bool:
    code = "from models.backends import openvino_available; print(openvino_available())"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    return run.stdout.strip() == "True"


def _check(home: Path, log: Path) -> None:
    calls = log.read_text() if log.exists() else ""
    assert calls == "", f"network calls:\n{calls}"
    stray = [
        str(p.relative_to(home))
        for p in home.rglob("*")
        if p.is_file() and not any(str(p.relative_to(home)).startswith(own + "/") for own in OWN)
    ]
    assert stray == [], f"written to HOME outside StyleCam's folders: {stray}"


def test_recorder_sees_a_lookup(tmp_path: Path) -> None:
    """The hook itself works: a lookup of localhost is recorded (no network needed for it)."""
    env, _, log = _environment(tmp_path)
    code = "import socket; socket.getaddrinfo('localhost', 80)"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, timeout=60)
    assert "getaddrinfo" in log.read_text()


def test_openvino_unblocked_would_write_home(tmp_path: Path) -> None:
    """What the block prevents: a plain `import openvino` writes a client ID under ~/intel."""
    pytest.importorskip("openvino_telemetry")
    env, home, _ = _environment(tmp_path)
    subprocess.run([sys.executable, "-c", "import openvino"], cwd=tmp_path, env=env, check=True, timeout=120)
    assert (home / "intel" / "openvino_ga_cid").is_file()


def test_stylize_makes_no_network_call_and_writes_nothing_home(tmp_path: Path) -> None:
    env, home, log = _environment(tmp_path)
    image = tmp_path / "in.png"
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 256, (72, 96, 3), dtype=np.uint8))
    out = tmp_path / "out.png"
    cmd = [sys.executable, str(REPO / "main.py"), "stylize", str(image), str(out), "--size", "64", "--device", "cpu"]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert out.is_file()
    assert "OpenVINO" in run.stdout + run.stderr or not _has_openvino(env), run.stdout
    _check(home, log)


@pytest.mark.slow
def test_training_makes_no_network_call_and_writes_nothing_home(tmp_path: Path) -> None:
    from tests.train.conftest import write_domain

    env, home, log = _environment(tmp_path)
    data = tmp_path / "data"
    write_domain(data / "trainA", channel=2, count=4)
    write_domain(data / "trainB", channel=0, count=4)
    write_domain(data / "testA", channel=2, count=2, size=48, seed=5)
    write_domain(data / "testB", channel=0, count=2, size=48, seed=5)
    cmd = [
        sys.executable, "-m", "train", "--dataroot", str(data), "--out", str(tmp_path / "run"), "--name", "tiny",
        "--generator", "lite", "--ngf", "8", "--n-blocks", "1", "--ndf", "8", "--load-size", "36",
        "--crop-size", "32", "--max-steps", "2", "--pool-size", "2", "--device", "cpu", "--threads", "1",
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    # the export went to the user library, StyleCam's own folder
    assert (home / ".local/share/stylecam/styles/manifest.json").is_file(), run.stdout[-2000:]
    _check(home, log)
