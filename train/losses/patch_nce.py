"""PatchNCE (Park et al. 2020, "Contrastive Learning for Unpaired Image-to-Image Translation"):
content kept by a contrastive loss on a generator's own encoder features. A patch of the output,
encoded again by the generator, must match the input patch at the same place (positive) better
than the other sampled patches of the same image (negatives), each layer through a small 2-layer
MLP head. The layers are the input pixels, the three ReLUs of the encoder (stem and both
downsamplings) and the middle residual block.

Used by CUT / FastCUT training (train/trainers/cut.py) and as the face-keeping term of a webcam fine-tune
(train/trainers/distill.py, --lambda-nce).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from models.errors import StyleCamError
from models.lite_generator import SeparableResBlock
from models.resnet_generator import ResnetBlock

BLOCK_TYPES = (ResnetBlock, SeparableResBlock)


class _EnoughFeatures(Exception):
    """Raised by the last hooked layer to end an encode-only pass."""


def nce_layers(generator: nn.Module) -> list[nn.Module]:
    """The modules whose outputs PatchNCE compares: the first three ReLUs (the stem and both
    downsamplings of the lite and ResNet generators) and the middle residual block."""
    relus = [m for m in generator.modules() if isinstance(m, nn.ReLU)][:3]
    blocks = [m for m in generator.modules() if isinstance(m, BLOCK_TYPES)]
    if len(relus) < 3 or not blocks:
        raise StyleCamError(
            f"{type(generator).__name__} has no encoder and residual trunk to take PatchNCE features from"
        )
    return [*relus, blocks[(len(blocks) - 1) // 2]]


class EncoderTap:
    """A generator's PatchNCE features: the input pixels plus the outputs of `nce_layers`,
    collected by forward hooks only inside `run` and `encode` (samples and exports see none)."""

    def __init__(self, generator: nn.Module, pixels: bool = True) -> None:
        self.pixels = pixels  # the input pixels as the first layer, as the paper; off lets colours move
        self.generator = generator
        self.layers = nce_layers(generator)
        self._outputs: list[torch.Tensor] | None = None
        self._stop_early = False
        for layer in self.layers:
            layer.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        if self._outputs is None:
            return
        self._outputs.append(output)
        if self._stop_early and module is self.layers[-1]:
            raise _EnoughFeatures

    @contextlib.contextmanager
    def _collecting(self, stop_early: bool) -> Iterator[list[torch.Tensor]]:
        self._outputs, self._stop_early = [], stop_early
        try:
            yield self._outputs
        finally:
            self._outputs, self._stop_early = None, False

    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The generator's output for `x` and its features."""
        with self._collecting(stop_early=False) as feats:
            out = self.generator(x)
        return out, [x, *feats] if self.pixels else list(feats)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Only the features of `x`: the pass stops at the last hooked layer (no decoder)."""
        with self._collecting(stop_early=True) as feats, contextlib.suppress(_EnoughFeatures):
            self.generator(x)
        return [x, *feats] if self.pixels else list(feats)


def projection_head(channels: int, dim: int) -> nn.Sequential:
    """The paper's 2-layer MLP that maps a layer's C-channel patch to the NCE space."""
    return nn.Sequential(nn.Linear(channels, dim), nn.ReLU(True), nn.Linear(dim, dim))


def sample_patches(
    feat: torch.Tensor, count: int, ids: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C, H, W) -> (B, N, C) at N random positions shared by the batch, and those positions."""
    flat = feat.flatten(2).transpose(1, 2)  # (B, HW, C)
    if ids is None:
        ids = torch.randperm(flat.shape[1], device=feat.device)[:count]
    return flat[:, ids], ids


def patch_nce(query: torch.Tensor, key: torch.Tensor, temperature: float) -> torch.Tensor:
    """PatchNCE for (B, N, D) L2-normalised patch embeddings: each query must pick its own key
    among the image's N keys (the other N - 1 are its negatives); cross-entropy, mean over
    patches. The keys carry no gradient, as in the paper."""
    scores = query @ key.detach().transpose(1, 2) / temperature  # (B, N, N), positives on the diagonal
    b, n, _ = scores.shape
    target = torch.arange(n, device=scores.device).repeat(b)
    return F.cross_entropy(scores.reshape(b * n, n), target)


class PatchNCE(nn.Module):
    """The projection heads of a generator's PatchNCE layers, and the loss between the features
    of outputs (queries) and of their inputs (keys), averaged over the layers."""

    def __init__(self, channels: list[int], dim: int = 256, patches: int = 256, temperature: float = 0.07) -> None:
        super().__init__()
        self.heads = nn.ModuleList([projection_head(c, dim) for c in channels])
        self.patches, self.temperature = patches, temperature

    def forward(self, out_feats: list[torch.Tensor], in_feats: list[torch.Tensor]) -> torch.Tensor:
        total = out_feats[0].new_zeros((), dtype=torch.float32)
        for head, q_feat, k_feat in zip(self.heads, out_feats, in_feats, strict=True):
            k, ids = sample_patches(k_feat, self.patches)
            q, _ = sample_patches(q_feat, self.patches, ids)
            total = total + patch_nce(F.normalize(head(q), dim=-1), F.normalize(head(k), dim=-1), self.temperature)
        return total / len(out_feats)


def feature_channels(tap: EncoderTap, device: torch.device) -> list[int]:
    """The channel count of each PatchNCE layer of the tapped generator."""
    with torch.no_grad():
        return [f.shape[1] for f in tap.encode(torch.zeros(1, 3, 32, 32, device=device))]
