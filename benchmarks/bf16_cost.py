"""bf16 against fp32 on the CPU, side by side in one process: the shipped styles' OpenVINO runners
at processing shapes the app uses, called in turn frame by frame (so a noisy machine slows both
alike), and the PSNR of bf16's picture against fp32's on a real webcam frame.

    python -m benchmarks.bf16_cost [--styles vangogh monet ukiyoe] [--shapes 256x256 344x256 ...] [--repeats 15]

Shapes are WxH of the generator's input: 344x256, 480x360 and 640x480 are a 640x480 camera at
processing size 256, 360 and 480; 640x360 and 1280x720 a 16:9 one at 360 and 720. A style with a
colour guard runs in bf16 as the engine runs it: the body in bf16, the guard after it in fp32
(models/backends.py, `GuardAfterRunner`). Prints one table; `--json FILE` keeps the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from models.backends import OpenVinoRunner, openvino_available, openvino_runner
from models.precision import cpu_has_bf16
from models.style_library import StyleLibrary

FRAME = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "book.mkv"
SHAPES = ("256x256", "344x256", "480x360", "640x360", "640x480", "1280x720")


def real_frame(width: int, height: int) -> np.ndarray:
    """Frame 30 of book.mkv scaled to the shape (a smooth synthetic scene without ../shared)."""
    cap = cv2.VideoCapture(str(FRAME))
    frame = None
    for _ in range(31):
        ok, image = cap.read()
        frame = image if ok else frame
    cap.release()
    if frame is None:
        yy, xx = np.mgrid[0:480, 0:640]
        frame = np.stack([xx * 255 // 640, yy * 255 // 480, (xx + yy) * 255 // 1120], -1).astype(np.uint8)
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def measure(style: str, shapes: list[str], repeats: int, threads: int) -> list[dict]:
    generator = StyleLibrary().load(style)[0]
    runners = {
        "fp32": OpenVinoRunner(generator, threads, bf16=False),
        "bf16": openvino_runner(generator, threads, bf16=True),
    }
    rows = []
    for shape in shapes:
        width, height = (int(v) for v in shape.split("x"))
        frame = real_frame(width, height)
        outputs = {name: runner(frame).copy() for name, runner in runners.items()}  # compiles the shape
        times: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(repeats):
            for name, runner in runners.items():  # in turn: both see the same machine
                start = time.perf_counter()
                runner(frame)
                times[name].append((time.perf_counter() - start) * 1000.0)
        fp32, bf16 = (float(np.median(times[n])) for n in ("fp32", "bf16"))
        rows.append(
            {
                "style": style,
                "shape": shape,
                "bf16_runs": runners["bf16"].precision,
                "fp32_ms": fp32,
                "bf16_ms": bf16,
                "fp32_p95_ms": float(np.percentile(times["fp32"], 95)),
                "bf16_p95_ms": float(np.percentile(times["bf16"], 95)),
                "speedup": fp32 / bf16,
                "psnr_db": psnr(outputs["fp32"], outputs["bf16"]),
                "max_diff": int(np.abs(outputs["fp32"].astype(int) - outputs["bf16"]).max()),
            }
        )
        row = rows[-1]
        print(
            f"{style:<9} {shape:>9} {row['fp32_ms']:>8.1f} {row['bf16_ms']:>8.1f} {row['speedup']:>7.2f}x"
            f" {min(row['psnr_db'], 99):>6.1f} {row['max_diff']:>5}  {row['bf16_runs']}",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--styles", nargs="+", default=["vangogh", "monet", "ukiyoe"])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), help="WxH of the generator's input")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    if not openvino_available():
        print("error: bf16 runs on the OpenVINO backend, which is not installed", file=sys.stderr)
        return 1
    if not cpu_has_bf16():
        print("note: this CPU has no bf16 instructions: OpenVINO emulates bf16, so expect it slower than fp32")
    print(f"CPU bf16 in hardware: {cpu_has_bf16()}; {args.threads} threads; median ms per frame of {args.repeats}")
    print(f"{'style':<9} {'shape':>9} {'fp32':>8} {'bf16':>8} {'speedup':>8} {'PSNR':>6} {'max':>5}  bf16 runs")
    rows = [row for style in args.styles for row in measure(style, args.shapes, args.repeats, args.threads)]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
