"""The check that Qt's xcb plugin can load, asked before the QApplication exists: which platforms
trigger it, the ldd parsing and the one-line message, and the real check on this machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.platform_check import (
    PACKAGES,
    describe_missing,
    find_missing,
    missing_from_ldd,
    uses_xcb,
    xcb_plugin,
    xcb_problem,
)
from tests.conftest import REPO

# `ldd libqxcb.so` on a fresh Debian 12 desktop with PySide6 in a venv (trimmed)
FRESH_DEBIAN_LDD = """\
\tlinux-vdso.so.1 (0x00007ffd2b5f1000)
\tlibQt6XcbQpa.so.6 => /home/u/stylecam/.venv/lib/python3.11/site-packages/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x1)
\tlibQt6Gui.so.6 => /home/u/stylecam/.venv/lib/python3.11/site-packages/PySide6/Qt/lib/libQt6Gui.so.6 (0x2)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x3)
\tlibxkbcommon-x11.so.0 => /lib/x86_64-linux-gnu/libxkbcommon-x11.so.0 (0x4)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x5)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-render-util.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f67dfd7d000)
"""

X11 = {"DISPLAY": ":0"}


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        (X11, "linux", True),  # Qt's default on X11
        ({**X11, "QT_QPA_PLATFORM": "xcb"}, "linux", True),
        ({**X11, "QT_QPA_PLATFORM": "offscreen"}, "linux", False),
        ({**X11, "QT_QPA_PLATFORM": "wayland"}, "linux", False),
        ({**X11, "QT_QPA_PLATFORM": "xcb;wayland"}, "linux", False),  # Qt falls back to wayland
        ({"QT_QPA_PLATFORM": "xcb"}, "linux", False),  # no display: display_problem speaks instead
        ({}, "linux", False),
        ({**X11, "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, "linux", False),
        ({**X11, "XDG_SESSION_TYPE": "x11", "WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
        (X11, "darwin", False),
        (X11, "win32", False),
    ],
)
def test_only_an_xcb_start_is_checked(environ: dict[str, str], platform: str, expected: bool) -> None:
    assert uses_xcb(environ, platform) is expected
    if not expected:  # and then ldd is never run
        assert xcb_problem(environ, platform, ldd=lambda _: pytest.fail("ldd ran")) is None


def test_ldd_output_gives_each_missing_library_once() -> None:
    assert missing_from_ldd(FRESH_DEBIAN_LDD) == [
        "libxcb-cursor.so.0",
        "libxcb-icccm.so.4",
        "libxcb-keysyms.so.1",
        "libxcb-render-util.so.0",
    ]
    assert missing_from_ldd("\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n") == []


def test_message_is_one_line_with_both_install_commands(tmp_path: Path) -> None:
    message = xcb_problem(X11, "linux", plugin=tmp_path / "libqxcb.so", ldd=lambda _: FRESH_DEBIAN_LDD)
    assert message is not None and "\n" not in message
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-keysyms.so.1, libxcb-render-util.so.0" in message
    assert (
        "`sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-render-util0` (Debian/Ubuntu)" in message
    )
    assert "`sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms xcb-util-renderutil` (Fedora)" in message
    assert message.endswith("or run headless with QT_QPA_PLATFORM=offscreen")


def test_packages_are_named_once_and_unknown_libraries_still_listed() -> None:
    # libxcb-randr and libxcb-shape are both in Fedora's libxcb: it is named once
    message = describe_missing(["libxcb-randr.so.0", "libxcb-shape.so.0", "libfoo.so.3"])
    assert "`sudo apt install libxcb-randr0 libxcb-shape0`" in message
    assert "`sudo dnf install libxcb`" in message
    assert "install the package that provides libfoo.so.3" in message
    # every library the Qt 6 xcb plugin links against has both package names
    for soname in ("libxcb-cursor.so.0", "libxkbcommon-x11.so.0", "libxcb-xinerama.so.0", "libEGL.so.1"):
        assert all(PACKAGES[soname])


def test_missing_qt_libraries_say_reinstall() -> None:
    message = describe_missing(["libQt6XcbQpa.so.6", "libxcb-icccm.so.4"])
    assert "libxcb-icccm4" in message and "PySide6's own Qt libraries are missing (libQt6XcbQpa.so.6)" in message
    assert "libQt6" not in message.split("PySide6's own")[0]  # Qt's own libraries are no system package


def no_ldd(path: Path) -> str:
    raise FileNotFoundError("ldd")


def real_plugin() -> Path:
    if not sys.platform.startswith("linux"):
        pytest.skip("the xcb plugin exists on Linux only")
    plugin = xcb_plugin()
    if plugin is None:
        pytest.skip("this PySide6 has no libqxcb.so")
    if shutil.which("ldd") is None:
        pytest.skip("ldd is not installed")
    return plugin


def loader_error(plugin: Path) -> str:
    """What the dynamic loader itself says when asked to load the plugin ('' when it loads)."""
    done = subprocess.run(
        [sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(plugin)!r})"], capture_output=True, text=True
    )
    return done.stderr.strip().splitlines()[-1] if done.returncode else ""


def test_real_check_agrees_with_the_dynamic_loader() -> None:
    """On this machine: the check fails exactly when the plugin cannot be loaded, and the library
    the loader stumbles on first is one the check names."""
    plugin = real_plugin()
    missing = find_missing(plugin)
    error = loader_error(plugin)
    if missing:
        assert error and any(name in error for name in missing), (missing, error)
    else:
        assert error == "", error


def test_real_check_on_a_copied_plugin_finds_qt_libraries_missing(tmp_path: Path) -> None:
    """A plugin copied away from PySide6 loses its $ORIGIN/../../lib: real ldd, real failure."""
    plugin = shutil.copy(real_plugin(), tmp_path / "libqxcb.so")
    missing = find_missing(Path(plugin))
    assert "libQt6XcbQpa.so.6" in missing and "libQt6Core.so.6" in missing
    message = xcb_problem(X11, "linux", plugin=Path(plugin))
    assert message is not None and "reinstall it" in message and "\n" not in message
    # without ldd the loader's own error names the first one
    assert find_missing(Path(plugin), ldd=no_ldd) == ["libQt6XcbQpa.so.6"]


def test_the_app_says_what_to_install_instead_of_aborting() -> None:
    """`python main.py` on an X display: one line and exit 1 where Qt would abort (exit 134)."""
    plugin = real_plugin()
    missing = find_missing(plugin)
    if not missing:
        pytest.skip("every library the xcb plugin needs is installed here (checked above); no X server to open")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = ":99"
    run = subprocess.run(
        [sys.executable, "main.py", "--device", "cpu"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Qt's X11 (xcb) plugin cannot load"), run.stderr
    assert all(name in lines[0] for name in missing)
    assert all(PACKAGES[name][0] in lines[0] for name in missing if name in PACKAGES)
