"""The light real-time generator: the reference ResNet's shape, made cheap enough for a laptop CPU.

Where the compute goes and what was changed (measured with `python main.py bench`):
- full-resolution layers dominate, so the 7x7 stem becomes a 3x3 and the last layer too;
- residual blocks use depthwise-separable convolutions (as GAN Compression's student does);
- only the first and last convolutions pad by reflection (the engine can fold pixel
  normalisation into the first one exactly); inner ones zero-pad inside the kernel, and paint a
  frame along the borders, so outside training the input gets an 8-px reflected margin;
- upsampling is bilinear resize + convolution, never a transposed convolution, which paints a
  checkerboard over every output (seen in an earlier CPU-trained prototype);
- `lite_hq` spends ~1.5x the MACs on full 3x3 convolutions after each resize: with only
  depthwise ones there, strongly textured styles came out as a regular 4-pixel hatching;
- `global_tone` (a config flag) adds `GlobalTone`, which gives back the input's overall tone
  that the instance norms take away;
- `norm_clip` (a config value) caps the decoder's normalised activations (see `ResizeConvUp`);
- `decoder_norm="demod"` replaces the decoder's instance norms by weight demodulation
  (`DemodConv2d`), the cure StyleGAN2 found for droplet artefacts;
- `palette` (a config flag) ends it with the colour map fitted after training (models/palette.py);
- `colour_guard` (a block size) then takes out colour patches the input does not explain
  (models/colour_guard.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.colour_guard import ColourGuard
from models.generator_config import GeneratorConfig, register_generator
from models.padding import pad_to_multiple
from models.palette import PaletteMap

DECODER_NORMS = ("instance", "demod")


def _norm_relu(channels: int) -> list[nn.Module]:
    return [nn.InstanceNorm2d(channels), nn.ReLU(True)]


def separable_conv(cin: int, cout: int) -> nn.Sequential:
    """3x3 depthwise followed by 1x1 pointwise: ~9x fewer MACs than a full 3x3."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False),
        nn.Conv2d(cin, cout, 1, bias=True),
    )


class SeparableResBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            separable_conv(dim, dim),
            *_norm_relu(dim),
            separable_conv(dim, dim),
            nn.InstanceNorm2d(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class DemodConv2d(nn.Conv2d):
    """A convolution whose filters are rescaled to unit L2 norm per output channel on every call
    (StyleGAN2's weight demodulation, without the style modulation).

    For inputs of unit variance its outputs keep unit variance, as an instance norm's would, but
    the scale comes from the weights rather than from the image: a generator cannot shrink a
    feature map by planting one huge spike in it, the trick behind droplet blobs
    (Karras et al. 2020, section 2.2). The keys of its state are a plain convolution's."""

    def demodulated_weight(self) -> torch.Tensor:
        w = self.weight
        return w * torch.rsqrt(w.float().square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8).to(w.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.demodulated_weight(), self.bias)


def fold_demodulation(model: nn.Module) -> nn.Module:
    """Replace every `DemodConv2d` in `model` (in place) by a plain convolution holding its
    demodulated filters, and return it. For inference, where the weights are fixed: the eager
    path then no longer renormalises each filter bank on every frame (on CUDA, a handful of
    small kernel launches per layer)."""
    for parent in model.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, DemodConv2d):
                plain = nn.Conv2d(
                    child.in_channels, child.out_channels, child.kernel_size, child.stride, child.padding,
                    child.dilation, child.groups, child.bias is not None, child.padding_mode,
                )  # fmt: skip
                with torch.no_grad():
                    plain.weight.copy_(child.demodulated_weight())
                    if child.bias is not None:
                        plain.bias.copy_(child.bias)
                setattr(parent, child_name, plain.to(child.weight.device, child.weight.dtype))
    return model


class ResizeConvUp(nn.Module):
    """1x1 channel reduction, x2 bilinear resize, 3x3 convolution: a checkerboard-free upsampling
    whose resize and higher-resolution work run on the reduced channel count. The 3x3 is
    depthwise in `lite`; `lite_hq` makes it a full convolution so textures can be painted at the
    finer resolutions rather than on the bottleneck's 4-pixel grid.

    With `clip` > 0 the ReLU after the norm becomes a ReLU capped at `clip` (standard deviations,
    as the norm's output is standardised), at no extra cost. Its inputs' peaks of 12-16 sigma,
    what is left of the droplet trick (train/losses/spike_penalty.py), reach the last convolution as a
    few saturated colour spots; capped at 4 their cores come out paler, and the styles' SWD+colour
    to the paintings dropped by 7-25% with texture SWD level or better. It does not remove a
    blob's rim: on Van Gogh the rims stayed as red spots, so that style ships uncapped (README).
    """

    def __init__(self, cin: int, cout: int, full_conv: bool = False, clip: float = 0.0, demod: bool = False) -> None:
        super().__init__()
        conv = DemodConv2d if demod else nn.Conv2d
        self.reduce = conv(cin, cout, 1, bias=True)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.smooth = conv(cout, cout, 3, padding=1, groups=1 if full_conv else cout, bias=True)
        # Parameter-free either way, so weights trained with or without the cap load into both.
        cap = nn.Hardtanh(0.0, clip) if clip > 0 else nn.ReLU(True)
        self.post = nn.Sequential(cap) if demod else nn.Sequential(nn.InstanceNorm2d(cout), cap)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(self.smooth(self.up(self.reduce(x))))


