"""Fixtures for the app tests: a temporary style library with two tiny untrained styles, settings
in a temporary INI file (never the user's), and a factory for the real main window."""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from models.style_library import StyleLibrary
from tests.conftest import VIDEOS

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

FRAME_TIMEOUT_MS = 15_000  # generous: the CI machine's 2 cores are shared


@pytest.fixture
def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings go to a temporary INI file: tests never touch the user's own settings."""
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("STYLECAM_SETTINGS", str(path))
    return path


@pytest.fixture
def styles(library: StyleLibrary, settings_file: Path) -> StyleLibrary:
    """The shared two-style library ('alpha' default, 'beta') plus isolated settings."""
    return library


@pytest.fixture
def empty_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings_file: Path) -> Path:
    root = tmp_path / "empty-weights"
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(root))
    return root


@pytest.fixture
def clip() -> Path:
    path = VIDEOS / "book.mkv"
    if not path.is_file():
        pytest.skip(f"shared test videos not found at {VIDEOS} (needs ../shared/data/videos)")
    return path


@pytest.fixture
def make_window(qtbot, tmp_path: Path) -> Callable:
    """Builds the real window (as `python main.py ...` would), shows it, closes it at teardown."""
    from app.launch import create_window

    windows = []

    def make(
        source: str = "demo",
        style: str | None = None,
        size: int = 128,
        record: Path | None = None,
        no_stabilize: bool = False,
        **options: object,  # more command-line values: detail=0.5, faces=False, ...
    ):
        args = argparse.Namespace(
            source=source, style=style, size=size, record=record, device="cpu", no_stabilize=no_stabilize, **options
        )
        window = create_window(args)
        window.settings.output_dir = str(tmp_path / "out")
        window.settings.snapshot_dir = str(tmp_path / "out")
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()  # idempotent: joins the threads if a test did not


def wait_frames(qtbot, window, count: int, timeout: int = FRAME_TIMEOUT_MS) -> None:
    target = window.frames_shown + count
    qtbot.waitUntil(lambda: window.frames_shown >= target, timeout=timeout)


def wait_style(qtbot, window, name: str, timeout: int = FRAME_TIMEOUT_MS) -> None:
    qtbot.waitUntil(lambda: window.controller.engine.style_name == name, timeout=timeout)


def python_threads() -> set[threading.Thread]:
    # QThreads that ran Python code show up as _DummyThread entries that Python never removes;
    # real leaks are non-dummy threads (and the QThreads themselves, checked with isFinished()).
    return {t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}
