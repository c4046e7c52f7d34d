"""How far the CUDA fp16 engine's frames are from the CPU fp32 reference, for every library style.

`python -m benchmarks.cuda_fidelity --frames DIR [--sizes 256 480] [--sheet OUT.png]`

Each frame (PNG/JPEG files in DIR, real video frames) goes through `InferenceEngine.process` twice:
on CUDA (fp16, channels_last, the app's GPU path) and on the CPU with the PyTorch backend in fp32
(the reference). Prints, per style and processing size, the mean and largest per-pixel difference
in grey levels and the PSNR of the CUDA frame against the reference, plus CUDA ms/frame (median of
the engine call, synchronised). `--sheet` saves reference | CUDA | 8x difference for the first
frame of each style, to look at. Needs a CUDA GPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks.bench import psnr
from models.engine import InferenceEngine
from models.style_library import StyleLibrary


def read_frames(folder: Path) -> list[np.ndarray]:
    """The BGR frames in `folder`, in name order."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    frames = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in files]
    if not frames or any(f is None for f in frames):
        raise SystemExit(f"error: no readable frames in {folder}; pass a folder of PNG/JPEG video frames")
    return frames


def timed_process(engine: InferenceEngine, frame: np.ndarray) -> tuple[np.ndarray, float]:
    """The engine's frame and its ms, with CUDA's queue drained on both sides of the clock."""
    sync = torch.cuda.synchronize if engine.device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    out = engine.process(frame)
    sync()
    return out, (time.perf_counter() - start) * 1000


def compare_style(
    name: str, frames: list[np.ndarray], size: int, library: StyleLibrary, device: str = "cuda"
) -> tuple[dict, np.ndarray]:
    """Per-style figures at one size, and a reference | device | difference strip of the first frame.

    `device` is the engine under test ("cuda"; "cpu" runs the CPU default backend, for tests)."""
    generator, style = library.load(name)
    reference = InferenceEngine("cpu", size=size, backend="torch")
    tested = InferenceEngine(device, size=size)
    shape = frames[0].shape[:2]
    reference.set_style(generator, name)
    tested.set_style(generator, name)
    diffs, peaks, psnrs, times = [], [], [], []
    strip = None
    for frame in frames:
        want = reference.process(frame)
        got = timed_process(tested, frame)[0]
        for _ in range(4):
            times.append(timed_process(tested, frame)[1])
        diff = np.abs(want.astype(np.int16) - got.astype(np.int16))
        diffs.append(float(diff.mean()))
        peaks.append(int(diff.max()))
        psnrs.append(psnr(want, got))
        if strip is None:
            strip = np.concatenate([want, got, np.clip(diff * 8, 0, 255).astype(np.uint8)], axis=1)
    row = {
        "style": name,
        "size": size,
        "frame": f"{shape[1]}x{shape[0]}",
        "mean_abs_diff": statistics.fmean(diffs),
        "max_abs_diff": max(peaks),
        "psnr_db": min(psnrs),
        "cuda_ms_median": statistics.median(times),
        "colour_guard_px": style.config.colour_guard,
    }
    return row, strip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cuda_fidelity", description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=Path, required=True, help="folder of real video frames (PNG/JPEG)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 480])
    parser.add_argument("--sheet", type=Path, help="save reference | CUDA | 8x difference strips here")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("error: no CUDA GPU here; this check compares the CUDA fp16 path with the CPU reference", file=sys.stderr)
        return 2
    torch.set_num_threads(max(1, min(8, torch.get_num_threads())))
    frames = read_frames(args.frames)
    library = StyleLibrary()
    rows, strips = [], []
    for name in library.names():
        for size in args.sizes:
            row, strip = compare_style(name, frames, size, library)
            rows.append(row)
            if size == args.sizes[0]:
                strips.append(strip)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {len(frames)} frames")
    print(f"{'style':<10} {'size':>5} {'frame':>9} {'mean |d|':>9} {'max |d|':>8} {'PSNR dB':>8} {'CUDA ms':>8}")
    for r in rows:
        print(
            f"{r['style']:<10} {r['size']:>5} {r['frame']:>9} {r['mean_abs_diff']:>9.3f} {r['max_abs_diff']:>8d}"
            f" {r['psnr_db']:>8.1f} {r['cuda_ms_median']:>8.2f}"
        )
    if args.sheet and strips:
        width = max(s.shape[1] for s in strips)
        padded = [np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0))) for s in strips]
        cv2.imwrite(str(args.sheet), np.concatenate(padded, axis=0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
