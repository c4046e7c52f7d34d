"""What the temporal stabilizer costs per frame: the whole engine (`InferenceEngine.process`, a
640x480 BGR frame in and out) on the same style with the stabilizer on and off, on consecutive
frames of a real clip, interleaved in one process so both see the same machine load.

    python -m benchmarks.stabilizer_cost [--style vangogh] [--sizes 256 320 384] [--rounds 6] [--threads 2]

The clip is ../shared/data/videos/sister.mkv (a person at a desk, 640x480), or `--clip FILE`;
without it, the app's demo scene. Each round both engines stylize the next `--frames` frames in
order, taking turns frame by frame (the stabilizer needs a stream: its flow and blend run from the
second frame of a stream on).
Prints the median and p95 ms per frame of each and their ratio, per processing size.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as bench.py: no spinning threads between calls

import cv2
import numpy as np
import torch

from models.engine import InferenceEngine
from models.style_library import StyleLibrary
from models.video_io import VideoReader

CLIP = (Path(__file__).resolve().parent.parent / ".." / "shared" / "data" / "videos" / "sister.mkv").resolve()
VARIANTS = ("stabilized", "plain")


def clip_frames(path: Path | None, count: int) -> tuple[list[np.ndarray], str]:
    """The first `count` frames of the clip at 640x480, or of the demo scene when it is missing."""
    if path is not None and path.is_file():
        with VideoReader(path) as reader:
            frames = [frame for frame, _ in itertools.islice(reader.frames(), count)]
        return [f if f.shape[:2] == (480, 640) else cv2.resize(f, (640, 480), interpolation=cv2.INTER_AREA)
                for f in frames], path.name  # fmt: skip
    from app.demo_scene import DemoScene  # no clip: the app's animated scene (cv2 + numpy only)

    scene = DemoScene(640, 480)
    return [scene.render(i / 30) for i in range(count)], "the demo scene (clip not found)"


def measure(style: str, size: int, frames: list[np.ndarray], rounds: int, per_round: int) -> dict[str, list[float]]:
    """Wall-clock ms of each `engine.process` call, per variant: frame by frame in turns (the one
    going first alternates), so both see the same moments of machine load."""
    generator, _ = StyleLibrary().load(style)
    engines = {}
    for name in VARIANTS:
        engines[name] = InferenceEngine(device="cpu", size=size, stabilize=name == "stabilized")
        engines[name].set_style(generator, name)
        for frame in frames[:3]:  # warm-up at the clip's shape, the stabilizer's first blends included
            engines[name].process(frame)
    times: dict[str, list[float]] = {name: [] for name in engines}
    position, order = 0, list(engines.items())
    for _ in range(rounds):
        if position + per_round > len(frames):
            position = 0
        for _, engine in order:
            engine.reset_stream()  # a round is a stream: the next stretch of the clip, from its start
        for frame in frames[position : position + per_round]:
            for name, engine in order:
                start = time.perf_counter()
                engine.process(frame)
                times[name].append((time.perf_counter() - start) * 1000.0)
            order.reverse()
        position += per_round
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stabilizer_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--style", default="vangogh")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256], help="processing short sides (default 256)")
    parser.add_argument("--clip", type=Path, default=CLIP, help="a video (default: ../shared/data/videos/sister.mkv)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--frames", type=int, default=20, help="consecutive frames per engine per round")
    parser.add_argument("--threads", type=int, help="torch and OpenCV threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    frames, source = clip_frames(args.clip, max(args.frames * 3, 60))
    device = InferenceEngine(device="cpu").describe()
    print(f"{args.style} on {device}, OpenCV {cv2.getNumThreads()} threads; {len(frames)} frames of {source}, "
          f"{args.rounds} rounds x {args.frames} frames each, interleaved; ms per 640x480 frame, whole engine")  # fmt: skip
    print(f"{'size':>5} {'stabilized med':>15} {'p95':>7} {'plain med':>10} {'p95':>7} {'ratio':>6} {'extra ms':>9}")
    for size in args.sizes:
        times = measure(args.style, size, frames, args.rounds, args.frames)
        on, off = (statistics.median(times[name]) for name in VARIANTS)
        print(
            f"{size:>5} {on:15.2f} {np.percentile(times['stabilized'], 95):7.2f} {off:10.2f} "
            f"{np.percentile(times['plain'], 95):7.2f} {on / off:6.3f} {on - off:9.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
