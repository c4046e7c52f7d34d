"""The stride-locked pattern penalty and measure tell a hatched image from a clean one."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from train.losses.stride_pattern import stride_pattern_loss, stride_peak_ratio


def clean_image(seed: int = 0, size: int = 128) -> np.ndarray:
    """Smooth colour fields with a few hard-edged shapes: photo-like, nothing grid-locked."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 256, (8, 8, 3)).astype(np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
    for _ in range(6):
        x, y = rng.integers(0, size, 2).tolist()
        r = int(rng.integers(5, 30))
        cv2.circle(base, (x, y), r, rng.integers(0, 256, 3).tolist(), -1)
    noise = rng.normal(0, 4, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def hatch(image: np.ndarray, amplitude: float = 20.0) -> np.ndarray:
    """The artefact: a diagonal period-4 pattern locked to the pixel grid."""
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    pattern = amplitude * np.cos(2 * np.pi * (xx + yy) / 4)
    return np.clip(image + pattern[..., None], 0, 255).astype(np.uint8)


def as_tensor(images: list[np.ndarray]) -> torch.Tensor:
    return torch.stack([torch.from_numpy(i).permute(2, 0, 1).float() / 127.5 - 1 for i in images])


def test_peak_ratio_flags_hatching_only() -> None:
    clean = [clean_image(s) for s in range(4)]
    assert stride_peak_ratio(clean) < 3
    assert stride_peak_ratio([hatch(i) for i in clean]) > 20


def test_loss_is_small_on_clean_images_and_training_removes_the_pattern() -> None:
    clean = as_tensor([clean_image(s) for s in range(4)])
    hatched = as_tensor([hatch(clean_image(s)) for s in range(4)])
    assert float(stride_pattern_loss(hatched)) > 5 * float(stride_pattern_loss(clean))
    # Gradient steps on the penalty alone bring the hatched images back to the clean ones.
    x = hatched.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=0.01)
    for _ in range(200):
        optimizer.zero_grad()
        stride_pattern_loss(x).backward()
        optimizer.step()
    assert float((x.detach() - clean).abs().mean()) < 0.5 * float((hatched - clean).abs().mean())
