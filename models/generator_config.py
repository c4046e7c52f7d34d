"""What describes a generator completely (stored beside every set of weights), and the table of
architectures that build one: each generator module registers itself here with
`@register_generator`; models/registry.py builds from the table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

from torch import nn

_GENERATORS: dict[str, Callable[[GeneratorConfig], nn.Module]] = {}


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture and hyper-parameters of a generator.

    `ngf` is the width of the first layer (doubled at each of the two downsamplings),
    `n_blocks` the number of residual blocks at the bottleneck, `global_tone` adds the lite
    generators' path that carries the input's global tone past the instance norms, and
    `norm_clip` (lite generators, 0 = off) caps the decoder's normalised activations at that many
    standard deviations, and `decoder_norm` (lite generators) picks how the decoder's upsampling
    stages are normalised: "instance" (per image, as in CycleGAN) or "demod" (weight
    demodulation, which depends on no image statistics and so gives droplets no cause).
    `palette` ends the generator with the fixed colour map fitted after training
    (models/palette.py), and `colour_guard` (block size in pixels, 0 = off) then removes the
    colour patches the input's colours do not explain (models/colour_guard.py).
    """

    arch: str = "resnet"
    ngf: int = 64
    n_blocks: int = 9
    dropout: bool = False
    global_tone: bool = False
    norm_clip: float = 0.0
    decoder_norm: str = "instance"
    palette: bool = False
    colour_guard: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GeneratorConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def describe(self) -> str:
        extras = (" dropout" if self.dropout else "") + (" global-tone" if self.global_tone else "")
        extras += f" norm-clip={self.norm_clip:g}" if self.norm_clip else ""
        extras += f" decoder-norm={self.decoder_norm}" if self.decoder_norm != "instance" else ""
        extras += " palette" if self.palette else ""
        extras += f" colour-guard={self.colour_guard}" if self.colour_guard else ""
        return f"{self.arch} ngf={self.ngf} blocks={self.n_blocks}{extras}"


def register_generator(arch: str) -> Callable:
    """Class decorator: make `arch` buildable by `create_generator`."""

    def decorate(builder: Callable[[GeneratorConfig], nn.Module]) -> Callable:
        _GENERATORS[arch] = builder
        return builder

    return decorate


def builder_for(arch: str) -> Callable[[GeneratorConfig], nn.Module] | None:
    return _GENERATORS.get(arch)


def registered_architectures() -> list[str]:
    return sorted(_GENERATORS)
