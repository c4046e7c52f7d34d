"""Side-by-side engine timing for the "what does X cost" benchmarks: several variants of one
style, each in its own engine, timed in interleaved rounds in one process so all see the same
machine load (the machine is too noisy for runs minutes apart to be compared)."""

from __future__ import annotations

import statistics

import numpy as np
from torch import nn

from models.engine import InferenceEngine


def interleaved_inference_ms(
    generators: dict[str, nn.Module], size: int, rounds: int, frames: int = 20
) -> dict[str, float]:
    """Median engine inference ms per 640x480 frame for each named generator, rounds interleaved."""
    engines = {}
    for name, generator in generators.items():
        engines[name] = InferenceEngine(device="cpu", size=size)
        engines[name].set_style(generator, name)
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, engine in engines.items():
            for _ in range(frames):
                engine.process(frame)
                times[name].append(engine.last_inference_ms)
    return {name: statistics.median(values) for name, values in times.items()}
