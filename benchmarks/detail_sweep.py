"""The Detail sweep that chose the app's default: face structure on the webcam clips at the
camera's resolution against SWD to each style's test paintings, per Detail value.

    python -m benchmarks.detail_sweep [--styles vangogh monet ukiyoe] [--details 0 0.1 ...]
        [--size 360] [--photos 100] [--out docs/detail] [--fast]

For each style and Detail value, through the app's engine (temporal stabilizer on, as the app
runs it; face-aware mode on and off):
- webcam: face structure and flicker ratio on the first 90 frames of book.mkv and sister.mkv
  (640x480) at processing size `--size`, judged at 640x480 (train/evaluation/webcam_metrics.py);
- test split: each 256x256 test photo is processed at 256 (what the generator sees in
  `train.evaluate`, so Detail 0 gives its figures) with the detail step at that same size (it
  still takes the photo's edges: `out = styled + detail * (guided - styled)`), for SWD and
  SWD+colour to the test paintings, beside the unstylized photos and Reinhard colour transfer.
  No resampling on the way: a 2x up-and-down round trip alone, tried first, blurred the finest
  pyramid level enough to take Van Gogh's SWD+colour from 99 to 168 at Detail 0.
Writes `sweep.json` and one plot per style (`STYLE.png`) to `--out`. `--fast` sweeps each style's
fast twin (models/fast_generator.py) instead of its full model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from models.detail import FACE_EXPONENT
from models.engine import InferenceEngine
from models.style_library import StyleLibrary
from train.evaluation.evaluate import load_images
from train.evaluation.metrics import reinhard_transfer, swd, swd_descriptors
from train.evaluation.webcam_metrics import WebcamClip, load_clip

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATASETS = {"vangogh": "vangogh2photo", "monet": "monet2photo", "ukiyoe": "ukiyoe2photo"}
DETAILS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)
CLIPS = ("book.mkv", "sister.mkv")


def webcam_point(engine: InferenceEngine, clips: list[WebcamClip]) -> dict:
    """Face structure and flicker ratio per clip, with the engine's current settings."""
    out = {}
    for clip in clips:
        engine.reset_stream()
        figures = clip.figures([engine.process(f) for f in clip.frames])
        out[clip.name] = {"face_structure": figures.face_structure, "flicker_ratio": figures.flicker_ratio}
    return out


def split_swd(engine: InferenceEngine, photos_bgr: list[np.ndarray], real: object) -> dict:
    """SWD and SWD+colour of the test photos through the engine at their own size."""
    images = []
    for photo in photos_bgr:
        engine.reset_stream()  # each photo alone
        images.append(engine.process(photo)[..., ::-1])  # to RGB, as the metrics expect
    desc = swd_descriptors(images, seed=2)
    return {"swd": float(np.mean(swd(desc, real))), "swd_colour": float(np.mean(swd(desc, real, joint=True)))}


def baselines(photos_rgb: list[np.ndarray], paintings: list[np.ndarray], real: object) -> dict:
    sets = {
        "photos": photos_rgb,
        "reinhard": [reinhard_transfer(p, paintings[i % len(paintings)]) for i, p in enumerate(photos_rgb)],
    }
    out = {}
    for name, images in sets.items():
        desc = swd_descriptors(images, seed=2)
        out[name] = {"swd": float(np.mean(swd(desc, real))), "swd_colour": float(np.mean(swd(desc, real, joint=True)))}
    return out


def load_model(name: str, fast: bool) -> tuple[object, object]:
    """The style's full generator, or its fast twin (an error naming the style if it has none)."""
    library = StyleLibrary()
    style = library.resolve(name)
    if not fast:
        return library.load(style)
    twin = library.fast_twin_style(style)
    if twin is None:
        raise SystemExit(f"error: style {name!r} has no fast twin")
    return library.load(twin)


def sweep_style(
    name: str,
    details: list[float],
    size: int,
    clips: list[WebcamClip],
    photos: int,
    log: object = print,
    fast: bool = False,
) -> dict:
    generator, style = load_model(name, fast)
    root = SHARED / DATASETS[name]
    photos_rgb = load_images(root / "testA", 256, photos, "photos")
    paintings = load_images(root / "testB", 256, photos, "style images")
    real = swd_descriptors(paintings, seed=1)
    photos_bgr = [np.ascontiguousarray(p[..., ::-1]) for p in photos_rgb]
    label = f"{style.display_name} (fast)" if fast else style.display_name
    result = {"style": label, "baselines": baselines(photos_rgb, paintings, real), "points": []}
    clip_engine = InferenceEngine("cpu", size=size, stabilize=True)
    clip_engine.set_style(generator, name)
    split_engine = InferenceEngine("cpu", size=256)  # test photos are stills: no stabilizer
    split_engine.set_style(generator, name)
    for detail in details:
        point = {"detail": detail}
        split_engine.detail, split_engine.faces = detail, True
        point["split"] = split_swd(split_engine, photos_bgr, real)
        for faces in (False, True):
            clip_engine.detail, clip_engine.faces = detail, faces
            point["faces" if faces else "scene only"] = webcam_point(clip_engine, clips)
        result["points"].append(point)
        log(f"{name} detail {detail:.2f}: {json.dumps(point)}")
    return result


# -- the plot (OpenCV only: no plotting dependency for one figure) ------------------------------
PLOT_W, PLOT_H, MARGIN = 720, 480, 70
INK, GRID, FACES, SCENE, REINHARD = (40, 40, 40), (225, 225, 225), (40, 110, 220), (200, 140, 40), (60, 60, 200)


