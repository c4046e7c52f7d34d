"""The generator registry: named presets and `create_generator`, timm-style. The builders are
the generator modules' own `@register_generator` classes (models/generator_config.py holds the
table and the config); importing this module imports them, so the table is always full."""

from __future__ import annotations

from torch import nn

from models import fast_generator, lite_generator, resnet_generator  # noqa: F401  (their decorators fill the table)
from models.generator_config import GeneratorConfig, builder_for, register_generator, registered_architectures

__all__ = ["PRESETS", "GeneratorConfig", "available_architectures", "create_generator", "register_generator"]

# Named presets: what a user types on the command line (`--generator resnet_9blocks`).
PRESETS: dict[str, GeneratorConfig] = {
    "resnet_9blocks": GeneratorConfig("resnet", ngf=64, n_blocks=9),
    "resnet_6blocks": GeneratorConfig("resnet", ngf=64, n_blocks=6),
    "lite": GeneratorConfig("lite", ngf=16, n_blocks=9),
    "lite_hq": GeneratorConfig("lite_hq", ngf=16, n_blocks=9),
    "lite_fast": GeneratorConfig("lite_fast", ngf=32, n_blocks=4, decoder_norm="demod"),
}


def available_architectures() -> list[str]:
    return registered_architectures()


def create_generator(config: GeneratorConfig | str) -> nn.Module:
    """Build an untrained generator from a config or a preset name."""
    if isinstance(config, str):
        if config not in PRESETS:
            raise ValueError(f"unknown generator preset {config!r}; choose one of {sorted(PRESETS)}")
        config = PRESETS[config]
    builder = builder_for(config.arch)
    if builder is None:
        raise ValueError(f"unknown generator architecture {config.arch!r}; known: {available_architectures()}")
    return builder(config)
