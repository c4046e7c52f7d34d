"""What a training run hands on to export and evaluation: its generators (from a checkpoint's
state, the EMA shadow when the run kept one) and the figures in its evaluation.json.

Shared by `train.stages.export` and `train.evaluate` (export may evaluate, evaluate names export's
file), so neither has to import the other for them.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from models.errors import StyleCamError
from models.registry import GeneratorConfig, create_generator

EVALUATION_FILE = "evaluation.json"


def generator_weights(state: dict, key: str) -> dict:
    """One generator's weights from a checkpoint: its EMA shadow when the run kept one."""
    shadows = state.get("ema", {}).get("models", {})
    return shadows[key] if key in shadows else state["models"][key]


def generator_from_state(state: dict, key: str) -> tuple[nn.Module, GeneratorConfig]:
    """Build one generator of a training checkpoint on the CPU, in eval mode."""
    config = GeneratorConfig.from_dict(state["generator_config"])
    model = create_generator(config)
    try:
        model.load_state_dict(generator_weights(state, key))
    except (RuntimeError, KeyError) as err:
        raise StyleCamError(f"checkpoint has no usable {key} generator for {config.describe()} ({err})") from err
    return model.eval(), config


def run_generators(state: dict) -> tuple[nn.Module, nn.Module | None, GeneratorConfig]:
    """(A->B generator, B->A generator or None, config) of a CycleGAN or distillation checkpoint."""
    forward, config = generator_from_state(state, state["export_model"])
    backward = generator_from_state(state, "G_B")[0] if "G_B" in state["models"] else None
    return forward, backward, config


def read_evaluation(run_dir: Path) -> dict:
    """The run's evaluation.json, or {} when it is missing or unreadable."""
    path = Path(run_dir) / EVALUATION_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
