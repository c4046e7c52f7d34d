"""Screenshot of the real app window for the README: side-by-side compare on a real clip, grabbed
from the X server (under Xvfb when there is no display) into docs/screenshot.png.

    python scripts/screenshot.py [--video FILE] [--style NAME|FILE] [--run RUNS/NAME] [--out docs/screenshot.png]
        [--detail 0.2] [--faces|--no-faces] [--model auto|full|fast] [--compare side|off] [--window 1280x660]

`--run` exports a training run's generator into a temporary library first (nothing is written to
weights/). Settings go to a temporary file, so the user's saved settings are left alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "videos" / "sister.mkv"


def start_xvfb(width: int, height: int) -> subprocess.Popen | None:
    """Start Xvfb on a free display number and point $DISPLAY at it (None when a display exists)."""
    if os.environ.get("DISPLAY"):
        return None
    if shutil.which("Xvfb") is None:
        sys.exit("error: no display and no Xvfb; install it (apt-get install -y xvfb) or set $DISPLAY")
    for number in range(99, 120):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        proc = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(50):  # the socket appears when the server is ready
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                os.environ["DISPLAY"] = f":{number}"
                return proc
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        proc.terminate()
    sys.exit("error: could not start Xvfb")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--style", help="library style or weights file (default: the library's default)")
    parser.add_argument("--run", type=Path, help="a training run folder to export into a temporary library")
    parser.add_argument("--size", default="auto", help="processing size: auto (the app's default) or pixels")
    parser.add_argument("--detail", type=float, help="Detail, 0..1 (default: the app's)")
    parser.add_argument("--faces", action=argparse.BooleanOptionalAction, help="face-aware detail (default: the app's)")
    parser.add_argument(
        "--compare", default="side", choices=["side", "off"], help="original | stylized, or stylized only"
    )
    parser.add_argument("--model", choices=["auto", "full", "fast"], help="View > Model (default: the app's)")
    parser.add_argument("--window", default="1280x660", help="window size WxH (the picture scales to fit it)")
    parser.add_argument("--seconds", type=float, default=8.0, help="how long the window runs before the grab")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    args = parser.parse_args(argv)
    if not args.video.is_file():
        sys.exit(f"error: video {args.video} not found; pass --video FILE")

    work = Path(tempfile.mkdtemp(prefix="stylecam-shot-"))
    os.environ["STYLECAM_SETTINGS"] = str(work / "settings.ini")
    style = args.style
    if args.run:
        from train.stages.export import export_run

        exported = export_run(args.run, "preview", f"{args.run.name} (preview)", library_root=work / "weights")
        os.environ["STYLECAM_WEIGHTS"] = str(work / "weights")
        style = exported.name
    win_w, win_h = (int(v) for v in args.window.lower().split("x"))
    xvfb = start_xvfb(max(1400, win_w + 100), max(900, win_h + 100))
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    try:
        from PySide6.QtCore import QEventLoop, QTimer
        from PySide6.QtWidgets import QApplication

        from app.launch import create_window

        app = QApplication(sys.argv[:1])
        window = create_window(
            argparse.Namespace(
                source=str(args.video),
                style=style,
                size=args.size if args.size == "auto" else int(args.size),
                record=None,
                device="auto",
                detail=args.detail,
                faces=args.faces,
                model=args.model,
            )
        )
        window.set_compare(args.compare)
        window.resize(win_w, win_h)  # the default: two 4:3 pictures side by side, little dead space
        window.move(0, 0)
        window.show()
        loop = QEventLoop()
        QTimer.singleShot(int(args.seconds * 1000), loop.quit)
        loop.exec()
        app.processEvents()
        shot = window.screen().grabWindow(window.winId())  # the pixels the X server shows
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if not shot.save(str(args.out)):
            sys.exit(f"error: could not write {args.out}")
        print(
            f"saved {args.out} ({shot.width()}x{shot.height()}); style {window.controller.engine.style_name or 'none'}; "
            f"{window.numbers_label.text()}; {' | '.join(window.view.hud_lines[1:2])}"
        )
        window.close()
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
