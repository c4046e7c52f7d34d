"""The reference CycleGAN ResNet generator (Zhu et al. 2017), key-compatible with
junyanz/pytorch-CycleGAN-and-pix2pix: a state_dict saved there loads here unchanged."""

from __future__ import annotations

import torch
from torch import nn

from models.colour_guard import ColourGuard
from models.generator_config import GeneratorConfig, register_generator
from models.padding import pad_to_multiple
from models.palette import PaletteMap


class ResnetBlock(nn.Module):
    """Two reflect-padded 3x3 convolutions with instance norm and a skip connection."""

    def __init__(self, dim: int, dropout: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=True),
            nn.InstanceNorm2d(dim),
            nn.ReLU(True),
        ]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True), nn.InstanceNorm2d(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


@register_generator("resnet")
class ResnetGenerator(nn.Module):
    """c7s1-ngf, two stride-2 downsamplings, n residual blocks, two transposed-conv upsamplings,
    c7s1-3, tanh. RGB in [-1, 1] -> RGB in [-1, 1]; any input size (reflect-padded to x4)."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        ngf = config.ngf
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(3, ngf, 7, bias=True),
            nn.InstanceNorm2d(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            mult = 2**i
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=True),
                nn.InstanceNorm2d(ngf * mult * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4, config.dropout) for _ in range(config.n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1),
                nn.InstanceNorm2d(ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.palette = PaletteMap() if config.palette else None  # last: see models/palette.py
        self.guard = ColourGuard(config.colour_guard) if config.colour_guard else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, h, w = pad_to_multiple(x, 4)
        y = self.model(x)
        if self.palette is not None:
            y = self.palette(y)
        if self.guard is not None:
            y = self.guard(x, y)
        return y[..., :h, :w]
