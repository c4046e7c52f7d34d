"""The palette map: a fixed affine colour map a finished style may end with.

A CPU-trained style learns the paintings' brushwork sooner than their palette: the Ukiyo-e
generators kept the photos' dark, saturated colours where the prints are pale paper. The map is
fitted once after training (`python -m train.palette`) so that the colours of the generator's
outputs on the training photos get the mean and covariance of the training paintings' colours,
and is then part of the style: stored with its weights and run by the inference engine.

It is a 1x1 convolution after the generator's tanh, registered after every other layer, so the
engine's frame path (which flips the last convolution's output channels to BGR) flips this one
and the generator's own last layer keeps feeding it RGB. Outputs are clamped back to [-1, 1].
"""

from __future__ import annotations

import torch
from torch import nn


class PaletteMap(nn.Conv2d):
    """RGB in [-1, 1] -> weight @ RGB + bias, clamped to [-1, 1]; the identity until fitted."""

    def __init__(self) -> None:
        super().__init__(3, 3, 1)
        with torch.no_grad():
            self.set_map(torch.eye(3), torch.zeros(3))
        self.requires_grad_(False)  # fitted in closed form, never trained

    @torch.no_grad()
    def set_map(self, matrix: torch.Tensor, bias: torch.Tensor) -> None:
        """Use y = matrix @ x + bias per pixel (3x3 and 3 values, for RGB in [-1, 1])."""
        self.weight.copy_(matrix.reshape(3, 3, 1, 1))
        self.bias.copy_(bias.reshape(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).clamp(-1.0, 1.0)
