"""`python -m train --recipe NAME --dataroot DIR`: replay a style's recipe, stage by stage.

A recipe is a TOML file (train/recipes/NAME.toml, or any path): top-level `style` and `dataset`
(what --dataroot holds), then `[[stages]]` in order, each with a `name`, a `kind` and, after the
first, usually `from` (the stage it starts from); every other key is an option of that kind:

- `cyclegan`: a `python -m train` run (TrainConfig fields). With `from`, it resumes that stage's
  run with the changed options (only those `--resume` allows: loss weights, max_steps,
  decay_fraction...), as `--resume RUN --out NEW` does.
- `palette`: `python -m train.palette` on a cyclegan stage (option `photos`, default 150).
- `colour_guard`: switches the colour guard on at `block` pixels (models/colour_guard.py), the
  generator-config switch `python -m train.colour_guard` makes on a library style.
- `distill`: a `python -m train.distill` run (DistillConfig fields) whose teacher is the `from`
  stage; with `fine_tune = true` it is the webcam fine-tune that ends the shipped styles.

TOML rather than Python files (nanoGPT's config/*.py): a recipe is data, read with tomllib and
checked key by key against the config dataclasses, never executed; comments say where each value
comes from. Every stage runs in this process (no subprocesses) into OUT/STAGE (default
runs/recipes/NAME/STAGE); the last stage is exported into the style library (user library, or
--library) as --name (default NAME_replay, so a replay never shadows the shipped style by accident).
A stage whose folder already holds a finished checkpoint is skipped, an unfinished one goes on from
there, so a stopped replay (Ctrl-C, SIGTERM, --set max_minutes=M) continues when run again.
`--max-steps-scale S` multiplies every stage's max_steps and snapshot_every (a quick look, a test);
`--set KEY=VALUE` overrides an option in every stage that has it (e.g. threads=2, device=cuda).
A distill stage's `data`, `extra_photos` and `paintings` folders, when relative, are read against
--dataroot: "../webcam_photos/trainA" is the webcam photos beside the dataset.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.colour_guard import ColourGuard
from models.errors import StyleCamError
from models.style_library import Style
from train.stages.export import export_run
from train.stages.palette import FIT_PHOTOS, with_palettes
from train.trainers.checkpoint import LATEST, load_checkpoint, save_checkpoint
from train.trainers.config import DistillConfig, RunConfig, TrainConfig, field_types
from train.trainers.cyclegan import run_training
from train.trainers.distill import run_distill
from train.trainers.loop import resume_run

RECIPES = Path(__file__).resolve().parent / "recipes"
CONFIGS: dict[str, type[RunConfig]] = {"cyclegan": TrainConfig, "distill": DistillConfig}
STEP_OPTIONS: dict[str, dict[str, type]] = {"palette": {"photos": int}, "colour_guard": {"block": int}}
KINDS = (*CONFIGS, *STEP_OPTIONS)
# Set by the replay itself, never by a recipe.
RUNNER_FIELDS = frozenset({"name", "out", "dataroot", "export", "export_name", "library", "teacher"})
SCALED = ("max_steps", "snapshot_every")


@dataclass(frozen=True)
class Stage:
    name: str
    kind: str
    source: str | None  # the stage it starts from (`from`)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    name: str
    path: Path
    style: str
    dataset: str
    stages: tuple[Stage, ...]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


def available() -> list[str]:
    return sorted(p.stem for p in RECIPES.glob("*.toml"))


def find_recipe(spec: str | Path) -> Path:
    """A recipe file: a path, or a name under train/recipes/."""
    path = Path(spec)
    if path.suffix == ".toml" and path.is_file():
        return path
    named = RECIPES / f"{spec}.toml"
    if named.is_file():
        return named
    raise StyleCamError(f"no recipe {spec!r}: name one of {', '.join(available())} or a .toml file")


def _coerce(value: Any, typ: type, where: str) -> Any:
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise StyleCamError(f"{where} must be {typ.__name__}, not {value!r}")
    return value


def load_recipe(spec: str | Path) -> Recipe:
    """Read and check a recipe: known kinds, known options for each, `from` naming an earlier
    stage of a kind it can start from, resumed stages changing only what a resume may change."""
    path = find_recipe(spec)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise StyleCamError(f"{path}: {err}") from err
    unknown = set(data) - {"style", "dataset", "stages"}
    if unknown or not data.get("stages"):
        raise StyleCamError(f"{path}: needs [[stages]] (and style, dataset); unknown keys {sorted(unknown)}")
    stages: list[Stage] = []
    for index, raw in enumerate(data["stages"], 1):
        raw = dict(raw)
        name, kind, source = raw.pop("name", f"stage{index}"), raw.pop("kind", None), raw.pop("from", None)
        where = f"{path.name}, stage {name!r}"
        if kind not in KINDS:
            raise StyleCamError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if any(s.name == name for s in stages):
            raise StyleCamError(f"{where}: two stages have this name")
        known = {s.name: s for s in stages}
        if source is not None and source not in known:
            raise StyleCamError(f"{where}: from = {source!r} is not an earlier stage")
        source_kind = known[source].kind if source else None
        if kind in CONFIGS:
            types = field_types(CONFIGS[kind])
            bad = sorted(k for k in raw if k not in types or k in RUNNER_FIELDS)
            if bad:
                raise StyleCamError(f"{where}: {', '.join(bad)} not options of a {kind} stage")
            raw = {k: _coerce(v, types[k], f"{where}: {k}") for k, v in raw.items()}
            if "max_steps" not in raw:
                raise StyleCamError(f"{where}: give max_steps (the learning-rate schedule's length)")
        else:
            types = STEP_OPTIONS[kind]
            bad = sorted(set(raw) - set(types))
            if bad:
                raise StyleCamError(f"{where}: {', '.join(bad)} not options of a {kind} stage")
            raw = {k: _coerce(v, types[k], f"{where}: {k}") for k, v in raw.items()}
        if kind == "cyclegan" and source is not None:
            if source_kind != "cyclegan":
                raise StyleCamError(f"{where}: a cyclegan stage resumes a cyclegan stage, not a {source_kind}")
            fixed = sorted(set(raw) - TrainConfig.RESUMABLE_CHANGES)
            if fixed:
                raise StyleCamError(f"{where}: {', '.join(fixed)} cannot change when resuming {source!r}")
        if kind == "palette" and source_kind != "cyclegan":
            raise StyleCamError(f"{where}: a palette is fitted to a cyclegan stage (from = ...)")
        if kind in ("colour_guard", "distill") and source is None:
            raise StyleCamError(f"{where}: say which stage it starts from (from = ...)")
        if kind == "colour_guard":
            if "block" not in raw:
                raise StyleCamError(f"{where}: give the block size (block = 8; 0 = off)")
            if raw["block"]:
                ColourGuard(raw["block"])  # a bad block size is a one-line StyleCamError
        stages.append(Stage(name, kind, source, raw))
    if stages[0].kind != "cyclegan":
        raise StyleCamError(f"{path.name}: the first stage trains a cyclegan from scratch")
    return Recipe(path.stem, path, data.get("style", path.stem), data.get("dataset", ""), tuple(stages))


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings as typed values of the options they name (in either config)."""
    types = {**field_types(DistillConfig), **field_types(TrainConfig)}
    out = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in types or key in RUNNER_FIELDS:
            raise StyleCamError(f"--set {pair!r}: give KEY=VALUE with KEY a training option (e.g. threads=2)")
        typ = types[key]
        try:
            if text.lower() == "none":
                value = None
            elif typ is bool:
                value = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}[text.lower()]
            else:
                value = typ(text)
        except (KeyError, ValueError) as err:
            raise StyleCamError(f"--set {pair!r}: {text!r} is not a {typ.__name__}") from err
        out[key] = value
    return out


