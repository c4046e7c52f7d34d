"""`python -m train.stages.export RUN --name NAME`: put a run's A->B generator into the app's style
library, with its provenance (data, steps, losses, crop, wall time, hardware) and evaluation.

Also used automatically at the end of `python -m train` (unless --no-export). The style goes to
the user's style library (models/style_library.py: `$STYLECAM_USER_STYLES`, else the platform's
application-data folder), or to the one folder `--library` or `$STYLECAM_WEIGHTS` names; never
into the shipped weights/ unless that is named.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from models.errors import StyleCamError
from models.style_library import Style, StyleLibrary
from train.losses.spike_penalty import DEFAULT_SIGMA
from train.stages.run_state import (
    EVALUATION_FILE,
    generator_from_state,
    generator_weights,
    read_evaluation,
    run_generators,
)
from train.trainers.checkpoint import load_checkpoint, run_folder

# what a run's checkpoint holds lives in train.stages.run_state (evaluate uses it too); kept importable here
__all__ = [
    "EVALUATION_FILE",
    "export_run",
    "generator_from_state",
    "generator_weights",
    "main",
    "portable_path",
    "read_evaluation",
    "run_generators",
    "training_provenance",
]


def training_provenance(state: dict, run_dir: Path) -> dict:
    cfg = state["config"]
    info = {
        "kind": state["kind"],
        "run": str(run_dir),
        "data": state.get("data", {}),
        "steps": state["step"],
        "planned_steps": state.get("total_steps"),
        "losses": {k: round(v, 4) for k, v in state.get("last_losses", {}).items()},
        "crop_size": cfg.get("crop_size"),
        "load_size": cfg.get("load_size"),
        **({"min_scale": cfg["min_scale"]} if cfg.get("min_scale", 1.0) < 1.0 else {}),  # photos drawn smaller
        **({"extra_share": cfg["extra_share"]} if cfg.get("extra_share") else {}),  # --extra-photos' share
        "batch_size": cfg.get("batch_size"),
        "gan_loss": cfg.get("gan_loss"),
        "wall_time_minutes": round(state.get("train_seconds", 0.0) / 60, 1),
        "hardware": state.get("hardware", ""),
        "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    priors = {
        k: cfg[k]
        for k in (
            "lambda_grid",
            "lambda_tv",
            "lambda_flat_texture",
            "lambda_colour_fit",
            "lambda_hue_keep",
            "hue_keep_min_saturation",
            "lambda_spike",
            "cycle_blur",
            "cycle_noise",
            "lambda_structure",
            "lambda_consistency",
            "lambda_texture",
            "lambda_nce",
            "lambda_palette",
            "lambda_faces",
        )
        if cfg.get(k)
    }
    if cfg.get("lambda_palette"):
        priors["palette_batch"] = cfg.get("palette_batch", 4)  # paintings per step for the palette term
        if cfg.get("palette_levels"):
            priors["palette_levels"] = cfg["palette_levels"]  # the coarsest levels only
    if cfg.get("texture_levels", 1) > 1:
        priors["texture_levels"] = cfg["texture_levels"]  # the texture prior's octaves, when not the finest only
    if priors.get("lambda_spike") and cfg.get("spike_sigma", DEFAULT_SIGMA) != DEFAULT_SIGMA:
        priors["spike_sigma"] = cfg["spike_sigma"]  # the penalty's threshold, when not the default
    if priors:
        info["priors"] = priors  # the non-default loss terms it was trained (or fine-tuned) with
    if cfg.get("tone_only"):
        info["tone_only"] = True  # the last fine-tune trained only the global-tone path
    if "palette" in state:
        info["palette"] = state["palette"]  # what each generator's colour map was fitted on
    if "teacher" in state:
        info["teacher"] = state["teacher"]
    if cfg.get("teacher_colour"):
        info["teacher_colour"] = True  # the palette map is the teacher's, copied, not learned
    if cfg.get("lambda_palette"):  # the paintings the palette term pulled the colours towards
        paintings = cfg.get("paintings") or (str(Path(cfg["dataroot"]) / "trainB") if cfg.get("dataroot") else None)
        info["data"] = {**info["data"], "paintings": paintings}
    if "ema" in state:
        info["ema_decay"] = cfg.get("ema_decay")  # generator = EMA of the weights, over ema.updates steps
        info["ema_updates"] = state["ema"]["updates"]
    if "averaged_steps" in state:
        info["averaged_steps"] = state["averaged_steps"]  # generator = mean of these snapshots
    return info


def export_run(
    run: Path | str,
    name: str,
    display_name: str | None = None,
    library_root: Path | str | None = None,
    evaluate: bool = False,
    make_default: bool = False,
    twin_of: bool = False,
) -> Style:
    """Write the run's A->B generator into the library (default: the user's, never the shipped
    weights/; `library_root` names another folder); evaluation figures come from the run's
    evaluation.json (which records the step it evaluated), or are computed now when `evaluate`
    is set, the file is missing or stale, and the run has test folders. With `twin_of` the
    generator becomes the fast twin of the existing style `name` (a distilled `lite_fast`)."""
    state = load_checkpoint(run)
    run_dir = run_folder(run)
    generator, _, config = run_generators(state)
    evaluation = read_evaluation(run_dir)
    # evaluated another checkpoint of this run: an earlier step, or the same one without its palette
    stale = (
        evaluation.get("step") != state["step"] or evaluation.get("generator", config.describe()) != config.describe()
    )
    if (not evaluation or stale) and evaluate:
        from train.evaluation.evaluate import evaluate_checkpoint_state

        # What it writes to evaluation.json: the summary plus the step and the test folders.
        evaluation = read_evaluation(run_dir) if evaluate_checkpoint_state(state, run_dir) is not None else {}
    elif stale:
        evaluation = {}  # another checkpoint's figures must not ship with this one's weights
    library = StyleLibrary(Path(library_root) if library_root else None)
    # A chosen library folder (a project's weights/) names data relative to the project, so its
    # manifest travels with a clone; the per-user library lives elsewhere and keeps absolute paths.
    project = None if library.layered else library.root.resolve().parent
    training = training_provenance(state, run_dir)
    training["run"] = portable_path(training["run"], project)
    training["data"] = {k: portable_path(v, project) if k.startswith("domain_") else v
                        for k, v in training["data"].items()}  # fmt: skip
    evaluation = {k: portable_path(v, project) if k.endswith("_dir") else v for k, v in evaluation.items()}
    if twin_of:
        return library.add_fast_twin(name, generator, config, training=training, evaluation=evaluation)
    return library.add_style(
        generator,
        config,
        name,
        display_name,
        training=training,
        evaluation=evaluation,
        make_default=make_default,
    )


def portable_path(path: str, project: Path | None) -> str:
    """`path` relative to the project folder holding the library (`../shared/data/...`), so a
    manifest names the same data on every clone; absolute when they share no folder but `/`,
    or when there is no project folder (the per-user library)."""
    absolute = Path(path).resolve()
    if project is None:
        return str(absolute)
    common = Path(os.path.commonpath([absolute, project]))
    if common == Path(common.anchor):
        return str(absolute)
    return os.path.relpath(absolute, project)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.stages.export", description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run folder (runs/NAME) or checkpoint file")
    parser.add_argument("--name", required=True, help="style name in the library")
    parser.add_argument("--display-name", help="name shown in the app")
    parser.add_argument("--library", help="style library folder (default: $STYLECAM_WEIGHTS, else your user library)")
    parser.add_argument("--default", action="store_true", help="make it the app's default style")
    parser.add_argument("--evaluate", action="store_true", help="evaluate now if the run has no evaluation.json")
    parser.add_argument(
        "--fast-twin", action="store_true", help="add it as the fast twin of the existing style --name (CPU laptops)"
    )
    args = parser.parse_args(argv)
    try:
        style = export_run(
            args.run, args.name, args.display_name, args.library, args.evaluate, args.default, args.fast_twin
        )
    except StyleCamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"exported {style.name!r} ({style.config.describe()}) to {style.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
