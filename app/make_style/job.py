"""The make-style run as a child process: start it at lower priority, poll its progress.json,
stop it (SIGTERM, then wait), and find the unfinished runs a later start can resume.

The command is `python main.py make-style ...` (the contract in /work/coord and `main.py
make-style --help`). Its run folder is RUN = <user data>/make_style/<NAME>; the app writes three
things of its own there: RUN/frames/ (the photos taken from the live view), RUN/app_job.json
(the command line, so a resume after the app was closed runs the same one) and RUN/app.log (the
command's output, whose "error: ..." line the dialog shows). Nothing here blocks: the file is a
few hundred bytes, read on a timer on the GUI thread; `stop` waits for the child only at close.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from models.style_library import make_style_runs_root

MAIN_PY = Path(__file__).resolve().parents[2] / "main.py"
JOB_FILE, LOG_FILE, PROGRESS_FILE, FRAMES_DIR = "app_job.json", "app.log", "progress.json", "frames"
STOPPED_RC = 130  # the command's exit code after SIGTERM / SIGINT: checkpointed, resumable
NICE = 10
BELOW_NORMAL_PRIORITY_CLASS = 0x00004000  # Windows


def command_prefix() -> list[str]:
    """How the make-style command is started (tests replace this with a small stand-in)."""
    if MAIN_PY.is_file():
        return [sys.executable, str(MAIN_PY), "make-style"]
    return [sys.executable, "-m", "main", "make-style"]  # an installed app: main.py is a top-level module


def run_dir(name: str) -> Path:
    return make_style_runs_root() / name


def read_progress(run: Path) -> dict | None:
    """RUN/progress.json, or None while it is missing or half-read (it is replaced atomically)."""
    try:
        data = json.loads((run / PROGRESS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass
class RunInfo:
    """A run folder the app started, as a later start of the app finds it."""

    name: str
    folder: Path
    argv: list[str]
    progress: dict | None

    @property
    def phase(self) -> str:
        return (self.progress or {}).get("phase") or "not started"

    @property
    def unfinished(self) -> bool:
        """Anything but done: stopped, killed, or failed mid-run (a full disk: the command keeps
        its last checkpoint and goes on when run again)."""
        return self.phase != "done"

    def describe(self) -> str:
        fraction = float((self.progress or {}).get("fraction") or 0.0)
        return f"'{self.name}' stopped at {fraction:.0%} ({self.phase})"


def find_runs() -> list[RunInfo]:
    """The runs the app started (those with RUN/app_job.json), newest first."""
    root = make_style_runs_root()
    if not root.is_dir():
        return []
    found = []
    for job in root.glob(f"*/{JOB_FILE}"):
        try:
            argv = json.loads(job.read_text(encoding="utf-8"))["argv"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append((job.stat().st_mtime, RunInfo(job.parent.name, job.parent, list(argv), read_progress(job.parent))))
    return [info for _, info in sorted(found, key=lambda item: -item[0])]


def unfinished_runs() -> list[RunInfo]:
    return [info for info in find_runs() if info.unfinished]


def discard_run(info: RunInfo) -> None:
    shutil.rmtree(info.folder, ignore_errors=True)


def forget_start(run: Path) -> None:
    """A command that refused its input before starting a run (no progress.json): nothing to
    resume, so the folder is no longer offered (the photos taken stay for the next try)."""
    if read_progress(run) is None:
        (run / JOB_FILE).unlink(missing_ok=True)


def finished_before(run: Path) -> bool:
    """The folder holds a finished run (its style since removed): a new start needs --replace."""
    return (read_progress(run) or {}).get("phase") == "done"


def build_argv(
    paintings: Path,
    name: str,
    run: Path,
    minutes: int,
    photos: list[Path],
    base: str = "auto",
) -> list[str]:
    """The command's arguments (after the program), as the contract spells them."""
    argv = [str(paintings), "--name", name, "--minutes", str(minutes), "--base", base or "auto", "--run-dir", str(run)]
    for folder in photos:
        argv += ["--photos", str(folder)]
    return argv


class MakeStyleJob(QObject):
    """One make-style child process and its progress file."""

    progress = Signal(dict)  # the newest progress.json, each time it changes
    finished = Signal(int, str)  # exit code, the command's last "error: ..." line ('' if none)

    POLL_MS = 500

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process: subprocess.Popen | None = None
        self.run: Path | None = None
        self.last: dict | None = None
        self._raw = b""
        self._log = None
        self._timer = QTimer(self, interval=self.POLL_MS, timeout=self.poll)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, run: Path, argv: list[str]) -> None:
        """Start the command for `run` (a resume is the same call with the same argv)."""
        if self.running:
            raise RuntimeError("a make-style run is already going")
        run.mkdir(parents=True, exist_ok=True)
        tmp = run / f"{JOB_FILE}.tmp"
        tmp.write_text(json.dumps({"argv": argv}, indent=1), encoding="utf-8")
        os.replace(tmp, run / JOB_FILE)
        self.run, self.last, self._raw = run, read_progress(run), b""
        self._log = open(run / LOG_FILE, "ab")  # noqa: SIM115 - the child writes to it until it ends
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("QT_QPA_PLATFORM", None)  # the child never opens a window
        options: dict = {}
        if sys.platform == "win32":
            options["creationflags"] = BELOW_NORMAL_PRIORITY_CLASS
        self.process = subprocess.Popen(
            [*command_prefix(), *argv],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(run),
            **options,
        )
        if sys.platform != "win32":
            # right after the fork, before the child's interpreter has started a thread (threads
            # inherit it); preexec_fn would run Python between fork and exec, unsafe with threads
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, self.process.pid, NICE)
        self._timer.start()
        self.poll()

    def poll(self) -> None:
        """Read progress.json if it changed; notice when the process has ended."""
        if self.run is None:
            return
        try:
            raw = (self.run / PROGRESS_FILE).read_bytes()
        except OSError:
            raw = b""
        if raw and raw != self._raw:
            try:
                data = json.loads(raw)
            except ValueError:
                data = None
            if isinstance(data, dict):
                self._raw, self.last = raw, data
                self.progress.emit(data)
        if self.process is not None and self.process.poll() is not None:
            self._ended()

    def _ended(self) -> None:
        process, self.process = self.process, None
        self._timer.stop()
        if self._log is not None:
            self._log.close()
            self._log = None
        rc = process.returncode if process is not None else 0
        self.poll()  # the last progress the command wrote
        self.finished.emit(rc, self.error_line())

    def error_line(self) -> str:
        """The command's last line starting with 'error:' (its one-line reason), or ''."""
        if self.run is None:
            return ""
        try:
            text = (self.run / LOG_FILE).read_bytes()[-8192:].decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip().startswith("error:")]
        return lines[-1] if lines else ""

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (the command checkpoints and exits 130), wait up to `timeout`, then kill.
        Returns the exit code (None if nothing ran). Blocks: call it when stopping for good."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()  # SIGTERM on POSIX; on Windows a hard stop (resumes from the last checkpoint)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._ended()
        return process.returncode

    def cancel(self) -> None:
        """SIGTERM without waiting: `finished` comes from the poll timer when it has checkpointed."""
        if self.running:
            self.process.terminate()
