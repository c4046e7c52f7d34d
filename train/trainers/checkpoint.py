"""Training checkpoints: plain dicts of tensors and numbers, written atomically, read with
`torch.load(weights_only=True)` (no code is ever unpickled), RNG states stored as tensors.

`python -m train.trainers.checkpoint RUN...` writes each run's slim checkpoint (`slim_checkpoint`:
generators, configs and EMA, no optimisers or pools), what a lent GPU brings back
(scripts/gpu_recipe.sh).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
from pathlib import Path

import torch

from models.errors import StyleCamError

CHECKPOINT_FORMAT = "stylecam-train-v1"
LATEST = "latest.pt"
SLIM = "slim.pt"
# What only resuming needs; a slim checkpoint drops it (and the discriminators, adapters).
RESUME_ONLY = ("optimizers", "schedulers", "scalers", "rank_states")


def cpu_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's tensors detached and on the CPU, ready for `save_checkpoint`."""
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def save_checkpoint(path: Path, state: dict) -> None:
    """Write `state` to `path` so that a crash at any moment leaves the previous file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_checkpoint(path: Path) -> dict:
    """Read a training checkpoint (a file, or a run folder holding checkpoints/latest.pt)."""
    path = resolve_checkpoint(path)
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise StyleCamError(f"checkpoint {path} is not readable ({first}); it may be truncated or not ours") from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise StyleCamError(f"{path} is not a StyleCam training checkpoint")
    return state


def run_folder(run: Path | str) -> Path:
    """The run folder of a run folder or of a checkpoint file inside it."""
    path = resolve_checkpoint(run)
    return path.parent.parent if path.parent.name == "checkpoints" else path.parent


def resolve_checkpoint(path: Path | str) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / LATEST
    if not path.is_file():
        raise StyleCamError(f"no checkpoint at {path}; pass a run folder or a .pt checkpoint")
    return path


def restore_models(models: dict[str, torch.nn.Module], state: dict, source: str, what: str = "setup") -> None:
    """Load each named module from `state["models"]`; a missing or mismatched one is one clear error."""
    for name, model in models.items():
        try:
            model.load_state_dict(state["models"][name])
        except (RuntimeError, KeyError) as err:
            first = str(err).strip().splitlines()[0][:160]
            raise StyleCamError(f"{source}: {name} does not match this run's {what} ({first})") from err


def restore_optimizers(optimizers: dict, schedulers: dict, state: dict) -> None:
    """Load the optimisers' and LR schedulers' states, by name."""
    for key, opt in optimizers.items():
        opt.load_state_dict(state["optimizers"][key])
    for key, sched in schedulers.items():
        sched.load_state_dict(state["schedulers"][key])


def capture_rng(device: torch.device) -> dict:
    """The global torch RNG states (CPU, and this process's CUDA device) as tensors."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def slim_checkpoint(state: dict) -> dict:
    """`state` without what only resuming needs: the generators' weights (the exported one and,
    in a CycleGAN run, G_B), their EMA shadows, the configs, step and provenance stay; optimisers,
    schedulers, scalers, image pools, RNG states, discriminators and feature adapters go. It
    exports, evaluates, takes a palette map and teaches a fine-tune like the full checkpoint, but
    does not resume (marked `slim`)."""
    keep = {state["export_model"], "G_B"}
    slim = {k: v for k, v in state.items() if k not in RESUME_ONLY}
    slim["models"] = {k: v for k, v in state["models"].items() if k in keep}
    slim["slim"] = True
    return slim


def save_slim(run: Path | str, out: Path | str | None = None) -> tuple[Path, dict]:
    """Write the slim checkpoint of a run folder or checkpoint file (default: beside it, as
    checkpoints/slim.pt); returns where, and the slim state."""
    source = resolve_checkpoint(run)
    slim = slim_checkpoint(load_checkpoint(source))
    target = Path(out) if out else source.with_name(SLIM)
    save_checkpoint(target, slim)
    return target, slim


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.trainers.checkpoint",
        description="Write the slim checkpoint (checkpoints/slim.pt) of each run.",
    )
    parser.add_argument("runs", nargs="+", help="run folders or checkpoint files")
    args = parser.parse_args(argv)
    try:
        for run in args.runs:
            path, slim = save_slim(run)
            minutes = slim.get("train_seconds", 0.0) / 60
            print(f"{path}: {slim['kind']} step {slim['step']} of {slim.get('total_steps')}, {minutes:.1f} min, "
                  f"{path.stat().st_size / 2**20:.1f} MiB")  # fmt: skip
    except StyleCamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