@dataclass
class Replay:
    """Where each stage's run went, whether all finished, and the exported style (if any)."""

    folders: dict[str, Path]
    finished: bool
    style: Style | None = None


def stage_options(stage: Stage, overrides: dict[str, Any], scale: float) -> dict[str, Any]:
    """A training stage's options: the recipe's, then --set (where the stage's config has the
    field), with max_steps and snapshot_every scaled."""
    types = field_types(CONFIGS[stage.kind])
    options = {**stage.options, **{k: v for k, v in overrides.items() if k in types}}
    for key in SCALED:
        if options.get(key):
            options[key] = max(1, round(options[key] * scale))
    return options


# Folder options a recipe may give relative to --dataroot (its siblings, e.g. "../webcam_photos/trainA").
DATAROOT_RELATIVE = ("data", "extra_photos", "paintings")


def _dataroot_relative(options: dict[str, Any], root: Path, given: set[str]) -> dict[str, Any]:
    """A recipe's relative photo and painting folders, resolved against --dataroot (not those
    given with --set: a path on the command line is read as any other, from where it runs)."""

    def resolve(key: str, value: Any) -> Any:
        relative = key in DATAROOT_RELATIVE and key not in given and isinstance(value, str)
        return str(root / value) if relative and not Path(value).is_absolute() else value

    return {k: resolve(k, v) for k, v in options.items()}


