"""Starting the app: `python main.py [--source ...] [--style ...] [--size auto|N] [--precision auto|fp32|bf16|int8]
[--model auto|full|fast] [--no-stabilize] [--record FILE]`.

Checks for a display, and that Qt's X11 plugin finds its system libraries (`app.platform_check`),
before Qt is touched (Qt would abort the process), then builds the engine, library, controller
and window, applies the command-line overrides on top of the saved settings (for this run only)
and runs the event loop.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.main_window import MainWindow

HEADLESS_PLATFORMS = {"offscreen", "minimal", "minimalegl", "vnc", "eglfs", "linuxfb", "vkkhrdisplay"}


def display_problem(environ: dict[str, str] | None = None, platform: str = sys.platform) -> str | None:
    """A one-line reason the GUI cannot open here, or None when a display (or offscreen) is set."""
    env = os.environ if environ is None else environ
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if qpa in HEADLESS_PLATFORMS:
        return None
    if qpa == "xcb":
        ok = bool(env.get("DISPLAY"))
    elif qpa.startswith("wayland"):
        ok = bool(env.get("WAYLAND_DISPLAY"))
    else:
        ok = bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    if ok:
        return None
    return (
        "no display found ($DISPLAY/$WAYLAND_DISPLAY unset); stylize files with "
        "`python main.py stylize IN OUT --style NAME`, or run headless with QT_QPA_PLATFORM=offscreen"
    )


def create_window(args: argparse.Namespace | None = None) -> MainWindow:
    """Build engine, library, controller and window, and start the workers (needs a QApplication)."""
    from app.auto_size import AUTO_SIZE
    from app.controller import Controller
    from app.main_window import MainWindow
    from app.settings import AppSettings, open_settings
    from models.engine import InferenceEngine
    from models.style_library import StyleLibrary

    args = args or argparse.Namespace()
    store = open_settings()
    settings = AppSettings.load(store)
    # command-line values win for this run only; the saved ones are kept unless the user changes them
    overrides = {}
    if getattr(args, "source", None):
        overrides["source"] = (str(args.source), settings.source)
    if getattr(args, "size", None) is not None:
        size = AUTO_SIZE if args.size == "auto" else max(0, int(args.size))
        overrides["size"] = (size, settings.size)
    if getattr(args, "style", None):
        overrides["style"] = (str(args.style), settings.style)
    if getattr(args, "no_stabilize", False):
        overrides["stabilize"] = (False, settings.stabilize)
    if getattr(args, "detail", None) is not None:
        overrides["detail"] = (float(args.detail), settings.detail)
    if getattr(args, "model", None):
        overrides["model"] = (str(args.model), settings.model)
    if getattr(args, "faces", None) is not None:
        overrides["faces"] = (bool(args.faces), settings.faces)
    for key, (given, _) in overrides.items():
        setattr(settings, key, given)
    device = getattr(args, "device", None) or "auto"
    precision = getattr(args, "precision", None) or "auto"
    # fails here, with one line, if --device cuda has no GPU; says once if bf16 cannot run here
    precision_notice = InferenceEngine(device=device, precision=precision).precision_notice
    if precision_notice:
        print(f"warning: {precision_notice}", file=sys.stderr)
    library = StyleLibrary()
    stabilize = settings.stabilize  # for the first engine; the controller's knob rules the others
    controller = Controller(
        lambda: InferenceEngine(device=device, stabilize=stabilize, precision=precision, live=True),
        library,
        settings.resolution_wh,
    )
    try:
        controller.set_mirror(settings.mirror)
        window = MainWindow(controller, settings, store)
        window.session_overrides = overrides
        if precision_notice:
            window.banner.show_message(precision_notice)
        style = getattr(args, "style", None)
        if not style and settings.style in {s.name for s in controller.styles()}:
            style = settings.style  # a saved style that was since removed falls back to the default
        record = getattr(args, "record", None)
        controller.start(settings.source or "auto", style)
        if record:
            window.start_recording_to(record)
        if getattr(args, "virtual_camera", False):
            window.enable_virtual_camera(echo=lambda line: print(f"warning: {line}", file=sys.stderr))
    except BaseException:
        # whatever stopped the start (an error, Ctrl-C): the threads already started are stopped
        # and joined before the exception leaves, or Qt aborts on threads destroyed while running
        controller.shutdown()
        raise
    return window


def run_app(args: argparse.Namespace) -> int:
    """The GUI entry point used by main.py; returns the process exit code."""
    problem = display_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from app.platform_check import xcb_problem

    problem = xcb_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    if getattr(args, "size", None) not in (None, "auto"):
        from models.stylize import check_size

        check_size(args.size)  # a StyleCamError: main.py prints its one line
    from models.stylize import check_detail

    check_detail(getattr(args, "detail", None))  # one line, like --size
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.settings import APPLICATION, ORGANIZATION

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    window = create_window(args)
    try:
        window.show()
        # Ctrl+C in the terminal closes the window properly (finishing any recording); the timer
        # lets the Python interpreter run its signal handler while Qt's loop is waiting.
        signal.signal(signal.SIGINT, lambda *_: window.close())
        tick = QTimer(interval=200, timeout=lambda: None)
        tick.start()
        return app.exec()
    finally:
        # the loop can end without the window's closeEvent (app.quit(), an exception in a slot):
        # join the threads here too; after a normal close this is a no-op
        window.controller.shutdown()
