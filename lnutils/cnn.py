"""A small convolutional network with a choice of normalization after every convolution.

    conv 3×3, 1→16, 28×28 → norm → ReLU
    conv 3×3, 16→32, stride 2, 14×14 → norm → ReLU
    conv 3×3, 32→64, stride 2, 7×7 → norm → ReLU
    global average pool → linear 64→10

The LN paper (Section 6.7) does not say how LN applies to a convolutional layer.
There are two common readings, and this chapter compares both:

* ``"layer norm (C,H,W)"``: μ, σ over all channels and positions of a sample, with
  per-channel gain and bias. This is Wu & He 2018's LN, i.e. ``GroupNorm(1, C)``.
* ``"layer norm (C)"``: μ, σ over the channels at each position separately. This is what
  ConvNeXt and most vision transformers call LayerNorm: a channels-last ``LayerNorm(C)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lnutils import norms

NORMALIZATIONS = (
    "none",
    "batch norm",
    "layer norm (C,H,W)",
    "layer norm (C)",
    "group norm (G=4)",
    "group norm (G=8)",
    "instance norm",
    "rms norm",
)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels at each position of an (N, C, H, W) input (channels-last LN)."""

    def __init__(self, num_channels: int, eps: float = 1e-5):
        super().__init__()
        self.norm = norms.LayerNorm(num_channels, eps=eps)

    def forward(self, input: Tensor) -> Tensor:
        return self.norm(input.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class RMSNorm2d(nn.Module):
    """RMSNorm (Zhang & Sennrich 2019) over (C, H, W) of each sample, with a per-channel gain."""

    def __init__(self, num_channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_channels))

    def forward(self, input: Tensor) -> Tensor:
        normalized = norms.rms_norm(input, input.shape[1:], eps=self.eps)
        return normalized * self.weight.reshape(1, -1, 1, 1)


def make_norm(name: str, channels: int) -> nn.Module:
    """The normalization layer called ``name`` for ``channels`` channels, from lnutils.norms."""
    if name == "none":
        return nn.Identity()
    if name == "batch norm":
        return norms.BatchNorm2d(channels)
    if name == "layer norm (C,H,W)":
        return norms.GroupNorm(1, channels)
    if name == "layer norm (C)":
        return ChannelLayerNorm(channels)
    if name.startswith("group norm (G="):
        return norms.GroupNorm(int(name[len("group norm (G=") : -1]), channels)
    if name == "instance norm":
        return norms.InstanceNorm2d(channels, affine=True)
    if name == "rms norm":
        return RMSNorm2d(channels)
    raise ValueError(f"unknown normalization {name!r}; choose one of {NORMALIZATIONS}")


class SmallCNN(nn.Module):
    """Three conv blocks (conv → norm → ReLU), global average pooling, a linear classifier."""

    def __init__(self, normalization: str = "none", channels=(16, 32, 64), num_classes: int = 10):
        super().__init__()
        self.normalization = normalization
        blocks = []
        in_channels = 1
        for index, out_channels in enumerate(channels):
            stride = 1 if index == 0 else 2
            # no conv bias when a normalization follows: its mean subtraction would remove it
            blocks.append(
                nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=normalization == "none")
            )
            blocks.append(make_norm(normalization, out_channels))
            blocks.append(nn.ReLU())
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or images.shape[1] != 1:
            raise ValueError(f"expected images of shape (N, 1, H, W), got {list(images.shape)}")
        return self.classifier(self.features(images).mean(dim=(2, 3)))

    @torch.no_grad()
    def pre_activations(self, images: Tensor) -> list[Tensor]:
        """The summed inputs of each ReLU (after the normalization), one tensor per block."""
        outputs, hidden = [], images
        for module in self.features:
            if isinstance(module, nn.ReLU):
                outputs.append(hidden.clone())
            hidden = module(hidden)
        return outputs

    @torch.no_grad()
    def conv_outputs(self, images: Tensor) -> list[Tensor]:
        """The conv outputs before normalization (what the normalization sees), one per block."""
        outputs, hidden = [], images
        for module in self.features:
            hidden = module(hidden)
            if isinstance(module, nn.Conv2d):
                outputs.append(hidden.clone())
        return outputs
