"""Style > New style from paintings...: the dialog that makes a style from a folder of paintings.

The user picks the paintings (checked at once, on the task thread), a name, a time budget, the
photos (taken from the live view, and/or a folder of their own) and the style to start from;
Start takes the photos (30 s, with a countdown) and then runs `main.py make-style` in its own
process at lower priority (job.py). While it trains the dialog shows the progress, the time left
and a preview: the current camera frame through the run's newest checkpoint, stylized on the
task thread each time the checkpoint changes. At the end it says in plain words how the style
did and the style is in the Style menu. Closing the dialog hides it; the run goes on, and the
status bar shows it. A run stopped (Cancel, Ctrl+Q, a crash) is offered for resuming.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.make_style.frame_grab import PROMPT, FrameGrabber
from app.make_style.job import (
    FRAMES_DIR,
    MakeStyleJob,
    RunInfo,
    build_argv,
    discard_run,
    finished_before,
    forget_start,
    run_dir,
    unfinished_runs,
)
from app.make_style.tasks import MIN_PAINTINGS, FolderCheck, Preview, TaskThread, check_folder
from models.frames import resize
from models.style_library import usable_style_name

MINUTES = ((10, "10 minutes"), (30, "30 minutes"), (60, "1 hour"), (120, "2 hours"), (240, "4 hours"))
DEFAULT_MINUTES = 30
PHASES = {
    "checking": "Checking the paintings",
    "photos": "Preparing the photos",
    "train": "Training",
    "refit": "Matching the colours",
    "evaluate": "Judging the new style",
    "export": "Adding it to your styles",
    "done": "Done",
    "stopped": "Stopped",
    "failed": "Failed",
}
ERROR_STYLE, NOTE_STYLE = "color: #c0392b;", "color: palette(mid);"


def time_left(seconds: float | None) -> str:
    if seconds is None:
        return "estimating the time left"
    minutes = max(0, round(float(seconds) / 60))
    if minutes >= 90:
        return f"about {minutes / 60:.1f} hours left"
    return "less than a minute left" if minutes < 1 else f"about {minutes} min left"


def plain_result(result: dict) -> str:
    """progress.json's result in the words the user reads."""
    if result.get("summary"):
        text = str(result["summary"])
    else:
        beats = "yes" if result.get("beats_colour_transfer") else "no"
        faces = result.get("faces")
        faces = "not measured" if faces is None else f"{float(faces):.2f}"
        text = f"closer to your paintings than a colour transfer: {beats}; faces kept: {faces}"
    return text[:1].upper() + text[1:]


def to_pixmap(bgr: np.ndarray) -> QPixmap:
    h, w = bgr.shape[:2]
    image = QImage(bgr.data, w, h, bgr.strides[0], QImage.Format.Format_BGR888)
    return QPixmap.fromImage(image.copy())  # owned pixels: the array may go


def side_by_side(original: np.ndarray, stylized: np.ndarray, height: int = 240) -> np.ndarray:
    h, w = original.shape[:2]
    width = max(1, round(w * height / h))
    return np.ascontiguousarray(np.hstack([resize(original, height, width), resize(stylized, height, width)]))


