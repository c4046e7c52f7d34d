"""What the colour guard costs per frame: the engine on the same style with and without it,
interleaved in one process so both see the same machine load.

    python -m benchmarks.colour_guard_cost [--style ukiyoe] [--block 8] [--size 256] [--rounds 6]

The guard has no weights (models/colour_guard.py), so the two engines run the same generator
with the guard on (at `--block`, or the style's own block) and off. Prints the median inference
ms of each and their ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as bench.py: no spinning threads between calls

from benchmarks.interleaved import interleaved_inference_ms
from models.engine import InferenceEngine
from models.style_library import StyleLibrary


def measure(style: str, block: int | None, size: int, rounds: int, frames: int = 20) -> dict[str, float]:
    """Median inference ms per 640x480 frame, with and without the guard, rounds interleaved."""
    library = StyleLibrary()
    entry = library.resolve(style)
    block = block or entry.config.colour_guard or 8
    guarded, _ = library.load(replace(entry, config=replace(entry.config, colour_guard=block)))
    plain, _ = library.load(replace(entry, config=replace(entry.config, colour_guard=0)))
    return interleaved_inference_ms({"guard": guarded, "plain": plain}, size, rounds, frames)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.colour_guard_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--style", default="ukiyoe")
    parser.add_argument("--block", type=int, help="guard block in pixels (default: the style's, else 8)")
    parser.add_argument("--size", type=int, default=256, help="processing short side")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)
    ms = measure(args.style, args.block, args.size, args.rounds)
    device = InferenceEngine(device="cpu").describe()
    print(f"{args.style} at {args.size}px on {device}: with the colour guard {ms['guard']:.2f} ms, "
          f"without {ms['plain']:.2f} ms, ratio {ms['guard'] / ms['plain']:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
