"""`lite_fast`: the generator for a 2-core laptop CPU at a webcam's resolution, a distilled twin of a
`lite_hq` style (train/trainers/distill.py) that does no convolution at full resolution.

Where `lite_hq` at ngf 24 spends its ~29k MACs per output pixel (measured by layer):
a quarter at full resolution (the stem, the last upsampling's 3x3 and the output layer), a
quarter at half resolution and half in the residual trunk. `lite_fast` keeps the shape and
moves every full-resolution layer down one octave:
- the stem is a 6x6 convolution with stride 2 (the receptive field of a pixel-unshuffle and a
  3x3 at half resolution, with plain RGB in, so the engine's folding of the pixel scaling into
  the first convolution still holds exactly);
- the trunk is shorter and narrower (separable blocks at 2 x ngf on a quarter of the pixels);
- the output is a 3x3 convolution at half resolution to 12 channels, pixel-shuffled to RGB at
  full resolution, then a 1x1 colour mix: each 2x2 output block is painted jointly, which
  neither leaves a checkerboard (no transposed convolution) nor blurs as a resize would;
- the decoder's upsampling stage is weight-demodulated (no image statistics, nothing to fold at
  inference) as on the shipped styles;
- it may end with its teacher's colour stages, the fixed palette map (models/palette.py) and the
  parameter-free colour guard (models/colour_guard.py), so the twin paints the teacher's colours
  by the same arithmetic instead of learning them (`train.distill --teacher-colour`).
About 7.6k MACs per pixel at ngf 32 with 4 blocks: 3.8x fewer than the shipped styles. The edges
of a webcam frame that the half-resolution output cannot draw come back through the engine's
detail step (models/detail.py), which takes them from the camera frame.
"""

from __future__ import annotations

import torch
from torch import nn

from models.colour_guard import ColourGuard
from models.generator_config import GeneratorConfig, register_generator
from models.lite_generator import ResizeConvUp, SeparableResBlock, _norm_relu
from models.padding import pad_to_multiple
from models.palette import PaletteMap


def half_resolution_stem(channels: int) -> nn.Conv2d:
    """RGB at full resolution -> `channels` at half: a 6x6 stride-2 convolution, reflect-padded."""
    return nn.Conv2d(3, channels, 6, stride=2, padding=2, padding_mode="reflect")


def pixel_shuffle_head(channels: int) -> nn.Sequential:
    """`channels` at half resolution -> RGB in [-1, 1] at full resolution."""
    return nn.Sequential(
        nn.Conv2d(channels, 12, 3, padding=1, padding_mode="reflect"),
        nn.PixelShuffle(2),
        nn.Conv2d(3, 3, 1),
        nn.Tanh(),
    )


@register_generator("lite_fast")
class LiteFastGenerator(nn.Module):
    """RGB in [-1, 1] -> RGB in [-1, 1]; any input size (reflect-padded to x4)."""

    inference_border = 8  # as in LiteGenerator: the zero-padded inner convolutions' frame falls here

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        if config.global_tone:
            raise ValueError("lite_fast has no global tone: it learns its teacher's output")
        self.config = config
        c1, c2 = config.ngf, config.ngf * 2
        self.encoder = nn.Sequential(
            half_resolution_stem(c1),
            *_norm_relu(c1),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),
            *_norm_relu(c2),
        )
        self.blocks = nn.Sequential(*[SeparableResBlock(c2) for _ in range(config.n_blocks)])
        self.decoder = nn.Sequential(
            ResizeConvUp(c2, c1, full_conv=True, demod=config.decoder_norm == "demod"),
            pixel_shuffle_head(c1),
        )
        # Last, as in LiteGenerator: the engine's BGR flip finds the palette as the last convolution.
        self.palette = PaletteMap() if config.palette else None
        self.guard = ColourGuard(config.colour_guard) if config.colour_guard else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        border = 0 if self.training else self.inference_border
        x, h, w = pad_to_multiple(x, 4, border)
        y = self.decoder(self.blocks(self.encoder(x)))
        if self.palette is not None:
            y = self.palette(y)
        if self.guard is not None:
            y = self.guard(x, y)
        return y[..., border : border + h, border : border + w]
