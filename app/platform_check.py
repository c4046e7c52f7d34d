"""Can Qt's X11 (xcb) platform plugin load here? Asked before the QApplication exists.

PySide6 wheels bundle Qt but not the X11 helper libraries its xcb plugin links against. On a
fresh Debian/Ubuntu desktop several are missing, and Qt then aborts the process (exit 134) with
"Could not load the Qt platform plugin "xcb"" and no word of which. `xcb_problem()` runs `ldd` on
the bundled plugin (`PySide6/Qt/plugins/platforms/libqxcb.so`, which pulls in
`libQt6XcbQpa.so.6`) and turns every "not found" library into one line naming the packages to
install. Checked only on Linux, only when Qt will use xcb (QT_QPA_PLATFORM unset or "xcb", on
an X11 display, not a Wayland session) and only when a display is set at all.

The system packages the xcb plugin needs (all of them, whichever are missing):

    Debian/Ubuntu: sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
        libxcb-render-util0 libxcb-util1 libxkbcommon-x11-0 libxkbcommon0 libxcb-randr0
        libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxcb-shm0 libxcb-sync1 libxcb-render0
        libxcb1 libx11-xcb1 libx11-6 libegl1 libgl1 libfontconfig1 libfreetype6 libdbus-1-3
        libglib2.0-0
    Fedora:        sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms xcb-util-image
        xcb-util-renderutil xcb-util libxkbcommon-x11 libxkbcommon libxcb libX11-xcb libX11
        libglvnd-egl libglvnd-glx fontconfig freetype dbus-libs glib2
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

# soname -> (Debian/Ubuntu package, Fedora package)
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-ewmh.so.2": ("libxcb-ewmh2", "xcb-util-wm"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libXau.so.6": ("libxau6", "libXau"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp"),
    "libSM.so.6": ("libsm6", "libSM"),
    "libICE.so.6": ("libice6", "libICE"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libpng16.so.16": ("libpng16-16", "libpng"),
    "libz.so.1": ("zlib1g", "zlib"),
    "libzstd.so.1": ("libzstd1", "libzstd"),
    "libexpat.so.1": ("libexpat1", "expat"),
    "libbrotlidec.so.1": ("libbrotli1", "libbrotli"),
}

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)
_CANNOT_OPEN = re.compile(r"(\S+\.so[.\d]*): cannot open shared object file")


def uses_xcb(environ: Mapping[str, str] | None = None, platform: str = sys.platform) -> bool:
    """True when a QApplication created now would need the xcb plugin (and could reach X)."""
    env = os.environ if environ is None else environ
    if not platform.startswith("linux") or not env.get("DISPLAY"):
        return False
    requested = [p.split(":")[0].strip() for p in env.get("QT_QPA_PLATFORM", "").split(";") if p.strip()]
    if requested:
        return requested == ["xcb"]  # a list with a fallback ("xcb;wayland") survives a broken xcb
    # Qt's default: a Wayland session goes to the wayland plugin (xcb only as its fallback)
    wayland_session = "wayland" in env.get("XDG_SESSION_TYPE", "").lower() and env.get("WAYLAND_DISPLAY")
    return not wayland_session


def xcb_plugin() -> Path | None:
    """PySide6's bundled `libqxcb.so`, found without importing PySide6 (None if absent)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    plugin = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def run_ldd(path: Path) -> str:
    """`ldd PATH` output (the dynamic loader's own resolution, every dependency at once)."""
    done = subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=30, check=False)
    return done.stdout + done.stderr


def missing_from_ldd(output: str) -> list[str]:
    """The sonames `ldd` reports as "not found", in order, each once."""
    return list(dict.fromkeys(_NOT_FOUND.findall(output)))


def missing_by_loading(path: Path) -> list[str]:
    """Without `ldd`: load the plugin; the loader names the first library it could not find."""
    try:
        ctypes.CDLL(str(path))
    except OSError as err:
        found = _CANNOT_OPEN.search(str(err))
        return [found.group(1)] if found else [str(err).split(":")[0]]
    return []


def find_missing(plugin: Path, ldd: Callable[[Path], str] = run_ldd) -> list[str]:
    """Sonames the plugin needs that this system cannot provide."""
    try:
        return missing_from_ldd(ldd(plugin))
    except (OSError, subprocess.SubprocessError):  # no ldd (very minimal systems): ask the loader
        return missing_by_loading(plugin)


def describe_missing(missing: list[str]) -> str:
    """One line: what is missing and the commands that install it."""
    qt_own = [name for name in missing if name.startswith("libQt6")]
    system = [name for name in missing if not name.startswith("libQt6")]
    parts = []
    if system:
        debian = dict.fromkeys(PACKAGES[name][0] for name in system if name in PACKAGES)
        fedora = dict.fromkeys(PACKAGES[name][1] for name in system if name in PACKAGES)
        unknown = [name for name in system if name not in PACKAGES]
        line = f"Qt's X11 (xcb) plugin cannot load: system libraries missing: {', '.join(system)}"
        if debian:
            line += (
                f"; install them with `sudo apt install {' '.join(debian)}` (Debian/Ubuntu)"
                f" or `sudo dnf install {' '.join(fedora)}` (Fedora)"
            )
        if unknown:
            line += f"; install the package that provides {', '.join(unknown)}"
        parts.append(line)
    if qt_own:
        parts.append(
            f"PySide6's own Qt libraries are missing ({', '.join(qt_own)}): reinstall it "
            "(delete .venv and run `bash scripts/run.sh`)"
        )
    return "; ".join(parts) + "; or run headless with QT_QPA_PLATFORM=offscreen"


def xcb_problem(
    environ: Mapping[str, str] | None = None,
    platform: str = sys.platform,
    plugin: Path | None = None,
    ldd: Callable[[Path], str] = run_ldd,
) -> str | None:
    """A one-line reason Qt's xcb plugin would abort the app here, or None (also when not xcb)."""
    if not uses_xcb(environ, platform):
        return None
    plugin = plugin or xcb_plugin()
    if plugin is None:
        return None  # an unusual PySide6 layout: let Qt speak for itself
    missing = find_missing(plugin, ldd)
    return describe_missing(missing) if missing else None
