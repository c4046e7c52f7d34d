"""Soak test (not a CI test): the real window over the demo scene for 5 minutes, switching styles,
cycling compare modes and recording now and then, while sampling the process's resident memory.
Memory must stay flat: after a warm-up minute, growth above `--max-growth-mb` fails (exit 1).

    python -m benchmarks.soak [--minutes 5] [--max-growth-mb 40]

Runs offscreen when there is no display; settings and styles live in a temporary folder (two
untrained lite styles), so the user's settings and library are never touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def rss_mb() -> float:
    """Resident set size from /proc (Linux); falls back to the peak RSS elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--warmup-minutes", type=float, default=1.0, help="growth is measured after this")
    parser.add_argument("--max-growth-mb", type=float, default=40.0)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="stylecam-soak-"))
    os.environ["STYLECAM_SETTINGS"] = str(work / "settings.ini")
    os.environ["STYLECAM_WEIGHTS"] = str(work / "weights")
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import torch
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.launch import create_window
    from models.registry import GeneratorConfig, create_generator
    from models.style_library import StyleLibrary

    library = StyleLibrary(work / "weights")
    config = GeneratorConfig("lite", ngf=16, n_blocks=9)
    for seed, name in enumerate(("soak_a", "soak_b")):
        torch.manual_seed(seed)
        library.add_style(create_generator(config), config, name)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = create_window(argparse.Namespace(source="demo", style=None, size=args.size, record=None, device="auto"))
    window.settings.output_dir = str(work / "recordings")
    window.show()

    start = time.perf_counter()
    samples: list[tuple[float, float, int]] = []  # (seconds, RSS MB, frames shown)
    tick = {"n": 0}

    def sample() -> None:
        t = time.perf_counter() - start
        samples.append((t, rss_mb(), window.frames_shown))
        print(
            f"{t:6.0f} s  rss {samples[-1][1]:7.1f} MB  shown {window.frames_shown:6d}  {window.numbers_label.text()}"
        )
        sys.stdout.flush()

    def exercise() -> None:
        # every 5 s something changes: style, compare mode; every 30 s a recording starts or stops
        tick["n"] += 1
        window.step_style(1)
        window.cycle_compare()
        if tick["n"] % 6 == 0:
            window.act_record.trigger()
        if tick["n"] % 7 == 0:
            window.act_snapshot.trigger()

    QTimer(window, interval=10_000, timeout=sample).start()
    QTimer(window, interval=5_000, timeout=exercise).start()
    QTimer.singleShot(int(args.minutes * 60_000), window.close)
    QTimer.singleShot(int(args.minutes * 60_000) + 200, app.quit)
    sample()
    app.exec()

    after = [s for s in samples if s[0] >= args.warmup_minutes * 60]
    if len(after) < 2:
        print("too short to judge: run longer than the warm-up")
        return 0
    growth = max(s[1] for s in after) - after[0][1]
    fps = (samples[-1][2] - samples[0][2]) / (samples[-1][0] - samples[0][0])
    recordings = sorted((work / "recordings").glob("*.mp4"))
    print(
        f"\nafter warm-up: rss {after[0][1]:.1f} -> {after[-1][1]:.1f} MB (max growth {growth:.1f} MB); "
        f"{fps:.1f} fps average; {len(recordings)} recordings; close took {window.close_seconds:.2f} s; files in {work}"
    )
    if growth > args.max_growth_mb:
        print(f"FAIL: memory grew {growth:.1f} MB (> {args.max_growth_mb} MB)")
        return 1
    print("OK: memory flat")
    return 0


if __name__ == "__main__":
    sys.exit(main())
