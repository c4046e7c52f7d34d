"""Make your own style in the app (issue 33): Style > New style from paintings...

`MakeStyle` is what the window holds: the menu action, the dialog (built on first use), a
status-bar line while a run goes on, a notice at start when a run was left unfinished, and
`stop` for closing. The dialog is dialog.py, the child process job.py, the photos frame_grab.py,
the background work (folder check, photo writes, preview) tasks.py.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QLabel

from app.make_style.job import unfinished_runs


class MakeStyle(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.dialog = None
        self.action = QAction("&New style from paintings...", window)
        self.action.setToolTip("Train a style of your own from a folder of paintings, in the background")
        self.action.setStatusTip(self.action.toolTip())
        self.action.triggered.connect(self.open)
        self.status = QLabel()
        self.status.hide()
        window.statusBar().addPermanentWidget(self.status)
        self._timer = QTimer(self, interval=1000, timeout=self._update_status)
        runs = unfinished_runs()
        if runs:
            window.banner.show_message(
                f"The style {runs[0].describe()}: Style > New style from paintings... resumes it."
            )
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)  # the loop can end without the window's close

    def open(self):
        if self.dialog is None:
            from app.make_style.dialog import MakeStyleDialog

            self.dialog = MakeStyleDialog(self.window.controller, self.window)
            self.dialog.addAction(self.window.act_quit)  # Ctrl+Q works with the dialog in front
            self._timer.start()
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        return self.dialog

    def _update_status(self) -> None:
        line = self.dialog.status_line() if self.dialog is not None else ""
        self.status.setText(line)
        self.status.setVisible(bool(line))

    def stop(self) -> None:
        """Stop a run (it checkpoints; resumable) and join the dialog's thread. Idempotent."""
        self._timer.stop()
        if self.dialog is not None:
            self.dialog.hide()
            self.dialog.shutdown()