def _mean_face(point: dict, key: str) -> float:
    return float(np.mean([point[key][c]["face_structure"] for c in point[key]]))


def plot_style(result: dict, path: Path, default: float | None = None) -> None:
    """Face structure (mean of the clips) against SWD to the test paintings, one dot per Detail."""
    img = np.full((PLOT_H, PLOT_W, 3), 255, np.uint8)
    points = result["points"]
    reinhard, photos = result["baselines"]["reinhard"]["swd"], result["baselines"]["photos"]["swd"]
    xs = [p["split"]["swd"] for p in points] + [reinhard, photos]
    x_lo, x_hi = min(xs) * 0.95, max(xs) * 1.05
    y_lo, y_hi = 0.4, 1.0

    def at(x: float, y: float) -> tuple[int, int]:
        px = MARGIN + (x - x_lo) / (x_hi - x_lo) * (PLOT_W - 2 * MARGIN)
        py = PLOT_H - MARGIN - (y - y_lo) / (y_hi - y_lo) * (PLOT_H - 2 * MARGIN)
        return round(px), round(py)

    font = cv2.FONT_HERSHEY_SIMPLEX
    for y in np.arange(0.4, 1.01, 0.1):
        cv2.line(img, at(x_lo, y), at(x_hi, y), GRID, 1)
        cv2.putText(img, f"{y:.1f}", (MARGIN - 40, at(x_lo, y)[1] + 5), font, 0.45, INK, 1, cv2.LINE_AA)
    for x in np.linspace(x_lo, x_hi, 6):
        cv2.putText(img, f"{x:.0f}", (at(x, y_lo)[0] - 12, PLOT_H - MARGIN + 20), font, 0.45, INK, 1, cv2.LINE_AA)
    cv2.rectangle(img, at(x_lo, y_hi), at(x_hi, y_lo), INK, 1)
    for row, (x, label, colour) in enumerate(((reinhard, "Reinhard", REINHARD), (photos, "photos", INK))):
        cv2.line(img, at(x, y_lo), at(x, y_hi), colour, 1, cv2.LINE_AA)
        where = (at(x, y_hi)[0] + 4, at(x, y_lo)[1] - 12 - 18 * row)  # low, and apart when the lines are close
        cv2.putText(img, label, where, font, 0.45, colour, 1, cv2.LINE_AA)
    for key, colour in (("scene only", SCENE), ("faces", FACES)):
        line = [at(p["split"]["swd"], _mean_face(p, key)) for p in points]
        cv2.polylines(img, [np.array(line, np.int32)], False, colour, 2, cv2.LINE_AA)
        for p, xy in zip(points, line, strict=True):
            cv2.circle(img, xy, 5 if p["detail"] != default else 8, colour, -1, cv2.LINE_AA)
            if key == "faces":
                cv2.putText(img, f"{p['detail']:g}", (xy[0] + 7, xy[1] - 7), font, 0.4, colour, 1, cv2.LINE_AA)
    title = f"{result['style']}: face structure (clips, 640x480) vs SWD to test paintings, by Detail"
    cv2.putText(img, title, (MARGIN - 40, 30), font, 0.5, INK, 1, cv2.LINE_AA)
    cv2.putText(img, "SWD x1e3 (lower = closer to the paintings)", (PLOT_W // 2 - 150, PLOT_H - 20), font, 0.45, INK)
    legend = [(f"face-aware (faces get detail^{FACE_EXPONENT:g})", FACES), ("scene detail only", SCENE)]
    for i, (label, colour) in enumerate(legend):
        y = PLOT_H - MARGIN - 90 + 20 * i
        cv2.circle(img, (PLOT_W - MARGIN - 270, y - 4), 5, colour, -1, cv2.LINE_AA)
        cv2.putText(img, label, (PLOT_W - MARGIN - 258, y), font, 0.45, INK, 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.detail_sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--styles", nargs="+", default=list(DATASETS))
    parser.add_argument("--details", nargs="+", type=float, default=list(DETAILS))
    parser.add_argument("--size", type=int, default=360, help="processing size on the clips (short side)")
    parser.add_argument("--photos", type=int, default=100, help="test photos and paintings per style")
    parser.add_argument("--default", type=float, help="mark this Detail value on the plots")
    parser.add_argument("--out", type=Path, default=Path("docs/detail"))
    parser.add_argument("--replot", action="store_true", help="only draw the plots again from OUT/sweep.json")
    parser.add_argument("--fast", action="store_true", help="sweep the styles' fast twins instead of their full models")
    args = parser.parse_args(argv)
    if args.replot:
        results = json.loads((args.out / "sweep.json").read_text())
        for name, result in results["styles"].items():
            plot_style(result, args.out / f"{name}.png", args.default)
        return 0
    missing = [p for p in [SHARED / "videos" / c for c in CLIPS] if not p.exists()]
    if missing:
        print(f"error: {missing[0]} is missing; the sweep needs ../shared/data beside the repo", file=sys.stderr)
        return 1
    start = time.perf_counter()
    clips = [load_clip(SHARED / "videos" / c) for c in CLIPS]
    results = {"size": args.size, "clips": list(CLIPS), "model": "fast" if args.fast else "full", "styles": {}}
    for name in args.styles:
        results["styles"][name] = sweep_style(name, args.details, args.size, clips, args.photos, fast=args.fast)
        plot_style(results["styles"][name], args.out / f"{name}.png", args.default)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}/sweep.json and plots in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
