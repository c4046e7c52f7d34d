"""Face structure and flicker of library styles by processing size, on the webcam clips.

    python -m benchmarks.face_size [--styles vangogh monet ukiyoe] [--sizes 256 320 384]
        [--clips ../shared/data/videos/book.mkv ../shared/data/videos/sister.mkv] [--frames 90]
        [--sheets docs/faces] [--threads 1]

The clips are read and their flows and faces worked out once (train/webcam_metrics.py); each
style then runs through the app's engine at each size. Prints one row per style, size and clip,
the references (input round trip at that size, Gaussian blur sigma 3) once per size, and the
medians over clips. `--sheets DIR` writes DIR/<style>.jpg at the first size and
DIR/<style>_<size>.jpg at the others: face crops, input | stylized.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as bench.py: no spinning threads between calls

import cv2
import torch

from models.style_library import StyleLibrary
from train.webcam_metrics import CLIP_FRAMES, ClipFigures, evaluate_webcam, load_clip

CLIPS = [Path("../shared/data/videos/book.mkv"), Path("../shared/data/videos/sister.mkv")]


def row(style: str, size: int, clip: str, f: ClipFigures) -> str:
    return f"{style:22s} {size:5d} {clip:11s} {f.flicker_ratio:8.2f} {f.face_structure:11.3f} {len(f.face_values):6d}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.face_size", description=__doc__.splitlines()[0])
    parser.add_argument("--styles", nargs="+", default=["vangogh", "monet", "ukiyoe"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 320, 384], help="processing short sides")
    parser.add_argument("--clips", nargs="+", type=Path, default=CLIPS)
    parser.add_argument("--frames", type=int, default=CLIP_FRAMES, help="first frames of each clip")
    parser.add_argument("--sheets", type=Path, help="folder for face sheets (<style>.jpg, <style>_<size>.jpg)")
    parser.add_argument("--library", type=Path, help="style library folder")
    parser.add_argument("--threads", type=int, help="torch and OpenCV CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    start = time.perf_counter()
    clips = [load_clip(path, args.frames) for path in args.clips]
    print(f"clips read, flows and faces in {time.perf_counter() - start:.0f} s: "
          + ", ".join(f"{c.name} {len(c.frames)} frames {c.faces} faces" for c in clips))  # fmt: skip
    library = StyleLibrary(args.library)
    head = f"{'style':22s} {'size':>5s} {'clip':11s} {'flicker':>8s} {'face struct':>11s} {'faces':>6s}"
    lines, medians = [head, "-" * len(head)], []
    for size in args.sizes:
        for k, name in enumerate(args.styles):
            model, style = library.load(name)
            sheet = None
            if args.sheets:
                sheet = args.sheets / (f"{style.name}.jpg" if size == args.sizes[0] else f"{style.name}_{size}.jpg")
            began = time.perf_counter()
            result = evaluate_webcam(model, clips, size, face_sheet=sheet, label=style.name, references=k == 0)
            seconds = time.perf_counter() - began
            if k == 0:
                for clip, refs in result.references.items():
                    lines += [row(ref, size, clip, f) for ref, f in refs.items() if ref != "input"]
            lines += [row(style.name, size, clip, f) for clip, f in result.clips.items()]
            medians.append(
                f"{style.name:22s} {size:5d} {'all':11s} {result.flicker_ratio_median():8.2f} "
                f"{result.face_structure_mean():11.3f} {sum(len(f.face_values) for f in result.clips.values()):6d}"
                f"   ({seconds:.0f} s{', sheet ' + str(sheet) if sheet else ''})"
            )
            print(lines[-1], flush=True)
    print("\n".join(lines))
    print("median flicker ratio over clips, mean face structure over faces:")
    print("\n".join(medians))
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
