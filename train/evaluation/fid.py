"""FID with Inception-v3 weights that the user already has on disk (torchvision's
`inception_v3_google-*.pth` state_dict). Nothing is ever downloaded. Note: torchvision's
Inception differs slightly from the TF-FID graph, so values are comparable only with each other.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.errors import StyleCamError
from train.evaluation.metrics import frechet_distance

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_inception(path: Path) -> torch.nn.Module:
    from torchvision.models import inception_v3

    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError) as err:
        raise StyleCamError(f"Inception weights {path} are not readable ({err})") from err
    model = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=True)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise StyleCamError(f"{path} is not a torchvision inception_v3 state_dict") from err
    model.fc = torch.nn.Identity()
    return model.eval()


@torch.no_grad()
def inception_features(model: torch.nn.Module, images: list[np.ndarray], batch: int = 16) -> np.ndarray:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    feats = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(np.stack(images[i : i + batch])).permute(0, 3, 1, 2).float() / 255.0
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        feats.append(model((x - mean) / std).numpy().astype(np.float64))
    return np.concatenate(feats, 0)


def fid_scores(weights: Path, sets: dict[str, list[np.ndarray]], styles: list[np.ndarray]) -> dict[str, float]:
    model = load_inception(Path(weights))
    real = inception_features(model, styles)
    return {name: frechet_distance(inception_features(model, imgs), real) for name, imgs in sets.items()}
