"""Which shipped style a new style starts from (`make-style --base auto`): the one whose outputs on
a few of the user's photos have the colour statistics nearest the paintings'.

Colour statistics are the RGB mean and covariance (train/stages/palette.py's ColourMoments, in
[-1, 1] units); the distance is the Frechet distance of the two Gaussians, the same closed form
FID uses: |m1 - m2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2). A fine-tune moves colours least
from the start nearest them, and the palette refit at the end does the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from models.style_library import StyleLibrary
from train.evaluation.evaluate import load_images, stylize
from train.evaluation.metrics import sqrt_psd
from train.stages.palette import ColourMoments, image_moments

PICK_SIZE = 128  # pixels square: colour statistics need no detail
PICK_PHOTOS = 8
PICK_PAINTINGS = 100


def colour_distance(a: ColourMoments, b: ColourMoments) -> float:
    """Frechet distance between the Gaussians of two colour distributions."""
    root = sqrt_psd(a.covariance())
    middle = np.linalg.eigvalsh(root @ b.covariance() @ root)
    trace = np.trace(a.covariance()) + np.trace(b.covariance()) - 2 * np.sum(np.sqrt(np.clip(middle, 0, None)))
    return float(np.sum((a.mean() - b.mean()) ** 2) + trace)


def sample_photos(folder: Path, count: int = PICK_PHOTOS, size: int = PICK_SIZE) -> list[np.ndarray]:
    """`count` photos of the folder, evenly spaced, as size x size RGB crops."""
    photos = load_images(folder, size, None, "photos")
    return [photos[i * len(photos) // min(count, len(photos))] for i in range(min(count, len(photos)))]


@torch.no_grad()
def base_distances(
    library: StyleLibrary, names: Sequence[str], photos: list[np.ndarray], paintings: list[np.ndarray]
) -> dict[str, float]:
    """Each named style's colour distance to the paintings, on its outputs for `photos`."""
    wanted = image_moments(paintings)
    out = {}
    for name in names:
        generator, _ = library.load(name)
        out[name] = round(colour_distance(image_moments(stylize(generator.eval(), photos)), wanted), 5)
    return out


def pick_base(
    library: StyleLibrary, names: Sequence[str], photos_dir: Path, paintings_dir: Path
) -> tuple[str, dict[str, float]]:
    """(nearest style, every candidate's distance) for the photos and paintings in these folders."""
    photos = sample_photos(photos_dir)
    paintings = load_images(paintings_dir, PICK_SIZE, PICK_PAINTINGS, "paintings")
    distances = base_distances(library, names, photos, paintings)
    return min(distances, key=distances.get), distances
