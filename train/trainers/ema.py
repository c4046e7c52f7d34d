"""Exponential moving average (EMA) of the generators' weights during training.

A CycleGAN generator never settles: each step moves it towards whatever currently fools the
discriminator, and at any one step its output carries that step's blotches and busy texture. The
EMA of its weights (Karras et al. 2018; Yazici et al. 2019) averages that oscillation away at the
cost of a copy of the weights and one lerp per step. The trainer keeps one shadow per generator;
samples, evaluation and the export use the shadows, while training continues on the raw weights.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from train.trainers.checkpoint import cpu_state_dict

WARMUP = 10  # the effective decay ramps as (1 + n) / (WARMUP + n), so early shadows are not stuck at init


class WeightEMA:
    """Shadow copies of some modules whose parameters follow theirs with decay `decay` per update."""

    def __init__(self, sources: dict[str, nn.Module], decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be between 0 and 1, got {decay}")
        self.sources, self.decay, self.updates = sources, decay, 0
        self.shadows = {name: copy.deepcopy(m).eval().requires_grad_(False) for name, m in sources.items()}

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (WARMUP + self.updates))

    @torch.no_grad()
    def update(self) -> None:
        """Move every shadow one step towards its source (buffers are copied as they are)."""
        self.updates += 1
        weight = 1.0 - self.current_decay()
        for name, source in self.sources.items():
            shadow = self.shadows[name]
            for s, p in zip(shadow.parameters(), source.parameters(), strict=True):
                s.lerp_(p.detach().to(s.dtype), weight)
            for s, b in zip(shadow.buffers(), source.buffers(), strict=True):
                s.copy_(b)

    @torch.no_grad()
    def restart_from_sources(self) -> None:
        """Shadows = the sources' current weights (used when resuming a run that had no EMA)."""
        for name, source in self.sources.items():
            self.shadows[name].load_state_dict(source.state_dict())
        self.updates = 0

    def state_dict(self) -> dict:
        return {"updates": self.updates, "models": {name: cpu_state_dict(m) for name, m in self.shadows.items()}}

    def load_state_dict(self, state: dict) -> None:
        for name, shadow in self.shadows.items():
            shadow.load_state_dict(state["models"][name])
        self.updates = int(state["updates"])
