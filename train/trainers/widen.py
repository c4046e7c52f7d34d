"""Widening a trained generator without changing what it paints: the start of a fine-tune into a
larger architecture (`python -m train.distill --fine-tune --ngf N`).

Every layer of the wide copy holds the narrow one's weights in its first channels. The channels
it adds start from the trainer's random init, and the weights by which the old channels would read
the new ones start at zero, so on the first step the wide generator's output is the narrow one's
(to rounding) and the fine-tune grows the new channels from there (Net2Net's aim, Chen et al.
2016, with a zero init in place of its replicated units). It holds for every layer kind the
generators use: plain, depthwise and demodulated convolutions (a zero column adds nothing to a
filter's norm), instance norms (per channel) and the residual sums (per channel). The light
generators only: the reference ResNet's transposed convolutions hold their weights the other way
round.
"""

from __future__ import annotations

import torch
from torch import nn

from models.errors import StyleCamError
from models.registry import GeneratorConfig, create_generator
from train.trainers.loop import init_weights

WIDENABLE = ("lite", "lite_hq")


def _widened(narrow: torch.Tensor, wide: torch.Tensor, name: str) -> torch.Tensor:
    """`wide`'s random init with `narrow` in its leading slice, and zeros where old outputs read new inputs."""
    if narrow.dim() != wide.dim() or any(n > w for n, w in zip(narrow.shape, wide.shape, strict=True)):
        raise StyleCamError(f"cannot widen {name}: {tuple(narrow.shape)} does not fit in {tuple(wide.shape)}")
    out = wide.clone()
    out[tuple(slice(0, n) for n in narrow.shape)] = narrow
    if narrow.dim() >= 2 and wide.shape[1] > narrow.shape[1]:
        out[: narrow.shape[0], narrow.shape[1] :] = 0
    return out


def widen_generator(narrow: nn.Module, config: GeneratorConfig, seed: int = 0) -> nn.Module:
    """A generator of `config` (the narrow one's architecture at a larger `ngf`) that paints what
    `narrow` paints, its new channels ready to be trained."""
    old = getattr(narrow, "config", None)
    if old is None or old.arch not in WIDENABLE or old.arch != config.arch or config.ngf < old.ngf:
        raise StyleCamError(
            f"can only widen a light generator ({', '.join(WIDENABLE)}) to a larger ngf of its own architecture, not "
            f"{old.describe() if old else type(narrow).__name__} to {config.describe()}"
        )
    torch.manual_seed(seed)
    wide = init_weights(create_generator(config))
    narrow_state = narrow.state_dict()
    state = {}
    for name, tensor in wide.state_dict().items():
        if name not in narrow_state:
            raise StyleCamError(f"cannot widen: {name} is not in the narrow generator")
        state[name] = _widened(narrow_state[name].to(tensor.dtype), tensor, name)
    wide.load_state_dict(state)
    return wide.to(next(narrow.parameters()).device)