class MakeStyleDialog(QDialog):
    """The dialog; it owns the job, the photo grabber and the task thread (`shutdown` stops all)."""

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle("New style from paintings")
        self.setModal(False)
        self.tasks = TaskThread()
        self.tasks.done.connect(self._on_task_done)
        self.job = MakeStyleJob(self)
        self.job.progress.connect(self._on_progress)
        self.job.finished.connect(self._on_finished)
        self.grabber = FrameGrabber(controller.frame_ready, self.tasks, shown=controller.last_frame)
        self.grabber.tick.connect(self._on_grab_tick)
        self.grabber.finished.connect(self._on_grab_finished)
        self.extra_args: list[str] = []  # more command-line options (tests: a tiny run)
        self.check: FolderCheck | None = None
        self.result: dict | None = None
        self.name = ""
        self._preview = Preview()
        self._preview_step: int | None = None  # the checkpoint step shown (or being computed)
        self._preview_busy = False
        self._pending_argv: list[str] | None = None
        self._resume_info: RunInfo | None = None
        self._build()
        self._set_state("idle")

    # -- building ----------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        # an unfinished run from before (the app was closed, or the run stopped)
        self.resume_box = QFrame()
        self.resume_box.setFrameShape(QFrame.Shape.StyledPanel)
        row = QHBoxLayout(self.resume_box)
        self.resume_label = QLabel()
        self.resume_label.setWordWrap(True)
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(self.resume)
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Delete that run's folder (its checkpoints and photos)")
        self.discard_button.clicked.connect(self.discard)
        row.addWidget(self.resume_label, 1)
        row.addWidget(self.resume_button)
        row.addWidget(self.discard_button)
        layout.addWidget(self.resume_box)

        self.form = QWidget()
        form = QFormLayout(self.form)
        self.paintings = QLineEdit()
        self.paintings.setPlaceholderText(f"a folder with at least {MIN_PAINTINGS} paintings")
        self.paintings.editingFinished.connect(lambda: self.check_paintings(self.paintings.text()))
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse_paintings)
        form.addRow("Paintings", self._row(self.paintings, browse))
        self.paintings_line = QLabel()
        self.paintings_line.setWordWrap(True)
        form.addRow("", self.paintings_line)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("letters, digits, - _ .")
        form.addRow("Name", self.name_edit)
        self.minutes = QComboBox()
        for minutes, label in MINUTES:
            self.minutes.addItem(label, minutes)
        self.minutes.setCurrentIndex([m for m, _ in MINUTES].index(DEFAULT_MINUTES))
        self.minutes.setToolTip("Training time; longer is closer to the paintings")
        form.addRow("Time", self.minutes)
        self.take_photos = QCheckBox(f"Take photos from the live view now (30 s: {PROMPT.lower()})")
        self.take_photos.setChecked(True)
        form.addRow("Photos", self.take_photos)
        self.own_photos = QLineEdit()
        self.own_photos.setPlaceholderText("optional: a folder of your own photos")
        browse_photos = QPushButton("Browse...")
        browse_photos.clicked.connect(self._browse_photos)
        form.addRow("", self._row(self.own_photos, browse_photos))
        self.base = QComboBox()
        self.base.addItem("Auto (the style nearest the paintings' colours)", "auto")
        for style in self.controller.styles():
            self.base.addItem(style.display_name, style.name)
        self.base.setToolTip("The style the new one starts from")
        form.addRow("Start from", self.base)
        layout.addWidget(self.form)

        cores = os.cpu_count() or 1
        self.load_note = QLabel(
            "Training runs in its own process at low priority"
            + (
                f"; on this {cores}-core machine the live view may run at a lower rate until it is done."
                if cores <= 4
                else "; the live view may run at a lower rate meanwhile."
            )
        )
        self.load_note.setWordWrap(True)
        self.load_note.setStyleSheet(NOTE_STYLE)
        layout.addWidget(self.load_note)

        self.countdown = QLabel()
        self.countdown.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.countdown.setStyleSheet("font-size: 16pt; font-weight: bold;")
        layout.addWidget(self.countdown)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        layout.addWidget(self.progress)
        self.message = QLabel()
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumHeight(120)
        layout.addWidget(self.preview)
        self.preview_caption = QLabel()
        self.preview_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_caption.setStyleSheet(NOTE_STYLE)
        layout.addWidget(self.preview_caption)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setStyleSheet("font-weight: bold;")
        layout.addWidget(self.result_label)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.setToolTip("Stop; the run can be resumed later")
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button = QPushButton("Use this style")
        self.use_button.clicked.connect(self.use_style)
        close = QPushButton("Close")
        close.setToolTip("Hide this window; a run goes on in the background")
        close.clicked.connect(self.hide)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.use_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.resize(640, 560)

    @staticmethod
    def _row(*widgets: QWidget) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        for i, widget in enumerate(widgets):
            row.addWidget(widget, 1 if i == 0 else 0)
        return box

    def _browse_paintings(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of paintings", self.paintings.text())
        if folder:
            self.paintings.setText(folder)
            self.check_paintings(folder)
            if not self.name_edit.text():
                self.name_edit.setText(usable_style_name(Path(folder).name))

    def _browse_photos(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of your photos", self.own_photos.text())
        if folder:
            self.own_photos.setText(folder)

    # -- states ------------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        """idle | capturing | running | ended (stopped, failed or done)."""
        self.state = state
        busy = state in ("capturing", "running")
        self.form.setEnabled(not busy)
        self.start_button.setEnabled(not busy)
        self.cancel_button.setVisible(busy)
        self.cancel_button.setText("Cancel photos" if state == "capturing" else "Cancel training")
        self.countdown.setVisible(state == "capturing")
        self.progress.setVisible(state in ("running", "ended") and self.job.run is not None)
        self.use_button.setVisible(self.result is not None)
        self.load_note.setVisible(state != "ended" or self.result is None)
        self._refresh_resume_box()

    def _refresh_resume_box(self) -> None:
        info = None
        if self.state in ("idle", "ended") and not self.job.running:
            runs = [r for r in unfinished_runs() if r.folder != self.job.run or self.state == "ended"]
            info = runs[0] if runs else None
        self._resume_info = info
        self.resume_box.setVisible(info is not None)
        if info is not None:
            self.resume_label.setText(f"The style {info.describe()}. Resume goes on from its last checkpoint.")

    def showEvent(self, event) -> None:
        if self.state in ("idle", "ended"):
            self._refresh_resume_box()
        super().showEvent(event)

    # -- the paintings folder ------------------------------------------------------------------
    def check_paintings(self, text: str) -> None:
        """Count the readable paintings on the task thread; one line says how it went."""
        text = text.strip()
        self.check = None
        if not text:
            self.paintings_line.setText("")
            return
        folder = Path(text).expanduser()
        self.paintings_line.setStyleSheet(NOTE_STYLE)
        self.paintings_line.setText("checking the folder...")
        self.tasks.submit("check", lambda: check_folder(folder))

    def _show_check(self, check: FolderCheck) -> None:
        if str(check.folder) != str(Path(self.paintings.text().strip()).expanduser()):
            return  # the folder changed while it was checked
        self.check = check
        self.paintings_line.setStyleSheet("" if check.ok else ERROR_STYLE)
        self.paintings_line.setText(check.line())

    # -- starting --------------------------------------------------------------------------------
    def problem(self) -> str | None:
        """What stops Start, in one line (None when it can start)."""
        if self.check is None:
            return (
                "choose a folder of paintings first (it is being checked)"
                if self.paintings.text()
                else ("choose a folder of paintings")
            )
        if not self.check.ok:
            return self.check.line()
        name = self.name_edit.text().strip()
        if not name or usable_style_name(name) != name:
            return "give the style a name: letters, digits, - _ . (starting with a letter or digit)"
        if name in {s.name for s in self.controller.styles()}:
            return f"a style named {name} exists already; choose another name"
        if any(r.name == name for r in unfinished_runs()):
            return f"an unfinished run named {name} exists: resume it or discard it above"
        own = self.own_photos.text().strip()
        if own and not Path(own).expanduser().is_dir():
            return f"{own} is not a folder"
        if not self.take_photos.isChecked() and not own:
            return "take photos from the live view, or choose a folder of your photos"
        if self.take_photos.isChecked() and self.grabber.latest is None:
            return "no live picture yet to take photos from"
        return None

    def start(self) -> None:
        problem = self.problem()
        if problem:
            self._say(problem, error=True)
            return
        self.name = self.name_edit.text().strip()
        run = run_dir(self.name)
        photos = [run / FRAMES_DIR] if self.take_photos.isChecked() else []
        own = self.own_photos.text().strip()
        if own:
            photos.append(Path(own).expanduser())
        argv = build_argv(
            Path(self.paintings.text().strip()).expanduser(),
            self.name,
            run,
            int(self.minutes.currentData()),
            photos,
            str(self.base.currentData()),
        )
        if finished_before(run):
            argv.append("--replace")  # that run's style was removed from the library: make it again
        argv += self.extra_args
        self.result, self.job.run = None, None
        self.result_label.setText("")
        self._preview_step = None
        self.preview.clear()
        self.preview_caption.setText("")
        if self.take_photos.isChecked():
            self._pending_argv = argv
            self._set_state("capturing")
            self._say("Taking photos from the live view...")
            self.grabber.start(run / FRAMES_DIR)
        else:
            self._launch(run, argv)

    def _on_grab_tick(self, seconds_left: float, taken: int) -> None:
        self.countdown.setText(f"{PROMPT}: {seconds_left:.0f} s")
        self._say(f"{taken} photos taken")

    def _on_grab_finished(self, taken: int) -> None:
        # photos still being written are ahead of this in the task queue
        self.tasks.submit("photos written", lambda: taken)

    def _launch(self, run: Path, argv: list[str]) -> None:
        self._set_state("running")
        self.progress.setValue(0)
        self.progress.setFormat("starting...")
        self._say("Starting the training process...")
        self.job.start(run, argv)
        self._set_state("running")

    def resume(self) -> None:
        info = self._resume_info
        if info is None or self.job.running:
            return
        self.name, self.result = info.name, None
        self.result_label.setText("")
        self._preview_step = None
        self._launch(info.folder, info.argv)

    def discard(self) -> None:
        info = self._resume_info
        if info is not None and not self.job.running:
            discard_run(info)
            self._refresh_resume_box()

    def cancel(self) -> None:
        if self.state == "capturing":
            self.grabber.stop()
            self._pending_argv = None
            self._set_state("idle")
            self._say("Photos cancelled; nothing was started.")
        elif self.job.running:
            self._say("Stopping: saving a checkpoint...")
            self.cancel_button.setEnabled(False)
            self.job.cancel()

    # -- progress --------------------------------------------------------------------------------
    def _on_progress(self, data: dict) -> None:
        fraction = min(1.0, max(0.0, float(data.get("fraction") or 0.0)))
        phase = str(data.get("phase") or "")
        self.progress.setValue(round(fraction * 1000))
        if phase in ("done", "stopped", "failed"):
            self.progress.setFormat(f"{PHASES[phase]}: %p%")
        else:
            self.progress.setFormat(f"%p%, {time_left(data.get('seconds_left'))}")
        step, steps = data.get("step"), data.get("steps")
        steps_text = f" (step {step} of {steps})" if step and steps else ""
        if "step" in str(data.get("message") or ""):
            steps_text = ""  # the command's own line says it already
        message = str(data.get("message") or "")
        message = message[:1].upper() + message[1:] + steps_text if message else PHASES.get(phase, phase) + steps_text
        self._say(message)
        preview, preview_step = data.get("preview"), data.get("preview_step")
        if preview and preview_step is not None and preview_step != self._preview_step:
            self._request_preview(Path(preview), int(preview_step))
        if phase == "done" and isinstance(data.get("result"), dict):
            self._done(data["result"])

    def _request_preview(self, weights: Path, step: int) -> None:
        frame = self.grabber.latest
        if frame is None or self._preview_busy or not weights.is_file():
            return
        self._preview_step, self._preview_busy = step, True
        preview = self._preview

        def work() -> tuple[int, np.ndarray]:
            return step, side_by_side(frame, preview(weights, step, frame))

        self.tasks.submit("preview", work)

    def _on_task_done(self, tag: str, result: object, error: str) -> None:
        if tag == "check":
            if isinstance(result, FolderCheck):
                self._show_check(result)
            elif error:
                self.paintings_line.setStyleSheet(ERROR_STYLE)
                self.paintings_line.setText(f"could not read the folder: {error}")
        elif tag == "photo" and error:
            self._say(f"a photo could not be saved: {error}", error=True)
        elif tag == "photos written":
            argv, self._pending_argv = self._pending_argv, None
            if argv is not None and self.state == "capturing":
                if not result:
                    self._set_state("idle")
                    self._say("no photos could be taken from the live view", error=True)
                    return
                self._launch(run_dir(self.name), argv)
        elif tag == "preview":
            self._preview_busy = False
            if error:
                self.preview_caption.setText(f"no preview this time ({error})")
                self._preview_step = None
            elif isinstance(result, tuple):
                step, image = result
                self.preview.setPixmap(to_pixmap(image))
                self.preview_caption.setText(f"Your camera now | through the newest checkpoint (step {step})")

    def _done(self, result: dict) -> None:
        if self.result is not None:
            return
        self.result = result
        self.result_label.setText(plain_result(result))
        self.controller.refresh_styles()  # the window rebuilds the Style menu from it
        self.use_button.setVisible(True)

    def _on_finished(self, rc: int, error: str) -> None:
        self.cancel_button.setEnabled(True)
        last = self.job.last or {}
        if rc == 0 and last.get("phase") == "done":
            if isinstance(last.get("result"), dict):
                self._done(last["result"])
            self._say(f"Done: {self.name} is in the Style menu.")
        elif rc == 0:
            self._say(str(last.get("message") or "The run had finished already."))
            if isinstance(last.get("result"), dict):
                self._done(last["result"])
        elif rc == 130:
            self._say("Stopped. Resume goes on from the last checkpoint.")
        elif error:
            if self.job.run is not None:
                forget_start(self.job.run)
            self._say(error[len("error:") :].strip() if error.startswith("error:") else error, error=True)
        else:
            self._say(
                f"The training process ended unexpectedly (exit code {rc}); Resume goes on from its last checkpoint.",
                error=True,
            )
        self._set_state("ended")

    def use_style(self) -> None:
        if self.result and self.result.get("style"):
            self.controller.set_style(str(self.result["style"]))

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.message.setText(text)

    # -- status for the window ----------------------------------------------------------------
    def status_line(self) -> str:
        """A short line for the window's status bar while a run goes on ('' when none)."""
        if self.state == "capturing":
            return f"new style {self.name}: taking photos"
        if not self.job.running:
            return ""
        data = self.job.last or {}
        fraction = float(data.get("fraction") or 0.0)
        return f"making style {self.name}: {fraction:.0%}, {time_left(data.get('seconds_left'))} (live view may slow)"

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop the photos, the training process (it checkpoints) and the task thread; join all."""
        self.grabber.stop()
        self._pending_argv = None
        if self.job.running:
            self.job.stop(timeout)
        self.tasks.stop()
