"""Recipes as files: every shipped style's recipe matches what its manifest entry records, and a
recipe replays end to end (all stages, a few steps) into a style in a temporary library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.errors import StyleCamError
from models.registry import PRESETS
from models.style_library import StyleLibrary
from train.__main__ import main as train_cli
from train.recipe import RECIPES, available, load_recipe, parse_overrides, replay
from train.trainers.checkpoint import load_checkpoint
from train.trainers.config import DistillConfig, TrainConfig

from .conftest import REPO

MANIFEST = json.loads((REPO / "weights" / "manifest.json").read_text())["styles"]
# The tiny synthetic domains (tests/train/conftest.py): 40 px images, a 1-block ngf 8 generator.
TINY = ["load_size=36", "crop_size=32", "ngf=8", "n_blocks=1", "ndf=8", "threads=1", "device=cpu"]
# Priors the manifest's training block lists (train/stages/export.py's training_provenance).
PRIOR_FIELDS = ("lambda_grid", "lambda_tv", "lambda_flat_texture", "lambda_colour_fit", "lambda_hue_keep",
                "lambda_spike", "cycle_blur")  # fmt: skip


def test_every_shipped_style_has_a_recipe() -> None:
    assert set(available()) >= set(MANIFEST)
    for name in MANIFEST:
        recipe = load_recipe(name)
        assert recipe.style == name and recipe.path == RECIPES / f"{name}.toml"
        named = MANIFEST[name]["training"].get("recipe", "")
        if named.endswith(".toml"):  # the manifest names its recipe file
            assert REPO / named == recipe.path


def _chain_options(recipe, stage) -> dict:
    """A training stage's options with those of the stages it resumes, earliest first."""
    chain = []
    while stage is not None:
        chain.append(stage)
        stage = recipe.stage(stage.source) if stage.kind == "cyclegan" and stage.source else None
    options: dict = {}
    for s in reversed(chain):
        options.update(s.options)
    return options


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_recipe_reproduces_the_manifest_record(name: str) -> None:
    """The recipe's stage that made the shipped weights has the manifest's steps, sizes, priors and
    EMA; its architecture, palette map and colour guard match the shipped architecture."""
    recipe, entry = load_recipe(name), MANIFEST[name]
    training, arch = entry["training"], entry["architecture"]
    kind = training["kind"]
    made = [s for s in recipe.stages if s.kind == kind][-1]
    cls = TrainConfig if kind == "cyclegan" else DistillConfig
    config = cls(**_chain_options(recipe, made))
    assert config.max_steps == training["steps"]
    assert (config.crop_size, config.load_size, config.batch_size) == (
        training["crop_size"], training["load_size"], training["batch_size"],
    )  # fmt: skip
    if kind == "cyclegan":
        assert config.gan_loss == training["gan_loss"]
        assert {k: getattr(config, k) for k in PRIOR_FIELDS if getattr(config, k)} == training["priors"]
        if "ema_decay" in training:
            assert config.ema_decay == training["ema_decay"]
    first = TrainConfig(**recipe.stages[0].options).generator_config()
    widened = recipe.stages[-1].options.get("ngf")  # the last fine-tune may widen it (train/trainers/widen.py)
    assert (first.arch, widened or first.ngf, first.n_blocks, first.decoder_norm) == (
        arch["arch"], arch["ngf"], arch["n_blocks"], arch["decoder_norm"],
    )  # fmt: skip
    assert first.arch == PRESETS[recipe.stages[0].options["generator"]].arch
    assert any(s.kind == "palette" for s in recipe.stages) == arch.get("palette", False)
    guard = [s.options["block"] for s in recipe.stages if s.kind == "colour_guard"]
    assert (guard[-1] if guard else 0) == arch.get("colour_guard", 0)
    # Every shipped style ends with the webcam fine-tune, teacher = the stage before it.
    last = recipe.stages[-1]
    assert last.kind == "distill" and last.options["fine_tune"] and last.source == recipe.stages[-2].name
    # ... and its options are the last recorded fine-tune's
    tune, options = training["webcam_fine_tune"][-1], DistillConfig(**last.options)
    assert (options.max_steps, options.crop_size, options.load_size) == (
        tune["steps"],
        tune["crop_size"],
        tune["load_size"],
    )
    assert options.min_scale == tune.get("min_scale", 1.0)
    assert options.extra_share == tune.get("extra_share", 0.0)
    exported = ("grid", "structure", "consistency", "texture", "nce", "palette", "faces")  # train/stages/export.py
    assert {k: v for k, v in tune["priors"].items() if k.startswith("lambda_")} == {
        f"lambda_{k}": getattr(options, f"lambda_{k}") for k in exported if getattr(options, f"lambda_{k}")
    }


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_plan_prints_every_stage(name: str, capsys) -> None:
    assert train_cli(["--recipe", name, "--plan"]) == 0
    out = capsys.readouterr().out
    assert all(f"{s.name}: {s.kind}" in out for s in load_recipe(name).stages)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[stages]]\nname = "a"\nkind = "cyclegan"\nmax_steps = 2\nlambda_bogus = 1\n', "lambda_bogus not options"),
        ('[[stages]]\nname = "a"\nkind = "cyclegan"\nmax_steps = 2\n[[stages]]\nname = "b"\nkind = "cyclegan"\n'
         'from = "a"\nmax_steps = 3\ncrop_size = 64\n', "crop_size cannot change when resuming 'a'"),
        ('[[stages]]\nname = "a"\nkind = "cyclegan"\nmax_steps = 2\n[[stages]]\nname = "b"\nkind = "palette"\n'
         'from = "z"\n', "from = 'z' is not an earlier stage"),
        ('[[stages]]\nname = "a"\nkind = "cyclegan"\nmax_steps = 2\n[[stages]]\nname = "b"\n'
         'kind = "colour_guard"\nfrom = "a"\nblock = 1\n', "at least 2 pixels"),
        ('[[stages]]\nname = "a"\nkind = "cyclegan"\nmax_steps = "many"\n', "max_steps must be int"),
        ('[[stages]]\nname = "a"\nkind = "cyclegan"\n', "give max_steps"),
    ],
)  # fmt: skip
def test_a_bad_recipe_is_one_clear_error(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(StyleCamError, match=message):
        load_recipe(path)


def test_overrides_are_typed_and_checked() -> None:
    assert parse_overrides(["threads=2", "flip=false", "lambda_tv=0.5", "data=x"]) == {
        "threads": 2, "flip": False, "lambda_tv": 0.5, "data": "x",
    }  # fmt: skip
    for bad in ("threads", "threads=two", "out=x", "nonsense=1"):
        with pytest.raises(StyleCamError, match="--set"):
            parse_overrides([bad])


def test_ukiyoe_recipe_replays_every_stage_into_a_library(dataroot: Path, tmp_path: Path, capsys) -> None:
    """All seven stages (scratch, resumed with another prior, palette, colour guard, the three webcam
    fine-tunes) at 1/1000 of their steps on the tiny domains, through `python -m train --recipe`;
    the export lands in the library named, the runs under --out, and a second call skips the
    finished stages."""
    out, lib = tmp_path / "runs", tmp_path / "lib"
    args = ["--recipe", "ukiyoe", "--dataroot", str(dataroot), "--out", str(out), "--library", str(lib),
            "--max-steps-scale", "0.001", "--no-bars", *[a for s in TINY for a in ("--set", s)]]  # fmt: skip
    assert train_cli(args) == 0
    stages = ("demod", "flat_texture", "palette", "colour_guard", "webcam", "webcam_faces", "webcam_people")
    assert sorted(p.name for p in out.iterdir()) == sorted(stages)
    scratch, resumed = load_checkpoint(out / "demod"), load_checkpoint(out / "flat_texture")
    assert (scratch["step"], resumed["step"]) == (10, 12)  # 10,000 and 12,500 steps, scaled
    assert resumed["config"]["lambda_flat_texture"] == 2.0 and resumed["config"]["lambda_tv"] == 3.0
    assert load_checkpoint(out / "palette")["generator_config"]["palette"]
    assert load_checkpoint(out / "colour_guard")["generator_config"]["colour_guard"] == 8
    webcam = load_checkpoint(out / "webcam")
    assert webcam["kind"] == "distill" and webcam["step"] == 3 and webcam["config"]["fine_tune"]
    assert webcam["config"]["lambda_texture"] == 10.0 and webcam["teacher"] == str(out / "colour_guard")
    faces = load_checkpoint(out / "webcam_faces")
    assert faces["config"]["lambda_structure"] == 4.0 and faces["teacher"] == str(out / "webcam")
    people = load_checkpoint(out / "webcam_people")
    assert people["teacher"] == str(out / "webcam_faces") and people["config"]["extra_share"] == 0.5
    assert people["config"]["lambda_palette"] == 5.0 and people["config"]["lambda_faces"] == 60.0
    assert people["generator_config"]["ngf"] == 8  # --set ngf=8 for the tiny domains: no widening

    style = StyleLibrary(lib).resolve("ukiyoe_replay")
    assert style.config.colour_guard == 8 and style.config.palette and style.config.ngf == 8
    assert style.training["kind"] == "distill" and style.evaluation["swd"]
    assert style.training["extra_share"] == 0.5 and style.training["min_scale"] == 0.5
    capsys.readouterr()
    assert train_cli([*args, "--name", "again"]) == 0
    printed = capsys.readouterr().out
    assert all(
        f"{name}: done" in printed for name in ("demod", "flat_texture", "webcam", "webcam_faces", "webcam_people")
    )
    assert StyleLibrary(lib).resolve("again").config == style.config


def test_a_stale_later_stage_is_refused_before_training(dataroot: Path, tmp_path: Path) -> None:
    """An earlier stage that would train on (here: more steps) would leave a later stage's run
    built on its old result: refused up front, with what to remove."""
    out = tmp_path / "runs"
    overrides = parse_overrides(TINY)
    recipe = load_recipe("monet")
    result = replay(recipe, dataroot, out, export=False, scale=0.001, overrides=overrides, quiet=True)
    assert result.finished and result.style is None
    with pytest.raises(StyleCamError, match=r"remove .*webcam"):
        replay(recipe, dataroot, out, export=False, scale=0.002, overrides=overrides, quiet=True)


@pytest.mark.slow
def test_gpu_script_replays_and_packs_slim_checkpoints(dataroot: Path, tmp_path: Path) -> None:
    """scripts/gpu_recipe.sh on the CPU: the recipe runs, each stage's slim checkpoint is written
    by train.trainers.checkpoint and packed into $OUT with the exported style."""
    env = {**os.environ, "OUT": str(tmp_path / "out"), "WORK": str(tmp_path / "work"), "PYTHON": sys.executable,
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}  # fmt: skip
    cmd = ["bash", "scripts/gpu_recipe.sh", "vangogh", "--dataroot", str(dataroot), "--max-steps-scale", "0.001",
           *[a for s in TINY for a in ("--set", s)]]  # fmt: skip
    run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    parts = sorted((tmp_path / "out").glob("runs.tar.*"))
    assert parts
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(f"cat {' '.join(map(str, parts))} | tar x -C {unpacked}", shell=True, check=True)
    for stage in ("demod", "colour_fit", "palette", "webcam", "webcam_faces", "webcam_people"):
        slim = load_checkpoint(unpacked / "vangogh" / stage / "checkpoints" / "slim.pt")
        assert slim["slim"] and "optimizers" not in slim and "rank_states" not in slim
    assert StyleLibrary(unpacked / "library").resolve("vangogh_replay").training["kind"] == "distill"
    assert (unpacked / "vangogh.log").read_text().count("== vangogh stage") == 6
