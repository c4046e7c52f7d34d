"""Workaround for a PySide6 6.12.0 binding bug on CPython < 3.12: every call of a method that
returns nothing (e.g. `QPainter.fillRect`, `QWidget.update`, `QLabel.setText`) hands back `None`
without taking a reference to it, so `None`'s reference count drops by one per call. A window
painting at 30 fps makes thousands of such calls a second, and after a few minutes CPython aborts
with "Fatal Python error: none_dealloc: deallocating None" (seen in `benchmarks/soak.py` at 170 s;
`True`/`False` are hit the same way by bool-returning methods).

The guard tops these counts back up from a timer on the GUI thread. It writes `ob_refcnt` (the
first field of every CPython object) directly: a count that is a few too high is harmless, since
these objects are never freed. From CPython 3.12, `None`, `True` and `False` are immortal and
the guard does nothing. Remove this module once PySide6 is fixed (check with
`sys.getrefcount(None)` before and after a loop of `QWidget().update()` calls).
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QCoreApplication, QTimer

FLOOR = 1 << 22  # top up when a count falls below ~4 M (hours of painting from zero)
TARGET = 1 << 23
_GUARDED = (None, True, False)


def top_up() -> None:
    """Raise the reference counts of None/True/False back to TARGET if they fell below FLOOR."""
    for obj in _GUARDED:
        count = sys.getrefcount(obj)
        if count < FLOOR:
            ctypes.c_ssize_t.from_address(id(obj)).value += TARGET - count


def install(interval_ms: int = 500) -> None:
    """Start the guard on the running QApplication (idempotent; no-op on CPython >= 3.12)."""
    if sys.version_info >= (3, 12):
        return
    app = QCoreApplication.instance()
    if app is None or app.property("stylecam_refcount_guard"):
        return
    top_up()
    timer = QTimer(app, interval=interval_ms, timeout=top_up)
    timer.start()
    app.setProperty("stylecam_refcount_guard", True)
