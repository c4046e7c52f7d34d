"""The engine on a GPU at the app's defaults: frame time at the camera's sizes, the detail step's
cost, the full-frame device path against the host path, and how close its picture is to the CPU.

    python -m benchmarks.cuda_engine --frames DIR [--styles vangogh] [--sources 640x480 1280x720]
        [--sizes 256 360 480 720] [--frames-per-run 40] [--rounds 2] [--json FILE] [--device cuda]

DIR holds consecutive frames of a real clip (PNG/JPEG, in name order; scaled to each `--sources`
size), so the stabilizer and the face tracker see a stream. For each style, source size and
processing size, these engines run the same frames in turns (one frame each, the one going first
alternating per round), all with the stabilizer, as the app runs:
- `detail0`: Detail 0 (the plain upscale), on the device path;
- `default`: the default Detail with faces kept, on the device path (one upload, one download);
- `host`: the default on the host path (the output comes down at the processing size and the
  detail step runs in OpenCV), what the device path replaced.
Each call is timed with the device's queue drained on both sides. Face detection runs in line
(as `stylize`), so its cost every 6th frame is in the figures. The picture: `default` against the
same frames through the CPU engine in fp32 (PyTorch backend, host path), PSNR per frame over the
stream's first `PSNR_FRAMES`.
`--device cpu` runs it on the CPU engine (a smoke test of this script: there every kind takes the
host path).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks.bench import psnr
from benchmarks.cuda_fidelity import read_frames, timed_process
from models import device_path
from models.detail import DEFAULT_DETAIL
from models.engine import InferenceEngine
from models.style_library import StyleLibrary

KINDS = ("detail0", "default", "host")
PSNR_FRAMES = 8  # the stream's first frames against the CPU (slow there at 720 px)


def scaled(frames: list[np.ndarray], width: int, height: int) -> list[np.ndarray]:
    """The frames at `width` x `height` (a webcam of that size): area down, cubic up."""
    h, w = frames[0].shape[:2]
    interpolation = cv2.INTER_AREA if width * height < w * h else cv2.INTER_CUBIC
    return [cv2.resize(f, (width, height), interpolation=interpolation) for f in frames]


def make_engines(
    generator: torch.nn.Module, name: str, device: str, size: int, faces: bool = True, stabilize: bool = True
) -> dict[str, InferenceEngine]:
    options = {"size": size, "stabilize": stabilize, "faces": faces}
    engines = {
        "detail0": InferenceEngine(device, detail=0.0, **options),
        "default": InferenceEngine(device, detail=DEFAULT_DETAIL, **options),
        "host": InferenceEngine(device, detail=DEFAULT_DETAIL, **options),
    }
    for kind, engine in engines.items():
        engine.set_style(generator, name)
        if kind == "host" and hasattr(engine._active.runner, "full_frame"):
            engine._active.runner.full_frame = False  # on by default on CUDA
    return engines


def measure(
    generator: torch.nn.Module,
    name: str,
    frames: list[np.ndarray],
    size: int,
    device: str,
    rounds: int,
    faces: bool = True,
    stabilize: bool = True,
) -> dict:
    """One style at one source and processing size: ms per frame for each kind, and PSNR."""
    engines = make_engines(generator, name, device, size, faces, stabilize)
    for engine in engines.values():  # the first frames compile kernels and fill the caches
        for frame in frames[:3]:
            timed_process(engine, frame)
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    outputs: list[np.ndarray] = []
    for r in range(rounds):
        for engine in engines.values():
            engine.reset_stream()
        order = KINDS if r % 2 == 0 else KINDS[::-1]
        for frame in frames:
            for kind in order:
                out, ms = timed_process(engines[kind], frame)
                times[kind].append(ms)
                if kind == "default" and r == 0 and len(outputs) < PSNR_FRAMES:
                    outputs.append(out)
    reference = InferenceEngine(
        "cpu", size=size, backend="torch", stabilize=stabilize, detail=DEFAULT_DETAIL, faces=faces
    )
    reference.set_style(generator, name)
    psnrs = [psnr(reference.process(f), out) for f, out in zip(frames, outputs, strict=False)]
    row: dict = {"style": name, "source": f"{frames[0].shape[1]}x{frames[0].shape[0]}", "size": size}
    for kind, values in times.items():
        ordered = sorted(values)
        row[kind] = {"median": statistics.median(ordered), "p95": ordered[int(0.95 * (len(ordered) - 1))]}
    row["detail_ratio"] = row["default"]["median"] / row["detail0"]["median"]
    row["host_over_device"] = row["host"]["median"] / row["default"]["median"]
    row["psnr_vs_cpu_db"] = {"min": min(psnrs), "median": statistics.median(psnrs)}
    row["device"] = engines["default"].describe()
    return row


def print_rows(rows: list[dict]) -> None:
    print(
        f"{'style':<9}{'source':>10}{'size':>6}{'detail0 ms':>12}{'default ms':>12}{'p95':>7}{'fps':>7}"
        f"{'detail x':>9}{'host ms':>9}{'host/dev':>9}{'PSNR min/med':>14}"
    )
    for r in rows:
        print(
            f"{r['style']:<9}{r['source']:>10}{r['size']:>6}{r['detail0']['median']:>12.2f}"
            f"{r['default']['median']:>12.2f}{r['default']['p95']:>7.2f}{1000 / r['default']['median']:>7.0f}"
            f"{r['detail_ratio']:>8.3f}x{r['host']['median']:>9.2f}{r['host_over_device']:>8.2f}x"
            f"{r['psnr_vs_cpu_db']['min']:>8.1f}/{r['psnr_vs_cpu_db']['median']:.1f}"
        )
    print(
        "ms per frame: the whole engine call (frame in, frame out), median; detail0 = Detail 0, default = "
        f"Detail {DEFAULT_DETAIL} with faces (device path), host = the default on the host path; "
        "PSNR = default against the CPU fp32 engine."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cuda_engine", description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=Path, required=True, help="folder of consecutive frames of a real clip")
    parser.add_argument("--styles", nargs="+", default=["vangogh"])
    parser.add_argument("--sources", nargs="+", default=["640x480", "1280x720"], help="camera sizes WxH")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 360, 480, 720])
    parser.add_argument("--frames-per-run", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--faces", action=argparse.BooleanOptionalAction, default=True, help="Keep faces (default on)")
    parser.add_argument(
        "--aux-full-max", type=int, help="side buffer at full size up to this short side (default: the engine's)"
    )
    parser.add_argument("--stabilize", action=argparse.BooleanOptionalAction, default=True, help="the stabilizer (on)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA GPU here; pass --device cpu for a smoke test on the CPU", file=sys.stderr)
        return 2
    if args.aux_full_max is not None:  # a comparison: the side buffer made at full size up to here
        device_path.AUX_FULL_MAX_SHORT = args.aux_full_max
    frames = read_frames(args.frames)[: args.frames_per_run]
    library = StyleLibrary()
    rows = []
    for name in args.styles:
        generator, _ = library.load(name)
        for source in args.sources:
            width, height = (int(v) for v in source.lower().split("x"))
            clip = scaled(frames, width, height)
            for size in (s for s in args.sizes if s <= height):
                rows.append(measure(generator, name, clip, size, args.device, args.rounds, args.faces, args.stabilize))
                print(f"  {name} {source} at {size}: done", file=sys.stderr, flush=True)
    where = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    faces = "faces kept" if args.faces else "no face mode"
    steady = "stabilizer on" if args.stabilize else "no stabilizer"
    print(f"{where}, torch {torch.__version__}, {len(frames)} frames x {args.rounds} rounds, {faces}, {steady}")
    print(rows[0]["device"])
    print_rows(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