def replay(
    recipe: Recipe,
    dataroot: Path | str,
    out: Path | str | None = None,
    *,
    library: str | None = None,
    export_name: str | None = None,
    export: bool = True,
    scale: float = 1.0,
    overrides: dict[str, Any] | None = None,
    quiet: bool = False,
    bars: bool = True,
) -> Replay:
    """Run the recipe's stages in order into OUT/STAGE, then export the last one. `quiet` prints
    nothing; `bars=False` keeps the stage lines but runs the stages without progress bars."""
    overrides = overrides or {}
    root = Path(dataroot)
    if not (root / "trainA").is_dir():
        raise StyleCamError(
            f"--dataroot {root} has no trainA/ (this recipe trains on {recipe.dataset or 'its dataset'})"
        )
    unused = set(overrides) - {k for s in recipe.stages if s.kind in CONFIGS for k in field_types(CONFIGS[s.kind])}
    if unused:
        raise StyleCamError(f"--set {', '.join(sorted(unused))}: no stage of {recipe.name} has that option")
    if scale <= 0:
        raise StyleCamError("--max-steps-scale must be positive")
    base = Path(out) if out else Path("runs") / "recipes" / recipe.name
    folders = {s.name: base / s.name for s in recipe.stages}
    given = {
        s.name: {
            **_dataroot_relative(stage_options(s, overrides, scale), root, set(overrides)), "name": recipe.name, "dataroot": str(root),
            "out": str(folders[s.name]), "export": False,
            **({"teacher": str(folders[s.source])} if s.kind == "distill" else {}),
        }
        for s in recipe.stages if s.kind in CONFIGS
    }  # fmt: skip
    for stage in recipe.stages:  # a bad option fails now, not after hours of the stages before it
        if stage.kind in CONFIGS and not (stage.kind == "cyclegan" and stage.source):
            CONFIGS[stage.kind](**given[stage.name]).validate()
    _refuse_stale_stages(recipe, folders, given)
    say = (lambda *a, **k: None) if quiet else print
    for number, stage in enumerate(recipe.stages, 1):
        folder = folders[stage.name]
        source = folders[stage.source] if stage.source else None
        say(f"== {recipe.name} stage {number}/{len(recipe.stages)}: {stage.name} ({stage.kind}"
            f"{', from ' + stage.source if stage.source else ''}) -> {folder}")  # fmt: skip
        if stage.kind in CONFIGS:
            if not _run_training_stage(stage, folder, source, given[stage.name], quiet or not bars, say):
                say(f"{stage.name} stopped before its last step; run the same command again to go on")
                return Replay(folders, finished=False)
        elif stage.kind == "palette":
            state = load_checkpoint(source)
            data = state.get("data", {})
            photos = stage.options.get("photos", FIT_PHOTOS)
            fitted = with_palettes(state, Path(data["domain_a"]), Path(data["domain_b"]), photos)
            save_checkpoint(folder / "checkpoints" / LATEST, fitted)
        elif stage.kind == "colour_guard":
            state = copy.copy(load_checkpoint(source))
            state["generator_config"] = {**state["generator_config"], "colour_guard": stage.options["block"]}
            save_checkpoint(folder / "checkpoints" / LATEST, state)
    style = None
    if export:
        name = export_name or f"{recipe.style}_replay"
        style = export_run(folders[recipe.stages[-1].name], name, library_root=library, evaluate=True)
        say(f"exported style {style.name!r} to {style.path}")
    return Replay(folders, finished=True, style=style)


