"""`python -m train.palette RUN`: fit a finished run's palette map and write it as a checkpoint.

The map (models/palette.py) is the linear Monge-Kantorovich colour transfer: the affine map
that gives the colours of the generator's outputs on the training photos the mean and covariance
of the training paintings' colours while moving them as little as possible. It is fitted on the
training folders only, so the test split still judges it (`python -m train.evaluate --run FILE`).
Each generator gets its own: A->B towards domain B's colours, B->A (when the run has one)
towards domain A's. The result is a copy of the checkpoint, by default RUN/checkpoints/palette.pt,
that evaluates and exports like any other; training does not resume from it (resume the run's
own checkpoint, then fit again). A fine-tune of a finished style keeps its map fixed while the
rest learns; `--refit` fits that map again on what the generator paints now.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np
import torch

from models.errors import StyleCamError
from train.evaluation.evaluate import load_images, stylize
from train.evaluation.metrics import sqrt_psd
from train.stages.export import generator_from_state
from train.trainers.checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint

PALETTE_CHECKPOINT = "palette.pt"
FIT_SIZE = 256
FIT_PHOTOS = 150
FIT_PAINTINGS = 400
# Floor on colour-covariance eigenvalues ([-1, 1] units squared): keeps the map finite when a
# generator paints (nearly) one flat colour.
MIN_VARIANCE = 1e-6


class ColourMoments:
    """Running mean and covariance of RGB pixels in [-1, 1], fed one uint8 image at a time."""

    def __init__(self) -> None:
        self.count = 0
        self.total = np.zeros(3)
        self.outer = np.zeros((3, 3))

    def add(self, rgb: np.ndarray) -> None:
        px = rgb.reshape(-1, 3).astype(np.float64) / 127.5 - 1.0
        self.count += len(px)
        self.total += px.sum(axis=0)
        self.outer += px.T @ px

    def mean(self) -> np.ndarray:
        return self.total / self.count

    def covariance(self) -> np.ndarray:
        mean = self.mean()
        return self.outer / self.count - np.outer(mean, mean)


def fit_colour_map(source: ColourMoments, target: ColourMoments) -> tuple[np.ndarray, np.ndarray]:
    """(matrix, bias) of the linear Monge-Kantorovich map taking source colours to target's
    mean and covariance: T = S^-1/2 (S^1/2 C S^1/2)^1/2 S^-1/2, bias = mean_t - T mean_s."""
    root = sqrt_psd(source.covariance(), MIN_VARIANCE)
    inv_root = np.linalg.inv(root)
    matrix = inv_root @ sqrt_psd(root @ target.covariance() @ root, MIN_VARIANCE) @ inv_root
    return matrix, target.mean() - matrix @ source.mean()


def image_moments(images: list[np.ndarray]) -> ColourMoments:
    moments = ColourMoments()
    for image in images:
        moments.add(image)
    return moments


def fit_generator_palette(
    state: dict, key: str, inputs: Path, target: Path, photos: int = FIT_PHOTOS, paintings: int = FIT_PAINTINGS
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fit the map of one generator of `state`: its outputs on `inputs` towards `target`'s colours."""
    generator, _ = generator_from_state(state, key)
    outputs = image_moments(stylize(generator, load_images(inputs, FIT_SIZE, photos, "photos")))
    wanted = image_moments(load_images(target, FIT_SIZE, paintings, "target images"))
    matrix, bias = fit_colour_map(outputs, wanted)
    info = {
        "inputs": str(inputs),
        "target": str(target),
        "images": [outputs.count // FIT_SIZE**2, wanted.count // FIT_SIZE**2],
        "mean_before": np.round(outputs.mean(), 3).tolist(),
        "mean_target": np.round(wanted.mean(), 3).tolist(),
    }
    return matrix, bias, info


def _set_palette(weights: dict, matrix: np.ndarray, bias: np.ndarray) -> None:
    weights["palette.weight"] = torch.tensor(matrix, dtype=torch.float32).reshape(3, 3, 1, 1)
    weights["palette.bias"] = torch.tensor(bias, dtype=torch.float32)


def with_palettes(state: dict, domain_a: Path, domain_b: Path, photos: int = FIT_PHOTOS, refit: bool = False) -> dict:
    """A copy of a training checkpoint whose generators end with fitted palette maps. With `refit`
    a generator that already ends with one (a fine-tune of a finished style, whose map stayed
    fixed while the rest learned) gets it fitted again, on its outputs before the map."""
    had_palette = bool(state["generator_config"].get("palette"))
    if had_palette and not refit:
        raise StyleCamError(
            "this checkpoint already has a palette map; fit on the run's own checkpoint, or pass --refit "
            "for a fine-tune of a finished style"
        )
    out = copy.deepcopy(state)
    out["generator_config"]["palette"] = True
    out["palette"] = {}
    jobs = [(state["export_model"], domain_a, domain_b)]
    if "G_B" in state["models"] and state["export_model"] != "G_B":
        jobs.append(("G_B", domain_b, domain_a))
    fit_on = _without_palettes(state, [key for key, _, _ in jobs]) if had_palette else state
    for key, inputs, target in jobs:
        matrix, bias, info = fit_generator_palette(fit_on, key, inputs, target, photos)
        _set_palette(out["models"][key], matrix, bias)
        if key in out.get("ema", {}).get("models", {}):
            _set_palette(out["ema"]["models"][key], matrix, bias)
        out["palette"][key] = info
    return out


def _without_palettes(state: dict, keys: list[str]) -> dict:
    """A view of `state` whose generators' palette maps are the identity (their raw outputs), for
    fitting: only those generators' weight dicts are new; the rest, optimisers included, is shared."""

    def plain_models(models: dict) -> dict:
        models = dict(models)
        for key in keys:
            if key in models:
                models[key] = dict(models[key])
                _set_palette(models[key], np.eye(3), np.zeros(3))
        return models

    plain = {**state, "models": plain_models(state["models"])}
    if "models" in state.get("ema", {}):
        plain["ema"] = {**state["ema"], "models": plain_models(state["ema"]["models"])}
    return plain


def _domain(state: dict, given: Path | None, key: str, flag: str) -> Path:
    folder = given or state.get("data", {}).get(key)
    if not folder or not Path(folder).is_dir():
        raise StyleCamError(f"the run's {key} folder ({folder}) is not here; pass {flag} DIR")
    return Path(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.palette", description=__doc__.splitlines()[0])
    parser.add_argument("run", help="training run folder or checkpoint")
    parser.add_argument("--out", type=Path, help=f"checkpoint to write (default RUN/checkpoints/{PALETTE_CHECKPOINT})")
    parser.add_argument("--domain-a", type=Path, help="training photos (default: the run's domain A)")
    parser.add_argument("--domain-b", type=Path, help="training paintings (default: the run's domain B)")
    parser.add_argument("--photos", type=int, default=FIT_PHOTOS, help=f"photos to fit on (default {FIT_PHOTOS})")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument(
        "--refit", action="store_true", help="fit the map again on a fine-tune of a style that already has one"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        source = resolve_checkpoint(args.run)
        state = load_checkpoint(source)
        domain_a = _domain(state, args.domain_a, "domain_a", "--domain-a")
        domain_b = _domain(state, args.domain_b, "domain_b", "--domain-b")
        fitted = with_palettes(state, domain_a, domain_b, args.photos, args.refit)
        out = args.out or source.parent / PALETTE_CHECKPOINT
        save_checkpoint(out, fitted)
    except StyleCamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for key, info in fitted["palette"].items():
        print(f"{key}: mean colour {info['mean_before']} -> {info['mean_target']} (RGB in [-1, 1])")
    print(
        f"wrote {out}\nnext: python -m train.evaluate --run {out}   then   python -m train.stages.export {out} --name NAME"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
