"""`python -m train.stages.average CKPT CKPT ... --out FILE`: average the generators of several snapshots.

Averaging a GAN generator's weights along its trajectory (Yazici et al. 2019, "The unusual
effectiveness of averaging in GAN training") cancels much of the step-to-step oscillation that
shows up as blotches and busy texture, at no training cost. The result is a normal checkpoint
(the last snapshot's state with averaged generators, labelled as such), so `train.evaluate --run`
and `train.stages.export` take it like any other.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from models.errors import StyleCamError
from train.trainers.checkpoint import load_checkpoint, save_checkpoint

GENERATOR_KEYS = ("G_A", "G_B")


def average_checkpoints(paths: list[Path]) -> dict:
    """The last checkpoint's state with G_A and G_B replaced by the mean over all `paths`."""
    if len(paths) < 2:
        raise StyleCamError("give at least two checkpoints to average")
    states = [load_checkpoint(p) for p in paths]
    base = states[-1]
    for path, state in zip(paths, states, strict=True):
        if state["generator_config"] != base["generator_config"] or state.get("kind") != base.get("kind"):
            raise StyleCamError(f"{path} is not a snapshot of the same run as {paths[-1]}")
    averaged = dict(base)
    averaged["models"] = _mean_generators([s["models"] for s in states])
    if all("ema" in s for s in states):  # the export reads the EMA shadows, so average those too
        averaged["ema"] = {**base["ema"], "models": _mean_generators([s["ema"]["models"] for s in states])}
    else:
        averaged.pop("ema", None)
    averaged["averaged_steps"] = [int(s["step"]) for s in states]
    return averaged


def _mean_generators(model_sets: list[dict]) -> dict:
    """The last set with each generator in GENERATOR_KEYS replaced by the element-wise mean."""
    base = dict(model_sets[-1])
    for key in GENERATOR_KEYS:
        if key in base:
            base[key] = {
                name: torch.stack([m[key][name].float() for m in model_sets]).mean(0).to(tensor.dtype)
                for name, tensor in base[key].items()
            }
    return base


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.stages.average", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", type=Path, help="snapshots of one run (checkpoints/step_*.pt)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the averaged checkpoint")
    args = parser.parse_args(argv)
    try:
        state = average_checkpoints(args.checkpoints)
    except StyleCamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    save_checkpoint(args.out, state)
    print(f"averaged the generators of steps {state['averaged_steps']} into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
