"""What one style costs per frame against another: `python -m benchmarks.style_cost --styles A B`.

For a larger generator (a style fine-tuned wider, `train.distill --fine-tune --ngf N`) the
question is what its gain costs: each style (a library name or a weights file) runs in the app's
engine (640x480 frames of sister.mkv, the processing size given, the temporal stabilizer on,
Detail 0), frame by frame in turns in one process (the order alternating), as the stage-cost
suite does, so both see the same machine load. Compare the ratio, not the absolute times.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.bench import summary
from benchmarks.stage_costs import CLIP, clip_frames, measure_pair
from models.style_library import StyleLibrary


def style_costs(
    styles: list[str], size: int, precisions: list[str], rounds: int, per_round: int, clip: Path | None = CLIP
) -> list[dict]:
    """Median and p95 ms per frame of each style at each precision, and its ratio to the first style."""
    library = StyleLibrary()
    variants = {name: (library.load(name)[0], {"stabilize": True}) for name in styles}
    frames, _source = clip_frames(clip, max(per_round * 3, 60))
    rows = []
    for precision in precisions:
        ran: dict[str, str] = {}
        times = measure_pair(variants, size, frames, rounds, per_round, precision, ran)
        stats = {name: summary(times[name]) for name in styles}
        base = stats[styles[0]]["median"]
        for name in styles:
            median, p95 = stats[name]["median"], stats[name]["p95"]
            rows.append({"style": name, "precision": precision, "runs": ran[name], "size": size,
                         "median_ms": round(median, 2),
                         "p95_ms": round(p95, 2), "ratio": round(median / base, 3)})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--styles", nargs="+", required=True, help="library style names or weights files")
    parser.add_argument("--size", type=int, default=256, help="processing short side")
    parser.add_argument("--precision", nargs="+", default=["bf16", "fp32"], choices=("auto", "fp32", "bf16"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-round", type=int, default=40)
    args = parser.parse_args(argv)
    if len(args.styles) < 2:
        parser.error("--styles needs at least two styles to compare")
    rows = style_costs(args.styles, args.size, args.precision, args.rounds, args.per_round)
    print(f"{'style':<44}{'asked':>7}{'runs':>6}{'median ms':>11}{'p95':>8}{'ratio':>8}")
    for r in rows:
        print(f"{r['style']:<44}{r['precision']:>7}{r['runs']:>6}{r['median_ms']:>11.1f}{r['p95_ms']:>8.1f}"
              f"{r['ratio']:>7.2f}x")  # fmt: skip
    print(f"640x480 frames at {args.size}px, stabilizer on, Detail 0; the styles in turns, ratio to the first")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
