"""Every early exit of the app stops and joins the threads it started: a start cut short by an
error, an event loop that ends without the window's close, a damaged user library (which must not
stop the start at all). Qt aborts with "QThread: Destroyed while thread ... is still running"
when a process ends with a started thread; these runs check that it never says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.style_library import SHIPPED_ROOT
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # each starts the real app in a subprocess: a few seconds

PRELUDE = """
import argparse, atexit, gc, sys
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])


def still_running():
    return sorted(t.objectName() for t in gc.get_objects() if isinstance(t, QThread) and t.isRunning())


atexit.register(lambda: print("running at exit:", still_running()))
"""


def run_script(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "STYLECAM_WEIGHTS"}
    env |= {"QT_QPA_PLATFORM": "offscreen", "STYLECAM_SETTINGS": str(tmp_path / "settings.ini")}
    env |= {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", PRELUDE + code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )


def assert_joined(run: subprocess.CompletedProcess) -> None:
    assert "QThread: Destroyed" not in run.stderr, run.stderr[-3000:]
    assert "running at exit: []" in run.stdout, run.stdout[-3000:]
    assert run.returncode == 0, run.stderr[-3000:]


def test_a_start_cut_short_joins_the_threads_already_started(tmp_path: Path) -> None:
    """`--record` given a value that is no path fails in create_window after the threads started."""
    code = """
from app.launch import create_window
args = argparse.Namespace(source="demo", size=64, device="cpu", style=None, record=42, virtual_camera=True)
try:
    create_window(args)
except TypeError as err:
    print("start failed:", err)
"""
    run = run_script(code, tmp_path)
    assert_joined(run)
    assert "start failed" in run.stdout


def test_an_event_loop_ended_without_closing_the_window_joins_the_threads(tmp_path: Path) -> None:
    code = """
from PySide6.QtCore import QTimer
from app.launch import run_app
QTimer.singleShot(1500, lambda: app.exit(3))  # the loop ends; the window's closeEvent never runs
args = argparse.Namespace(source="demo", size=64, device="cpu", style=None, record=None, virtual_camera=True)
print("exit", run_app(args))
"""
    run = run_script(code, tmp_path)
    assert_joined(run)
    assert "exit 3" in run.stdout


@pytest.mark.skipif(not (SHIPPED_ROOT / "manifest.json").is_file(), reason="needs the shipped styles")
def test_the_app_starts_with_a_damaged_user_manifest(tmp_path: Path, user_styles: Path) -> None:
    (user_styles / "manifest.json").write_text('{"styles": {"mine": ')
    code = """
from PySide6.QtCore import QTimer
from app.launch import create_window
args = argparse.Namespace(source="demo", size=64, device="cpu", style=None, record=None)
window = create_window(args)
window.show()
print("styles:", ",".join(s.name for s in window.controller.styles()))
print("banner:", window.controller.style_problems)
QTimer.singleShot(1000, window.close)
app.exec()
"""
    run = run_script(code, tmp_path)
    assert_joined(run)
    assert "styles: vangogh,monet,ukiyoe" in run.stdout
    assert "manifest.json is not valid JSON" in run.stdout  # what the window's banner shows
    (aside,) = user_styles.glob("manifest.json.broken-*")
    assert aside.read_text() == '{"styles": {"mine": '  # the user's file kept, byte for byte
