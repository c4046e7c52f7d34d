"""Pilot for issue 31 (item 3): can matching the style's OUTPUT colour statistics to the paintings'
make a shipped style beat Reinhard by 5% on SWD+colour, with no training?

    python -m benchmarks.colour_match_pilot [--styles vangogh monet ukiyoe] [--alphas 0 0.5 1]
        [--out runs/colour_match_pilot] [--threads 1]

Each output frame, in Lab (OpenCV float, as train.evaluation.metrics.reinhard_transfer), gets its
per-channel mean and std moved a fraction `alpha` of the way to a typical painting's:
  m' = m + alpha (m_p - m),  s' = s + alpha (s_p - s),  out = (out - m) / s * s' + m'
where m_p, s_p are the mean over the style's TRAINING paintings (trainB, 256 px) of each
painting's own Lab mean and std (the test paintings that SWD is measured against are not used).
On clips the frame's (m, s) are used as they are ("per frame") or smoothed over the frames with
an exponential moving average ("ema", weight 0.1 for the new frame), so the correction does not
pump. Figures, all at 256 px, generator in fp32 (the engine pinned to fp32 for faces and clips):
- landscape test split (100 photos): SWD and SWD+colour, beside the photos and Reinhard;
- webcam_photos/testA rooms (120): SWD and SWD+colour against the style's test paintings;
- webcam_photos/testA portraits + selfies: face structure as they are and at webcam scale
  (train/evaluation/stills.py);
- book.mkv / sister.mkv (90 frames): flicker ratio and face structure, with and without the
  temporal stabilizer (correction after it, as a post step would run).
Writes OUT/pilot.json and prints one table per style. Nothing in weights/ or models/ changes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from models.engine import InferenceEngine
from models.style_library import StyleLibrary
from train.evaluation.evaluate import load_images, reinhard_set, stylize, swd_by_method
from train.evaluation.metrics import swd_descriptors
from train.evaluation.stills import FACE_KINDS, load_rooms, load_still, scan_stills, still_face_boxes, webcam_scale
from train.evaluation.webcam_metrics import face_correlations, load_clip

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATASETS = {"vangogh": "vangogh2photo", "monet": "monet2photo", "ukiyoe": "ukiyoe2photo"}
CLIPS = ("book.mkv", "sister.mkv")
EMA = 0.1  # weight of the new frame's statistics


def lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def lab_stats(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = lab(rgb).reshape(-1, 3)
    return pixels.mean(0), pixels.std(0) + 1e-6


def painting_stats(folder: Path, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the paintings of each one's Lab mean and std (a typical painting's statistics)."""
    stats = [lab_stats(p) for p in load_images(folder, size, None, "paintings")]
    return np.mean([m for m, _ in stats], 0), np.mean([s for _, s in stats], 0)


