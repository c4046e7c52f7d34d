"""What the light generator's inference border costs per frame: the engine on the same style with
its reflected margin (`LiteGenerator.inference_border`) and with none, interleaved in one process
so both see the same machine load.

    python -m benchmarks.border_cost [--style vangogh] [--size 256] [--rounds 6]

Prints the median inference ms of each on a 640x480 frame and their ratio.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as bench.py: no spinning threads between calls

from benchmarks.interleaved import interleaved_inference_ms
from models.engine import InferenceEngine
from models.style_library import StyleLibrary


def measure(style: str, size: int, rounds: int, frames: int = 20) -> dict[str, float]:
    """Median inference ms per 640x480 frame, with and without the margin, rounds interleaved."""
    model, _ = StyleLibrary().load(style)
    if not hasattr(model, "inference_border"):
        raise SystemExit(f"error: style {style!r} is not a light generator; it has no inference border")
    generators = {}
    for name, border in (("border", model.inference_border), ("none", 0)):
        generators[name] = copy.deepcopy(model)
        generators[name].inference_border = border
    return interleaved_inference_ms(generators, size, rounds, frames)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.border_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--style", default="vangogh")
    parser.add_argument("--size", type=int, default=256, help="processing short side")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)
    ms = measure(args.style, args.size, args.rounds)
    device = InferenceEngine(device="cpu").describe()
    print(f"{args.style} at {args.size}px on {device}: with the border {ms['border']:.2f} ms, "
          f"without {ms['none']:.2f} ms, ratio {ms['border'] / ms['none']:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
