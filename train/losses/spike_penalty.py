"""The activation-peak penalty against "droplet" artefacts (bright or dark blobs in flat areas).

Karras et al. 2020 (StyleGAN2, section 2) traced droplets to normalisation: a generator learns to
put one strong, localised spike into a feature map so that the map's statistics are dominated by
it and the instance norm scales everything else down. The spike then shows up in the image as a
blob. This project's first CPU-trained styles did exactly this: the median over test photos of
their largest instance-norm input peak was 21-28 standard deviations above the channel mean (a
Gaussian map of 64x64 peaks near 4), and their yellow and black blobs sit on those peaks.

`record_norm_peaks` measures it (train.evaluate reports the median over test photos of each
image's largest peak). `SpikePenalty` hooks every instance norm of the given generators and,
during a training forward pass, adds up how far each channel's peak |z| exceeds `sigma`; a
trained generator can be fine-tuned with it to unlearn the trick without touching its
architecture (so the engine, the export and the manifest format stay as they are).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

DEFAULT_SIGMA = 10.0


def channel_peaks(x: torch.Tensor) -> torch.Tensor:
    """Per image and channel, the largest |x - mean| / std over the spatial positions: (N, C)."""
    x = x.float().flatten(2)
    mean, std = x.mean(2, keepdim=True), x.std(2, keepdim=True) + 1e-5
    return ((x - mean) / std).abs().amax(2)


def instance_norms(module: nn.Module) -> list[nn.Module]:
    """The instance norms inside `module`, whose inputs the penalty and the measurement watch."""
    return [m for m in module.modules() if isinstance(m, nn.InstanceNorm2d)]


class SpikePenalty:
    """Collects sum(relu(peak - sigma)) / channels over the hooked norms since the last `reset()`."""

    def __init__(self, generators: Iterable[nn.Module], sigma: float = DEFAULT_SIGMA) -> None:
        self.sigma = sigma
        self.total = torch.zeros(())
        self.enabled = False
        self._handles = [
            norm.register_forward_pre_hook(self._collect)
            for generator in generators
            for norm in instance_norms(generator)
        ]

    def _collect(self, _module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        if self.enabled and torch.is_grad_enabled():
            excess = (channel_peaks(inputs[0]) - self.sigma).clamp(min=0).mean()
            self.total = self.total.to(excess.device) + excess

    def reset(self) -> None:
        self.total = torch.zeros(())

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


@contextmanager
def record_norm_peaks(generator: nn.Module) -> Iterator[list[float]]:
    """Within the block, each forward pass of `generator` appends the largest channel peak (in
    standard deviations) found at any of its instance-norm inputs, batch item by batch item."""
    per_pass: list[float] = []
    current: list[torch.Tensor] = []

    def collect(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        current.append(channel_peaks(inputs[0]).amax(1))

    def close_pass(_module: nn.Module, _inputs: tuple, _output: torch.Tensor) -> None:
        if current:
            per_pass.extend(torch.stack(current).amax(0).tolist())
            current.clear()

    handles = [norm.register_forward_pre_hook(collect) for norm in instance_norms(generator)]
    handles.append(generator.register_forward_hook(close_pass))
    try:
        yield per_pass
    finally:
        for handle in handles:
            handle.remove()
