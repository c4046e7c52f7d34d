"""What a style's palette map costs per frame: the engine on the same style with and without it,
interleaved in one process so both see the same machine load.

    python -m benchmarks.palette_cost [--style vangogh] [--size 256] [--rounds 6]

The style must end with a palette map (models/palette.py); its twin without one has the same
weights otherwise. Prints the median inference ms of each and their ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

from torch import nn

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as bench.py: no spinning threads between calls

from benchmarks.interleaved import interleaved_inference_ms
from models.engine import InferenceEngine
from models.registry import GeneratorConfig, create_generator
from models.style_library import StyleLibrary


def without_palette(model: nn.Module, config: GeneratorConfig) -> nn.Module:
    """The same generator minus its palette map."""
    plain = create_generator(replace(config, palette=False)).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("palette.")})
    return plain


def measure(style: str, size: int, rounds: int, frames: int = 20) -> dict[str, float]:
    """Median inference ms per 640x480 frame, with and without the map, rounds interleaved."""
    model, entry = StyleLibrary().load(style)
    if not entry.config.palette:
        raise SystemExit(f"error: style {style!r} has no palette map; pick one whose architecture says 'palette'")
    # Prepared in place by the engines: `model` is not used again.
    generators = {"palette": model, "plain": without_palette(model, entry.config)}
    return interleaved_inference_ms(generators, size, rounds, frames)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.palette_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--style", default="vangogh")
    parser.add_argument("--size", type=int, default=256, help="processing short side")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)
    ms = measure(args.style, args.size, args.rounds)
    device = InferenceEngine(device="cpu").describe()
    print(f"{args.style} at {args.size}px on {device}: with palette {ms['palette']:.2f} ms, "
          f"without {ms['plain']:.2f} ms, ratio {ms['palette'] / ms['plain']:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