def _refuse_stale_stages(recipe: Recipe, folders: dict[str, Path], given: dict[str, dict]) -> None:
    """A stage that will train on (unfinished, or not started) makes every later stage's existing
    checkpoint stale: refuse before training rather than go on from a run of the old result."""
    pending = None
    for stage in recipe.stages:
        if stage.kind not in CONFIGS:
            continue
        ckpt = folders[stage.name] / "checkpoints" / LATEST
        if ckpt.is_file() and pending is not None:
            raise StyleCamError(
                f"{folders[stage.name]} holds a run of stage {stage.name!r}, but the earlier stage {pending!r} "
                f"trains on first, so it would go on from a stale result: remove {folders[stage.name]} "
                "(and the later stages' folders) to redo it"
            )
        if pending is None and not (ckpt.is_file() and load_checkpoint(ckpt)["step"] >= given[stage.name]["max_steps"]):
            pending = stage.name


def _run_training_stage(stage: Stage, folder: Path, source: Path | None, given: dict, quiet: bool, say) -> bool:
    """Train a cyclegan or distill stage to its end: fresh, on from its own unfinished checkpoint,
    or (a cyclegan stage with `from`) resumed from its source's run; skipped when its folder holds
    a finished run. Returns whether it finished."""
    cls = CONFIGS[stage.kind]
    state = None
    if (folder / "checkpoints" / LATEST).is_file():
        config, state = resume_run(cls, stage.kind, folder, given)
        if state["step"] >= config.max_steps:
            say(f"{stage.name}: done (step {state['step']}); remove {folder} to train it again")
            return True
    elif stage.kind == "cyclegan" and source is not None:
        config, state = resume_run(cls, stage.kind, source, given)
    else:
        config = cls(**given)
    if stage.kind == "cyclegan":
        run_training(config, state, quiet=quiet)
    else:
        run_distill(config, state, quiet=quiet)
    return load_checkpoint(folder)["step"] >= config.max_steps


def describe(recipe: Recipe, overrides: dict[str, Any], scale: float) -> str:
    lines = [f"{recipe.name} ({recipe.path}): style {recipe.style}, dataset {recipe.dataset}"]
    for number, stage in enumerate(recipe.stages, 1):
        options = stage_options(stage, overrides, scale) if stage.kind in CONFIGS else stage.options
        text = " ".join(_flag(k, v) for k, v in options.items())
        source = f" from {stage.source}" if stage.source else ""
        lines.append(f"  {number}. {stage.name}: {stage.kind}{source} {text}".rstrip())
    return "\n".join(lines)


def _flag(key: str, value: Any) -> str:
    flag = "--" + key.replace("_", "-")
    if isinstance(value, bool):
        return flag if value else "--no-" + flag[2:]
    return f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Recipes here: {', '.join(available())}.",
    )
    parser.add_argument("--recipe", required=True, help="a name under train/recipes/ or a .toml file")
    parser.add_argument("--dataroot", help="the recipe's dataset: trainA/ (photos), trainB/ (style), testA/ testB/")
    parser.add_argument("--out", help="folder for the stages' runs (default runs/recipes/NAME)")
    parser.add_argument("--library", help="style library for the export (default: your user library)")
    parser.add_argument("--name", help="style name of the export (default STYLE_replay)")
    parser.add_argument("--export", action=argparse.BooleanOptionalAction, default=True, help="export the last stage")
    parser.add_argument("--max-steps-scale", type=float, default=1.0, help="multiply every stage's max_steps")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override an option")
    parser.add_argument("--plan", action="store_true", help="print the stages and their options, train nothing")
    parser.add_argument("--no-bars", action="store_true", help="no progress bars (logs): only stage lines")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        recipe = load_recipe(args.recipe)
        overrides = parse_overrides(args.set)
        if args.plan:
            print(describe(recipe, overrides, args.max_steps_scale))
            return 0
        if not args.dataroot:
            raise StyleCamError(f"give --dataroot DIR: the {recipe.name} recipe trains on {recipe.dataset}")
        result = replay(
            recipe, args.dataroot, args.out, library=args.library, export_name=args.name, export=args.export,
            scale=args.max_steps_scale, overrides=overrides, bars=not args.no_bars,
        )  # fmt: skip
    except StyleCamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0 if result.finished else 3


if __name__ == "__main__":
    raise SystemExit(main())
