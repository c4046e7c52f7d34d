"""What each optional stage of a style costs per frame: `main.py bench --suite costs`.

The stages a user or a recipe switches per style: the temporal stabilizer (key T), the detail
step at the app's default Detail with face-aware mode (models/detail.py; measured against Detail
0, both with the stabilizer, as the app runs) and without it (`detail_scene`: the upscaling
alone), the palette map (train.palette) and the colour guard (train.colour_guard). For each, the
whole engine
(`InferenceEngine.process`, a 640x480 BGR frame in and out) runs the same style with the stage on
and off, frame by frame in turns in one process (the one going first alternates), so both see
the same moments of machine load: compare the ratio, not the absolute times, across runs.

The frames are consecutive frames of a real clip (../shared/data/videos/sister.mkv, 640x480), or
of the app's demo scene without it: the stabilizer needs a stream (its flow and blend run from a
stream's second frame on), and each round restarts the stream at the next stretch of the clip.

Replaces the one-off probes stabilizer_cost, palette_cost and colour_guard_cost (2026-11-26 to
11-29); their findings, and those of the retired border_cost, demod_fold and face_size, are in
docs/performance.md.
"""

from __future__ import annotations

import itertools
import statistics
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from torch import nn

from models.detail import DEFAULT_DETAIL
from models.engine import InferenceEngine
from models.registry import GeneratorConfig, create_generator
from models.style_library import StyleLibrary
from models.video_io import VideoReader

CLIP = (Path(__file__).resolve().parent.parent / ".." / "shared" / "data" / "videos" / "sister.mkv").resolve()
STAGES = ("stabilizer", "detail", "detail_scene", "palette", "colour_guard")


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


def without_palette(model: nn.Module, config: GeneratorConfig) -> nn.Module:
    """The same generator minus its palette map (every other weight the same)."""
    plain = create_generator(replace(config, palette=False)).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("palette.")})
    return plain


def stage_variants(library: StyleLibrary, style: str, stage: str, guard_block: int = 8) -> dict[str, tuple]:
    """{"on": (generator, engine options), "off": (...)} for one stage of a style; empty when the
    style cannot have it (a palette cost needs a style with a palette map)."""
    entry = library.resolve(style)
    if stage in ("stabilizer", "detail", "detail_scene"):
        model, _ = library.load(entry)
        if stage == "stabilizer":
            return {"on": (model, {"stabilize": True}), "off": (model, {"stabilize": False})}
        detailed = {"stabilize": True, "detail": DEFAULT_DETAIL, "faces": stage == "detail", "live": True}  # as the app
        return {"on": (model, detailed), "off": (model, {"stabilize": True})}
    if stage == "palette":
        if not entry.config.palette:
            return {}
        model, _ = library.load(entry)
        return {"on": (model, {}), "off": (without_palette(model, entry.config), {})}
    if stage == "colour_guard":  # weight-free: the same generator with the guard on and off
        block = entry.config.colour_guard or guard_block
        guarded, _ = library.load(replace(entry, config=replace(entry.config, colour_guard=block)))
        plain, _ = library.load(replace(entry, config=replace(entry.config, colour_guard=0)))
        return {"on": (guarded, {}), "off": (plain, {})}
    raise ValueError(f"unknown stage {stage!r}; one of {', '.join(STAGES)}")


def measure_pair(
    variants: dict[str, tuple],
    size: int,
    frames: list[np.ndarray],
    rounds: int,
    per_round: int,
    precision: str = "auto",
    ran: dict[str, str] | None = None,
) -> dict[str, list[float]]:
    """Wall-clock ms of each `engine.process` call per variant, frame by frame in turns.

    `ran`, when given, receives each variant's `engine.running_precision`: what really ran (the
    PyTorch backend runs fp32 under a bf16 engine)."""
    engines = {}
    for name, (generator, options) in variants.items():
        # each engine prepares its own copy: the pair may share one generator (the stabilizer)
        engines[name] = InferenceEngine(device="cpu", size=size, precision=precision, **options)
        engines[name].set_style(generator, name)
        if ran is not None:
            ran[name] = engines[name].running_precision
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


def stage_costs(
    style: str | None,
    sizes: list[int],
    rounds: int = 6,
    per_round: int = 20,
    clip: Path | None = CLIP,
    library: StyleLibrary | None = None,
) -> dict:
    """Median and p95 ms per frame with and without each stage, per processing size."""
    library = library or StyleLibrary()
    style = style or library.default_style_name()
    if style is None:
        raise SystemExit("error: no style in the library to measure the stage costs on")
    frames, source = clip_frames(clip, max(per_round * 3, 60))
    bf16_here = InferenceEngine(device="cpu").precision == "bf16"
    rows = []
    for stage in STAGES:
        variants = stage_variants(library, style, stage)
        if not variants:
            rows.append({"stage": stage, "skipped": f"{style} has no {stage.replace('_', ' ')}"})
            continue
        # Where the CPU runs bf16 a guarded style runs its body in bf16 and the guard after it in
        # fp32 (models/backends.py), unguarded in one bf16 graph: measured again with both in fp32.
        precisions = ["auto", "fp32"] if stage == "colour_guard" and bf16_here else ["auto"]
        for size, precision in itertools.product(sizes, precisions):
            times = measure_pair(variants, size, frames, rounds, per_round, precision)
            on, off = (statistics.median(times[k]) for k in ("on", "off"))
            label = stage if precision == "auto" else f"{stage} ({precision})"
            rows.append({
                "stage": label, "size": size, "on_ms": on, "off_ms": off, "ratio": on / off,
                "on_p95": float(np.percentile(times["on"], 95)), "off_p95": float(np.percentile(times["off"], 95)),
                "frames": len(times["on"]),
            })  # fmt: skip
    precision = "bf16" if bf16_here else "fp32"
    return {"style": style, "source": source, "precision": precision, "rounds": rounds, "per_round": per_round,
            "rows": rows}  # fmt: skip


def print_costs(result: dict) -> None:
    print(
        f"\nstage costs: {result['style']}, whole engine per 640x480 frame of {result['source']}, "
        f"{result['rounds']} rounds x {result['per_round']} frames, on / off in turns, CPU {result['precision']}"
    )
    print(f"{'stage':<20} {'size':>5} {'on ms':>8} {'p95':>7} {'off ms':>8} {'p95':>7} {'ratio':>6} {'extra':>7}")
    for row in result["rows"]:
        if "skipped" in row:
            print(f"{row['stage']:<20} skipped: {row['skipped']}")
            continue
        print(
            f"{row['stage']:<20} {row['size']:>5} {row['on_ms']:8.2f} {row['on_p95']:7.2f} {row['off_ms']:8.2f} "
            f"{row['off_p95']:7.2f} {row['ratio']:6.3f} {row['on_ms'] - row['off_ms']:+7.2f}"
        )
