"""Style > New style from paintings... on a real run: a screenshot of the dialog mid-run with its
preview (docs/make-style/dialog.png), and how the live window holds up while the run trains
beside it: the live view's fps, the event loop's lateness (a 20 ms timer) and input-to-redraw
(an event posted from another thread, as input arrives, until the view's next paint).

    python scripts/make_style_shot.py [--paintings DIR] [--photos DIR] [--video FILE] [--base vangogh]
        [--minutes 10] [--baseline 20] [--measure 60] [--out docs/make-style/dialog.png] [--command fake]

Everything the run writes goes to a temporary data folder (STYLECAM_USER_STYLES points there);
settings to a temporary file. Runs under Xvfb when there is no display (as scripts/screenshot.py).
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"


def load_start_xvfb():
    spec = importlib.util.spec_from_file_location("screenshot", REPO / "scripts" / "screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.start_xvfb


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {
        "n": len(values),
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paintings", type=Path, default=DATA / "monet2photo" / "trainB")
    parser.add_argument("--photos", type=Path, default=DATA / "webcam_photos" / "trainA", help="own photos (60 used)")
    parser.add_argument("--video", type=Path, default=DATA / "videos" / "sister.mkv", help="the live source")
    parser.add_argument("--base", default="vangogh")
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--baseline", type=float, default=20.0, help="seconds measured before the run")
    parser.add_argument("--measure", type=float, default=60.0, help="seconds measured while it trains")
    parser.add_argument("--preview-timeout", type=float, default=300.0)
    parser.add_argument(
        "--alternate", type=int, default=0, help="then N rounds of 15 s with the run paused (SIGSTOP) and 15 s running"
    )
    parser.add_argument("--capture", type=float, default=30.0, help="seconds of photos from the live view")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "make-style" / "dialog.png")
    parser.add_argument("--json", type=Path, help="write the numbers here too")
    parser.add_argument("--command", default="", help="'fake': tests/app/fake_make_style.py instead of main.py")
    parser.add_argument("--extra", default="", help="more options for the command, one string")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="stylecam-make-style-"))
    os.environ["STYLECAM_SETTINGS"] = str(work / "settings.ini")
    os.environ["STYLECAM_USER_STYLES"] = str(work / "data" / "styles")
    own = work / "own_photos"
    own.mkdir()
    for path in sorted(args.photos.iterdir())[:60]:
        shutil.copy(path, own / path.name)
    xvfb = load_start_xvfb()(1500, 1000)
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    results: dict = {"cpus": os.cpu_count()}
    try:
        from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, Qt, QTimer
        from PySide6.QtWidgets import QApplication

        from app.launch import create_window
        from app.make_style import job as job_module

        if args.command == "fake":
            fake = REPO / "tests" / "app" / "fake_make_style.py"
            job_module.command_prefix = lambda: [sys.executable, str(fake)]
        app = QApplication(sys.argv[:1])
        window = create_window(
            argparse.Namespace(source=str(args.video), style=None, size="auto", record=None, device="auto")
        )
        window.resize(1100, 700)
        window.move(0, 0)
        window.show()

        lateness: list[float] = []
        stalls: list[tuple[float, float]] = []  # timer gaps over 100 ms late: (from, to)
        previews: list[tuple[float, float]] = []  # when the dialog's task thread stylized a preview
        redraw: list[float] = []
        record = {"on": False}

        class Lateness(QObject):
            def __init__(self) -> None:
                super().__init__()
                self.last = time.perf_counter()
                self.timer = QTimer(self, interval=20, timeout=self.tick)
                self.timer.setTimerType(Qt.TimerType.PreciseTimer)
                self.timer.start()

            def tick(self) -> None:
                now = time.perf_counter()
                if record["on"]:
                    lateness.append(max(0.0, (now - self.last) * 1000 - 20))
                    if lateness[-1] > 100:
                        stalls.append((self.last, now))
                self.last = now

        class Redraw(QObject):
            """An event posted from another thread (as input arrives) -> view.update() -> next paint."""

            def __init__(self) -> None:
                super().__init__()
                self.sent: collections.deque[float] = collections.deque()
                self.waiting: float | None = None
                window.view.installEventFilter(self)
                self.running = True
                self.thread = threading.Thread(target=self.post, daemon=True)
                self.thread.start()

            def post(self) -> None:
                while self.running:
                    time.sleep(0.25)
                    self.sent.append(time.perf_counter())
                    QCoreApplication.postEvent(self, QEvent(QEvent.Type.User))

            def customEvent(self, event) -> None:
                if self.sent:
                    sent = self.sent.popleft()
                    if self.waiting is None:
                        self.waiting = sent
                    window.view.update()

            def eventFilter(self, watched, event) -> bool:
                if event.type() == QEvent.Type.Paint and self.waiting is not None:
                    if record["on"]:
                        redraw.append((time.perf_counter() - self.waiting) * 1000)
                    self.waiting = None
                return False

        def run_for(seconds: float) -> None:
            loop = QEventLoop()
            QTimer.singleShot(int(seconds * 1000), loop.quit)
            loop.exec()

        def wait_until(check, timeout: float) -> bool:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if check():
                    return True
                run_for(0.2)
            return False

        probes = (Lateness(), Redraw())
        run_for(8.0)  # the style loads, Auto settles
        window.view.setFocus()

        def measure(label: str, seconds: float) -> None:
            lateness.clear()
            redraw.clear()
            stalls.clear()
            frames, start = window.frames_shown, time.perf_counter()
            record["on"] = True
            run_for(seconds)
            record["on"] = False
            elapsed = time.perf_counter() - start
            results[label] = {
                "seconds": round(elapsed, 1),
                "fps": round((window.frames_shown - frames) / elapsed, 1),
                "timer_lateness": summary(lateness),
                "input_to_redraw": summary(redraw),
                "inference_ms": round(window.stats.inference_ms, 1),
                "size": window.controller.size,
                "load_average_1min": round(os.getloadavg()[0], 1),  # the machine is shared: say how busy
                "stalls_over_100ms": len(stalls),
                "stalls_during_a_preview": sum(any(a < pe and b > ps for ps, pe in previews) for a, b in stalls),
                "previews_ms": [round((pe - ps) * 1000) for ps, pe in previews if ps >= start],
            }
            print(label, json.dumps(results[label]), flush=True)

        measure("before", args.baseline)

        dialog = window.make_style.open()
        preview_call = dialog._preview.__call__

        def timed_preview(*a):
            start = time.perf_counter()
            try:
                return preview_call(*a)
            finally:
                previews.append((start, time.perf_counter()))

        dialog._preview = timed_preview  # the task thread calls it: is a GUI stall one of these?
        dialog.move(1100 - 660, 40)
        dialog.grabber.seconds = args.capture
        dialog.paintings.setText(str(args.paintings))
        dialog.check_paintings(str(args.paintings))
        wait_until(lambda: dialog.check is not None, 120)
        print("paintings:", dialog.paintings_line.text(), flush=True)
        dialog.name_edit.setText("my_monet")
        dialog.minutes.setCurrentIndex(dialog.minutes.findData(args.minutes))
        dialog.own_photos.setText(str(own))
        dialog.base.setCurrentIndex(max(0, dialog.base.findData(args.base)))
        dialog.extra_args = args.extra.split()
        dialog.start()
        if dialog.state == "idle":
            print("could not start:", dialog.message.text())
            return 1
        measure("taking_photos", max(1.0, args.capture - 2))
        wait_until(lambda: dialog.state != "capturing", 60)
        wait_until(lambda: (dialog.job.last or {}).get("phase") == "train" or dialog.state == "ended", 300)
        measure("training", args.measure)
        shown = wait_until(
            lambda: (
                (dialog.preview.pixmap() is not None and not dialog.preview.pixmap().isNull())
                or dialog.state == "ended"
            ),
            args.preview_timeout,
        )
        run_for(1.0)
        results["at_shot"] = {"progress": dialog.job.last, "message": dialog.message.text(), "preview": shown}
        shot = dialog.screen().grabWindow(dialog.winId())
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shot.save(str(args.out))
        print(f"saved {args.out} ({shot.width()}x{shot.height()}, {args.out.stat().st_size // 1024} KB)", flush=True)
        if dialog.state != "ended":
            measure("training_after_preview", min(30.0, args.measure))
        child = dialog.job.process
        for i in range(args.alternate if child is not None and hasattr(signal, "SIGSTOP") else 0):
            # the same background load with and without the run: what the run itself costs the window
            os.kill(child.pid, signal.SIGSTOP)
            try:
                measure(f"paused_{i}", 15.0)
            finally:
                os.kill(child.pid, signal.SIGCONT)
            measure(f"running_{i}", 15.0)

        process = dialog.job.process
        start = time.perf_counter()
        window.make_style.stop()  # what Ctrl+Q does first: the run checkpoints and stops, the thread joins
        stop_seconds = time.perf_counter() - start
        window.act_quit.trigger()  # Ctrl+Q: then the window's own threads
        results["quit"] = {
            "make_style_stop_seconds": round(stop_seconds, 2),
            "seconds": round(time.perf_counter() - start, 2),
            "exit_code": process.returncode if process is not None else None,
            "python_threads_left": [
                t.name
                for t in threading.enumerate()
                if t.is_alive()
                and t is not threading.main_thread()
                and t is not probes[1].thread
                and not isinstance(t, threading._DummyThread)  # QThreads that ran Python, already joined
            ],
            "qthreads_running": [w.objectName() for w in [*window.controller.threads(), dialog.tasks] if w.isRunning()],
        }
        probes[1].running = False
        print("quit", json.dumps(results["quit"]), flush=True)
        app.processEvents()
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