def match(rgb: np.ndarray, target: tuple, alpha: float, stats: tuple | None = None) -> np.ndarray:
    """`rgb` with its Lab mean/std moved `alpha` of the way to `target`'s; `stats`: the (mean, std)
    to correct from (the image's own when None)."""
    if alpha == 0.0:
        return rgb
    m, s = lab_stats(rgb) if stats is None else stats
    m2, s2 = m + alpha * (target[0] - m), s + alpha * (target[1] - s)
    out = (lab(rgb) - m) / s * s2 + m2
    return np.clip(cv2.cvtColor(out.astype(np.float32), cv2.COLOR_LAB2RGB) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def match_bgr_clip(frames: list[np.ndarray], target: tuple, alpha: float, smooth: bool) -> list[np.ndarray]:
    """Colour-match a clip of BGR frames, with per-frame or EMA-smoothed statistics."""
    out, running = [], None
    for f in frames:
        rgb = np.ascontiguousarray(f[..., ::-1])
        m, s = lab_stats(rgb)
        running = (
            (m, s)
            if running is None or not smooth
            else tuple(EMA * x + (1 - EMA) * r for x, r in zip((m, s), running, strict=True))
        )
        out.append(np.ascontiguousarray(match(rgb, target, alpha, running)[..., ::-1]))
    return out


def swd_rows(stylized: list, photos: list, styles: list, real: object, target: tuple, alphas: list[float]) -> dict:
    sets = {"photos": photos, "reinhard": reinhard_set(photos, styles)}
    sets |= {f"alpha {a:g}": [match(s, target, a) for s in stylized] for a in alphas}
    plain, joint = swd_by_method(sets, real)
    return {
        m: {"swd": round(float(np.mean(plain[m])), 2), "swd_joint": round(float(np.mean(joint[m])), 2)} for m in sets
    }


def pilot_style(name: str, alphas: list[float], clips: list, stills: dict) -> dict:
    root = SHARED / DATASETS[name]
    generator, _ = StyleLibrary().load(name)
    generator = generator.eval()
    target = painting_stats(root / "trainB")
    result: dict = {"target_lab_mean": [round(float(v), 2) for v in target[0]],
                    "target_lab_std": [round(float(v), 2) for v in target[1]]}  # fmt: skip
    styles = load_images(root / "testB", 256, 100, "style images")
    real = swd_descriptors(styles, seed=1)
    photos = load_images(root / "testA", 256, 100, "photos")
    result["split"] = swd_rows(stylize(generator, photos), photos, styles, real, target, alphas)
    rooms = load_rooms(stills["room"], 256)
    result["rooms"] = swd_rows(stylize(generator, rooms), rooms, styles, real, target, alphas)
    engine = InferenceEngine("auto", size=256, precision="fp32")
    engine.set_style(generator, name)
    faces: dict[str, list[float]] = {f"alpha {a:g}{w}": [] for a in alphas for w in ("", " webcam scale")}
    for path in [p for k in FACE_KINDS for p in stills[k]]:
        bgr = np.ascontiguousarray(load_still(path, 256)[..., ::-1])
        boxes = still_face_boxes(bgr)
        if not boxes:
            continue
        small, small_boxes, small_size = webcam_scale(bgr, boxes, 256)
        for image, image_boxes, size, w in ((bgr, boxes, 256, ""), (small, small_boxes, small_size, " webcam scale")):
            engine.size = size
            out = np.ascontiguousarray(engine.process(image)[..., ::-1])
            for a in alphas:
                matched = np.ascontiguousarray(match(out, target, a)[..., ::-1])
                faces[f"alpha {a:g}{w}"] += face_correlations([image], [matched], [image_boxes])
    result["stills_faces"] = {k: round(float(np.mean(v)), 3) for k, v in faces.items()}
    result["clips"] = {}
    for stabilize in (True, False):
        clip_engine = InferenceEngine("auto", size=256, precision="fp32", stabilize=stabilize)
        clip_engine.set_style(generator, name)
        key = "stabilized" if stabilize else "not stabilized"
        result["clips"][key] = {}
        for clip in clips:
            clip_engine.reset_stream()
            outputs = [clip_engine.process(f) for f in clip.frames]
            rows = {}
            for a in alphas:
                for smooth in (False, True) if a else (False,):
                    figures = clip.figures(match_bgr_clip(outputs, target, a, smooth))
                    label = f"alpha {a:g}" + (" ema" if smooth else "")
                    rows[label] = {"flicker": round(figures.flicker_ratio, 3), "face": round(figures.face_structure, 3)}
            result["clips"][key][clip.name] = rows
    return result


def reinhard_variants(name: str) -> dict:
    """What makes the Reinhard baseline strong: SWD+colour on the test split and the rooms of
    Reinhard to the test paintings in turn (the baseline), to the training paintings in turn, and
    of the photos and the stylized images matched to one typical training painting (alpha 1) or
    Reinhard-transferred to the training paintings in turn."""
    root = SHARED / DATASETS[name]
    generator, _ = StyleLibrary().load(name)
    generator = generator.eval()
    target = painting_stats(root / "trainB")
    styles = load_images(root / "testB", 256, 100, "style images")
    train_paintings = load_images(root / "trainB", 256, 120, "paintings")
    real = swd_descriptors(styles, seed=1)
    rooms = load_rooms(scan_stills(SHARED / "webcam_photos" / "testA")["room"], 256)
    out = {}
    for split, photos in (("split", load_images(root / "testA", 256, 100, "photos")), ("rooms", rooms)):
        stylized = stylize(generator, photos)
        sets = {
            "reinhard (test paintings)": reinhard_set(photos, styles),
            "reinhard (training paintings)": reinhard_set(photos, train_paintings),
            "photos matched to typical": [match(p, target, 1.0) for p in photos],
            "stylized": stylized,
            "stylized + reinhard (training paintings)": reinhard_set(stylized, train_paintings),
        }
        plain, joint = swd_by_method(sets, real)
        out[split] = {
            m: {"swd": round(float(np.mean(plain[m])), 2), "swd_joint": round(float(np.mean(joint[m])), 2)}
            for m in sets
        }
    return out


def table(name: str, r: dict) -> str:
    lines = [f"== {name}: target Lab mean {r['target_lab_mean']} std {r['target_lab_std']}"]
    for split in ("split", "rooms"):
        reinhard = r[split]["reinhard"]["swd_joint"]
        lines.append(f"{split:6s} {'method':16s} {'SWD':>7s} {'SWD+col':>8s} {'vs Reinhard':>11s}")
        for m, v in r[split].items():
            lines.append(
                f"{'':6s} {m:16s} {v['swd']:7.1f} {v['swd_joint']:8.1f} {100 * (reinhard - v['swd_joint']) / reinhard:+10.1f}%"
            )
    lines.append(f"stills faces: {r['stills_faces']}")
    for key, per_clip in r["clips"].items():
        for clip, rows in per_clip.items():
            cells = ", ".join(f"{k}: {v['flicker']:.2f}/{v['face']:.3f}" for k, v in rows.items())
            lines.append(f"{clip} {key} (flicker/face): {cells}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.colour_match_pilot", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--styles", nargs="+", default=list(DATASETS))
    parser.add_argument("--alphas", nargs="+", type=float, default=[0.0, 0.5, 1.0])
    parser.add_argument("--out", type=Path, default=Path("runs/colour_match_pilot"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--reinhard-variants", action="store_true",
        help="only SWD+colour of Reinhard and matching variants (what makes the baseline strong)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    if not (SHARED / "webcam_photos" / "testA").is_dir():
        print(f"error: {SHARED} has no webcam_photos/testA; the pilot needs ../shared/data", file=sys.stderr)
        return 1
    start = time.perf_counter()
    if args.reinhard_variants:
        variants = {}
        for name in args.styles:
            variants[name] = reinhard_variants(name)
            for split, rows in variants[name].items():
                for m, v in rows.items():
                    print(f"{name} {split:5s} {m:42s} {v['swd']:7.1f} {v['swd_joint']:8.1f}", flush=True)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "reinhard_variants.json").write_text(json.dumps(variants, indent=2) + "\n")
        return 0
    stills = scan_stills(SHARED / "webcam_photos" / "testA")
    clips = [load_clip(SHARED / "videos" / c) for c in CLIPS]
    results = {"alphas": args.alphas, "ema": EMA, "styles": {}}
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.styles:
        results["styles"][name] = pilot_style(name, args.alphas, clips, stills)
        print(table(name, results["styles"][name]), flush=True)
        (args.out / "pilot.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"done in {time.perf_counter() - start:.0f} s; {args.out / 'pilot.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
