"""The loss-term registry and the lean configs: every term has its weight field, a run logs the
terms of its kind, and an old checkpoint with a removed option still loads, with a warning."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from train.losses.priors import PRIORS, PriorInputs, priors_of, weighted_priors
from train.trainers.config import DistillConfig, TrainConfig

from .conftest import tiny_config


def test_every_prior_has_its_weight_field_in_one_config() -> None:
    fields = {f.name for cls in (TrainConfig, DistillConfig) for f in dataclasses.fields(cls)}
    assert {p.weight for p in PRIORS.values()} <= fields
    assert list(priors_of(TrainConfig())) == ["grid", "tv", "flat", "colour", "hue", "spike"]
    assert list(priors_of(DistillConfig())) == ["grid", "structure", "consistency", "texture", "palette", "faces"]
    # Loss weights may change when a CycleGAN run is resumed (fine-tuning with a prior).
    assert {p.weight for p in priors_of(TrainConfig()).values()} <= TrainConfig.RESUMABLE_CHANGES


def test_weighted_priors_compute_only_what_is_weighted() -> None:
    torch.manual_seed(0)
    photo, styled = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    config = TrainConfig(lambda_tv=2.0)
    out = weighted_priors(config, PriorInputs(photo=photo, styled=styled, config=config), torch.device("cpu"))
    assert set(out) == set(priors_of(config))
    assert float(out["tv"]) == pytest.approx(2.0 * float(PRIORS["tv"].fn(PriorInputs(photo, styled, config))))
    assert all(float(v) == 0.0 for k, v in out.items() if k != "tv")  # the spike term is not even asked


@pytest.mark.parametrize(
    "removed",
    [{"global_tone": True}, {"tone_only": True}, {"norm_clip": 4.0}, {"cycle_noise": 0.1},
     {"dark_style_fraction": 0.15}, {"hue_keep_min_saturation": 0.5}, {"spike_sigma": 6.0},
     {"d_layers": 4}, {"beta2": 0.99}, {"init_gain": 0.05}],
)  # fmt: skip
def test_a_removed_option_is_gone_from_the_command_line_and_ignored_with_a_warning(
    removed: dict, dataroot: Path, tmp_path: Path
) -> None:
    ((key, value),) = removed.items()
    assert key not in {f.name for f in dataclasses.fields(TrainConfig)}
    saved = {**tiny_config(dataroot, tmp_path).to_dict(), key: value}
    with pytest.warns(UserWarning, match=f"{key}={value!r}, which the trainer no longer has"):
        config = TrainConfig.from_dict(saved)
    assert config == tiny_config(dataroot, tmp_path)
    from train.trainers.cyclegan import main

    with pytest.raises(SystemExit):
        main(["--" + key.replace("_", "-"), str(value)])


def test_an_old_checkpoint_at_the_old_defaults_loads_silently(dataroot: Path, tmp_path: Path) -> None:
    import warnings

    saved = {**tiny_config(dataroot, tmp_path).to_dict(), **TrainConfig.REMOVED_OPTIONS}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TrainConfig.from_dict(saved) == tiny_config(dataroot, tmp_path)


def test_the_trainer_offers_at_most_50_options_and_every_recipe_option(capsys) -> None:
    """`python -m train --help` stays short, and nothing a recipe sets was taken out."""
    import re

    from train.recipe import available, load_recipe
    from train.trainers.cyclegan import main

    with pytest.raises(SystemExit):
        main(["--help"])
    options = set(re.findall(r"^  (?:-\w, )?--([a-z0-9-]+)", capsys.readouterr().out, re.MULTILINE))
    assert 0 < len(options) <= 50, sorted(options)
    for name in available():
        for stage in load_recipe(name).stages:
            if stage.kind == "cyclegan":  # the stages `python -m train` itself runs
                assert {k.replace("_", "-") for k in stage.options} <= options, (name, stage.name)
