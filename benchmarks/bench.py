"""Measure the generators and the inference engine on this machine; prints a table (and JSON).

For each generator: parameters, GMACs at 256x256, and at each processing size the median and
p95 ms/frame of
- naive: what a reference-code user writes per frame (PIL -> torchvision transforms -> fp32
  NCHW forward -> numpy -> PIL), the "before" column;
- bare: the generator's forward alone on a ready tensor (the floor);
- engine: `InferenceEngine.process`, a BGR uint8 frame in and out (resize, upload, convert,
  forward, convert back);
and the ratios engine/bare (overhead) and naive/engine (speed-up), all measured in one run.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from models.engine import InferenceEngine
from models.registry import PRESETS, create_generator

SIZES = {"256x256": (256, 256), "640x360": (360, 640), "1280x720": (720, 1280)}


def time_ms(fn: Callable[[], object], repeats: int, warmup: int = 2, sync: Callable[[], None] = lambda: None) -> dict:
    for _ in range(warmup):
        fn()
    sync()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        samples.append((time.perf_counter() - start) * 1000.0)
    return {"median": float(np.median(samples)), "p95": float(np.percentile(samples, 95))}


def gmacs_at_256(model: torch.nn.Module) -> float:
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 256, 256))
    return counter.get_total_flops() / 2e9


def naive_step(model: torch.nn.Module, frame_bgr: np.ndarray, h: int, w: int) -> np.ndarray:
    """The per-frame path of a reference-code user, kept deliberately ordinary."""
    from PIL import Image
    from torchvision import transforms

    tf = transforms.Compose(
        [transforms.Resize((h, w)), transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)]
    )
    image = Image.fromarray(frame_bgr[:, :, ::-1])
    with torch.no_grad():
        out = model(tf(image).unsqueeze(0))[0]
    arr = ((out.permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(arr).resize(image.size))[:, :, ::-1]


def bench_generator(name: str, sizes: list[str], device: str, repeats: int, naive: bool) -> dict:
    generator = create_generator(name).eval()
    result = {
        "generator": name,
        "params": sum(p.numel() for p in generator.parameters()),
        "gmacs_256": gmacs_at_256(generator),
        "sizes": {},
    }
    engine = InferenceEngine(device=device, size=None)
    engine.set_style(generator, name)
    sync = torch.cuda.synchronize if engine.device.type == "cuda" else (lambda: None)
    result["device"] = engine.describe()
    rng = np.random.default_rng(0)
    for label in sizes:
        h, w = SIZES[label]
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        x = torch.rand(1, 3, h, w, device=engine.device).to(engine.dtype, memory_format=torch.channels_last)
        model = engine._active.model
        with torch.inference_mode():
            row = {"bare": time_ms(lambda m=model, t=x: m(t), repeats, sync=sync)}
        row["engine"] = time_ms(lambda f=frame: engine.process(f), repeats, sync=sync)
        if naive and engine.device.type == "cpu":
            row["naive"] = time_ms(lambda f=frame, h=h, w=w: naive_step(generator, f, h, w), max(3, repeats // 3))
            row["naive_over_engine"] = row["naive"]["median"] / row["engine"]["median"]
        row["engine_over_bare"] = row["engine"]["median"] / row["bare"]["median"]
        row["engine_fps"] = 1000.0 / row["engine"]["median"]
        result["sizes"][label] = row
    return result


def print_table(results: list[dict]) -> None:
    print(
        f"\n{'generator':<16}{'params':>10}{'GMACs@256':>11}  {'size':<9}{'naive ms':>10}{'bare ms':>9}{'p95':>7}"
        f"{'engine ms':>11}{'p95':>7}{'eng/bare':>9}{'fps':>7}{'speed-up':>9}"
    )
    for r in results:
        for label, row in r["sizes"].items():
            naive = f"{row['naive']['median']:.1f}" if "naive" in row else "-"
            speedup = f"{row['naive_over_engine']:.2f}x" if "naive_over_engine" in row else "-"
            print(
                f"{r['generator']:<16}{r['params']:>10,}{r['gmacs_256']:>11.2f}  {label:<9}{naive:>10}"
                f"{row['bare']['median']:>9.1f}{row['bare']['p95']:>7.1f}{row['engine']['median']:>11.1f}"
                f"{row['engine']['p95']:>7.1f}{row['engine_over_bare']:>8.2f}x{row['engine_fps']:>7.1f}{speedup:>9}"
            )
    print(f"device: {results[0]['device'] if results else '-'}; torch {torch.__version__}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="main.py bench", description=__doc__.splitlines()[0])
    parser.add_argument("--generators", nargs="+", default=["lite", "resnet_9blocks"], choices=sorted(PRESETS))
    parser.add_argument("--sizes", nargs="+", default=["256x256", "640x360"], choices=list(SIZES))
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-naive", action="store_true", help="skip the slow naive reference path")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    results = []
    for name in args.generators:
        repeats = args.repeats if "lite" in name else max(3, args.repeats // 4)
        results.append(bench_generator(name, args.sizes, args.device, repeats, not args.no_naive))
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
