"""What folding a style's demodulated convolutions saves on the PyTorch path (CUDA, or the CPU
without OpenVINO): the engine's eager forward with and without `fold_demodulation`, interleaved
in one process so both see the same machine load.

    python -m benchmarks.demod_fold [--style monet] [--size 256] [--rounds 40] [--threads 1]

The style must use the demodulated decoder. Prints the median ms of each, their ratio and the
largest output difference.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from models.inference_norm import use_inference_norms
from models.lite_generator import DemodConv2d, fold_demodulation
from models.style_library import StyleLibrary


def measure(style: str, size: int, rounds: int) -> dict[str, float]:
    """Median eager ms per size x size frame (channels_last, fp32), demodulated vs folded."""
    model, _ = StyleLibrary().load(style)
    if not any(isinstance(m, DemodConv2d) for m in model.modules()):
        raise SystemExit(f"error: style {style!r} has no demodulated decoder; pick one whose architecture says 'demod'")
    demod = use_inference_norms(model).eval().to(memory_format=torch.channels_last)
    folded = fold_demodulation(copy.deepcopy(demod)).to(memory_format=torch.channels_last)  # as the engine
    x = (torch.rand(1, 3, size, size) * 2 - 1).contiguous(memory_format=torch.channels_last)
    models = {"demod": demod, "folded": folded}
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for m in models.values():  # warm-up
            m(x)
        for _ in range(rounds):
            for name, m in models.items():
                start = time.perf_counter()
                m(x)
                times[name].append((time.perf_counter() - start) * 1000.0)
        diff = float((demod(x) - folded(x)).abs().max())
    return {**{name: statistics.median(v) for name, v in times.items()}, "max_abs_diff": diff}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.demod_fold", description=__doc__.splitlines()[0])
    parser.add_argument("--style", default="monet")
    parser.add_argument("--size", type=int, default=256, help="square frame side")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    r = measure(args.style, args.size, args.rounds)
    print(
        f"{args.style} {args.size}x{args.size}, {args.threads} thread(s): demodulated {r['demod']:.1f} ms, "
        f"folded {r['folded']:.1f} ms, ratio {r['demod'] / r['folded']:.2f}x; max |diff| {r['max_abs_diff']:.1e}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