class GlobalTone(nn.Module):
    """The input's global tone, carried past the instance norms.

    Every instance norm removes its feature maps' spatial means, so a generator built of them cannot
    tell a dark scene from a bright one and gives every photo about the same overall tone: the 16x16
    low-pass of the Ukiyo-e style's outputs varied by 15 grey levels (std) between test photos,
    against 30-31 for the prints and the photos themselves, and that alone made its coarsest SWD
    level worse than the unstylized photos'. This path takes the spatial mean of the stem
    convolution's output (before its norm: an affine function of the input's mean colour, and
    unchanged by the engine folding the pixel scaling into that convolution), subtracts `center`,
    that mean averaged over the training images of the input domain (`calibrate`), and adds a
    learned projection of the difference to the decoder's last features. So it carries how a
    scene differs from the average one and cannot move the style's own average tone: with a
    free bias it learned to darken every output towards the photos (SWD+colour 155 -> 166).

    The projection is a plain parameter rather than an `nn.Linear`, so the trainer's random init
    leaves it at zero: switching the path on for a trained model changes nothing until fine-tuning
    grows it. GAIN lets Adam grow it within a fine-tune's few thousand small-learning-rate steps.
    """

    GAIN = 25.0

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels, channels))
        self.register_buffer("center", torch.zeros(channels))

    @staticmethod
    def _stem_mean(stem: torch.Tensor) -> torch.Tensor:
        return stem.mean(dim=(2, 3), dtype=torch.float32)

    @torch.no_grad()
    def calibrate(self, stem: torch.Tensor) -> None:
        """`center` = the stem's spatial mean averaged over a domain's images, (N, C, H, W)."""
        self.center.copy_(self._stem_mean(stem).mean(dim=0))

    def forward(self, stem: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) stem output -> (N, C, 1, 1) shift for the decoder's last features."""
        deviation = self._stem_mean(stem) - self.center.float()
        return (self.GAIN * F.linear(deviation, self.weight.float())).to(stem.dtype)[:, :, None, None]


@register_generator("lite")
class LiteGenerator(nn.Module):
    """RGB in [-1, 1] -> RGB in [-1, 1]; any input size (reflect-padded to x4)."""

    full_conv_up = False
    # Outside training the input is reflect-padded by this many pixels on each side and the
    # output cropped back: the zero-padded inner convolutions paint a frame of lines along the
    # picture's borders (6-10 px deep on the shipped styles' sheets), which then falls in the
    # margin. Training skips it (its crops are random, and it would cost 27% more at 128 px).
    inference_border = 8

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        c0, c1, c2 = config.ngf, config.ngf * 2, config.ngf * 4
        if config.decoder_norm not in DECODER_NORMS:
            raise ValueError(f"unknown decoder_norm {config.decoder_norm!r}; choose one of {DECODER_NORMS}")
        demod = config.decoder_norm == "demod"
        self.encoder = nn.Sequential(
            nn.Conv2d(3, c0, 3, padding=1, padding_mode="reflect"),
            *_norm_relu(c0),
            nn.Conv2d(c0, c1, 3, stride=2, padding=1),
            *_norm_relu(c1),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),
            *_norm_relu(c2),
        )
        self.blocks = nn.Sequential(*[SeparableResBlock(c2) for _ in range(config.n_blocks)])
        self.decoder = nn.Sequential(
            ResizeConvUp(c2, c1, self.full_conv_up, config.norm_clip, demod),
            ResizeConvUp(c1, c0, self.full_conv_up, config.norm_clip, demod),
            nn.Conv2d(c0, 3, 3, padding=1, padding_mode="reflect"),
            nn.Tanh(),
        )
        # Registered last: its parameters follow the ones a checkpoint without it holds, which
        # lets the trainer switch it on when resuming such a run (train/trainers/cyclegan.py).
        self.tone = GlobalTone(c0) if config.global_tone else None
        self.palette = PaletteMap() if config.palette else None  # last: see models/palette.py
        self.guard = ColourGuard(config.colour_guard) if config.colour_guard else None

    @torch.no_grad()
    def calibrate_tone(self, images: torch.Tensor) -> None:
        """Centre the global-tone path on a batch of its input domain's images (RGB in [-1, 1])."""
        self.tone.calibrate(self.encoder[0](images))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        border = 0 if self.training else self.inference_border
        x, h, w = pad_to_multiple(x, 4, border)
        if self.tone is None:
            y = self.decoder(self.blocks(self.encoder(x)))
        else:
            stem = self.encoder[0](x)
            features = self.decoder[:2](self.blocks(self.encoder[1:](stem)))
            y = self.decoder[2:](features + self.tone(stem))
        if self.palette is not None:
            y = self.palette(y)
        if self.guard is not None:
            y = self.guard(x, y)
        return y[..., border : border + h, border : border + w]


@register_generator("lite_hq")
class LiteHQGenerator(LiteGenerator):
    """`lite` with full 3x3 convolutions after each resize: about 1.5x the MACs, for styles whose
    brushwork the depthwise decoder can only paint as a regular 4-pixel pattern (Van Gogh)."""

    full_conv_up = True
