"""A stand-in for `main.py make-style` that follows the contract's files and exit codes in a few
seconds: progress.json (atomically), a preview.safetensors each `--preview-every` steps, phase
"stopped" and exit 130 on SIGTERM, resume from its own state file, a style added to the library
at the end. Used by tests/app/test_make_style_dialog.py to drive the dialog fast.

    python fake_make_style.py PAINTINGS --name N --run-dir RUN [--photos DIR]... [--minutes M]
        [--base B] [--steps 6] [--step-seconds 0.2] [--preview-every 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

STOP = False


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("paintings", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--photos", type=Path, action="append", default=[])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--base", default="auto")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--step-seconds", type=float, default=0.2)
    parser.add_argument("--preview-every", type=int, default=2)
    parser.add_argument("--refuse", help="refuse the input with this one line before starting a run")
    parser.add_argument("--preview-source", type=Path, help="a style file copied as each preview (no torch import)")
    args = parser.parse_args()

    def on_signal(*_: object) -> None:
        global STOP
        STOP = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.refuse:
        print("loading...")
        print(f"error: {args.refuse}", file=sys.stderr)
        return 1
    images = [p for p in args.paintings.iterdir() if p.suffix.lower() in (".png", ".jpg")]
    if len(images) < 20:
        print(f"error: {args.paintings} has {len(images)} readable images; at least 20 are needed", file=sys.stderr)
        return 1
    if not args.photos or not any(any(p.iterdir()) for p in args.photos if p.is_dir()):
        print("error: no photos", file=sys.stderr)
        return 1
    run = args.run_dir
    run.mkdir(parents=True, exist_ok=True)
    state_path, progress_path = run / "fake_state.json", run / "progress.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {"step": 0, "starts": 0, "preview_step": 0}
    state["starts"] += 1
    write_json(state_path, state)
    progress = {
        "phase": "train",
        "fraction": 0.0,
        "seconds_left": None,
        "step": state["step"],
        "steps": args.steps,
        "message": "starting",
        "preview": None,
        "preview_step": 0,
        "result": None,
    }
    if state.get("done"):
        print("already finished")
        return 0
    if (run / "preview.safetensors").exists():
        progress |= {"preview": str(run / "preview.safetensors"), "preview_step": state["preview_step"]}
    write_json(progress_path, progress)
    while state["step"] < args.steps:
        if STOP:
            write_json(progress_path, progress | {"phase": "stopped", "message": "stopped; run again to resume"})
            return 130
        time.sleep(args.step_seconds)
        state["step"] += 1
        if state["step"] % args.preview_every == 0:
            tmp = run / "preview.safetensors.tmp"
            if args.preview_source:
                shutil.copyfile(args.preview_source, tmp)
            else:
                from models.checkpoints import save_generator
                from tests.conftest import tiny_generator

                save_generator(tmp, *tiny_generator(seed=state["step"]))
            os.replace(tmp, run / "preview.safetensors")
            state["preview_step"] = state["step"]
            progress |= {"preview": str(run / "preview.safetensors"), "preview_step": state["step"]}
        write_json(state_path, state)
        progress |= {
            "step": state["step"],
            "fraction": 0.9 * state["step"] / args.steps,
            "seconds_left": (args.steps - state["step"]) * args.step_seconds,
            "message": f"training on {len(images)} paintings",
        }
        write_json(progress_path, progress)
    from models.style_library import StyleLibrary
    from tests.conftest import tiny_generator

    model, config = tiny_generator(seed=99)
    result = {
        "style": args.name,
        "swd_colour": 100.0,
        "reinhard_swd_colour": 120.0,
        "beats_colour_transfer": True,
        "faces": 0.61,
        "flicker": 1.1,
        "summary": "closer to your paintings than a colour transfer: yes; faces kept: 0.61",
    }
    StyleLibrary().add_style(model, config, args.name, f"{args.name} (mine)", evaluation=result)
    state["done"] = True
    write_json(state_path, state)
    write_json(progress_path, progress | {"phase": "done", "fraction": 1.0, "seconds_left": 0, "result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
