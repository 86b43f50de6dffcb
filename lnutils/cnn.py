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
import torch.nn.functional as F
from torch import Tensor, nn

from lnutils import layers, norms
from lnutils.stacks import SeededStack

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
    """LayerNorm over the channels at each position of an (N, C, H, W) input
    (channels-last LN)."""

    def __init__(self, num_channels: int, eps: float = 1e-5):
        super().__init__()
        self.norm = layers.LayerNorm(num_channels, eps=eps)

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
    """The normalization layer called ``name`` for ``channels`` channels, from
    lnutils.layers."""
    if name == "none":
        return nn.Identity()
    if name == "batch norm":
        return layers.BatchNorm2d(channels)
    if name == "layer norm (C,H,W)":
        return layers.GroupNorm(1, channels)
    if name == "layer norm (C)":
        return ChannelLayerNorm(channels)
    if name.startswith("group norm (G="):
        return layers.GroupNorm(int(name[len("group norm (G=") : -1]), channels)
    if name == "instance norm":
        return layers.InstanceNorm2d(channels, affine=True)
    if name == "rms norm":
        return RMSNorm2d(channels)
    raise ValueError(f"unknown normalization {name!r}; choose one of {NORMALIZATIONS}")


class SmallCNN(nn.Module):
    """Three conv blocks (conv → norm → ReLU), global average pooling, a linear classifier."""

    def __init__(
        self,
        normalization: str = "none",
        channels=(16, 32, 64),
        num_classes: int = 10,
    ):
        super().__init__()
        self.normalization = normalization
        blocks = []
        in_channels = 1
        for index, out_channels in enumerate(channels):
            stride = 1 if index == 0 else 2
            # no conv bias when a normalization follows: its mean subtraction removes it
            bias = normalization == "none"
            conv = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=bias)
            blocks.append(conv)
            blocks.append(make_norm(normalization, out_channels))
            blocks.append(nn.ReLU())
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or images.shape[1] != 1:
            shape = list(images.shape)
            raise ValueError(f"expected images of shape (N, 1, H, W), got {shape}")
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


# ----------------------------------------------------------------------------- K networks as one computation


def _cat(tensors: list[Tensor | None]) -> Tensor | None:
    return None if tensors[0] is None else torch.cat(tensors)


def _grouped_norm(x: Tensor, norms_k: list[nn.Module], training: bool) -> Tensor:
    """The normalization of K networks applied at once to (B, K·C, H, W), network k's channels in the
    k-th slice: every layer here keeps its statistics inside one network's channels, so one call on the
    concatenation equals K calls.  BatchNorm's running statistics are written back to each network."""
    first, count = norms_k[0], len(norms_k)
    if isinstance(first, nn.Identity):
        return x
    if isinstance(first, layers.BatchNorm2d):
        running_mean = torch.cat([m.running_mean for m in norms_k])
        running_var = torch.cat([m.running_var for m in norms_k])
        factor = first.momentum if first.momentum is not None else 0.0
        if training:
            for m in norms_k:
                m.num_batches_tracked.add_(1)
            if first.momentum is None:
                factor = 1.0 / float(first.num_batches_tracked)
        out = norms.batch_norm(
            x,
            running_mean,
            running_var,
            _cat([m.weight for m in norms_k]),
            _cat([m.bias for m in norms_k]),
            training,
            factor,
            first.eps,
        )
        if training:
            with torch.no_grad():
                for m, mean, var in zip(norms_k, running_mean.chunk(count), running_var.chunk(count)):
                    m.running_mean.copy_(mean)
                    m.running_var.copy_(var)
        return out
    if isinstance(first, layers.GroupNorm):  # LN(C,H,W) = GroupNorm(1, C) and GroupNorm(G): K·G groups
        weight, bias = _cat([m.weight for m in norms_k]), _cat([m.bias for m in norms_k])
        return norms.group_norm(x, count * first.num_groups, weight, bias, first.eps)
    if isinstance(first, layers.InstanceNorm2d):
        weight, bias = _cat([m.weight for m in norms_k]), _cat([m.bias for m in norms_k])
        return norms.instance_norm(x, None, None, weight, bias, True, 0.1, first.eps)
    batch, channels, height, width = x.shape
    per = channels // count
    if isinstance(first, ChannelLayerNorm):  # LN over the C channels at each position, per network
        grouped = x.reshape(batch, count, per, height, width).permute(0, 1, 3, 4, 2)
        normalized = norms.layer_norm(grouped, (per,), eps=first.norm.eps)
        weight = torch.stack([m.norm.weight for m in norms_k]).reshape(1, count, 1, 1, per)
        bias = torch.stack([m.norm.bias for m in norms_k]).reshape(1, count, 1, 1, per)
        return (normalized * weight + bias).permute(0, 1, 4, 2, 3).reshape(batch, channels, height, width)
    if isinstance(first, RMSNorm2d):  # RMS over (C, H, W) of each network's slice
        grouped = x.reshape(batch, count, per * height * width)
        normalized = norms.rms_norm(grouped, (per * height * width,), eps=first.eps).reshape(x.shape)
        return normalized * torch.cat([m.weight for m in norms_k]).reshape(1, -1, 1, 1)
    raise TypeError(f"no grouped form for {type(first).__name__}")


def grouped_forward(networks: list[SmallCNN], images: Tensor) -> Tensor:
    """K :class:`SmallCNN` s of one normalization, each on its own batch, as one computation: the K
    inputs are K channels of one image batch, every convolution a grouped convolution (groups=K) over
    the K networks' concatenated weights, every normalization one call (:func:`_grouped_norm`), the K
    classifiers one batched product.  Same numbers as calling the networks one by one (up to the order
    of float additions) and the same parameters: gradients flow back to each network's own.

    ``images``: (K, B, 1, H, W); returns logits (K, B, classes)."""
    count = len(networks)
    batch = images.shape[1]
    x = images.transpose(0, 1).reshape(batch, count, *images.shape[3:])
    layers = list(zip(*(network.features for network in networks)))
    training = networks[0].training
    for index in range(0, len(layers), 3):
        convs, norms_k = layers[index], layers[index + 1]
        first = convs[0]
        x = F.conv2d(
            x,
            torch.cat([c.weight for c in convs]),
            _cat([c.bias for c in convs]),
            stride=first.stride,
            padding=first.padding,
            groups=count,
        )
        x = torch.relu(_grouped_norm(x, list(norms_k), training))
    pooled = x.mean(dim=(2, 3)).reshape(batch, count, -1)
    weight = torch.stack([n.classifier.weight for n in networks])  # (K, classes, features)
    bias = torch.stack([n.classifier.bias for n in networks])  # (K, classes)
    return torch.einsum("bkf,kof->kbo", pooled, weight) + bias[:, None, :]


GROUPED_UP_TO_BATCH = 32  # CNNStack runs its networks as one grouped computation at batches this small


class CNNStack(SeededStack):
    """K copies of :class:`SmallCNN` with one normalization, one per seed (:class:`lnutils.train.Stack`).

    Takes flattened images of shape (K, B, 784) (network k gets its own batch) and
    returns logits of shape (K, B, 10).
    """

    def __init__(self, normalization: str, seeds: list[int], grouped: bool | None = None):
        super().__init__(normalization, seeds, lambda: SmallCNN(normalization))
        self.normalization = normalization
        # K networks as one computation (lnutils.cnn.grouped_forward; the same numbers) or one after another.
        # None: whichever `python -m lnutils.bench stacks` measured faster on a CPU: grouped for small
        # batches (1.3-1.6× the plain loop at batch 4 over several runs), looped for large ones (grouped
        # was 0.7-0.9× at 128).
        self.grouped = grouped

    def prepare(self, batch: Tensor) -> Tensor:
        side = int(round(batch.shape[-1] ** 0.5))
        return batch.reshape(-1, 1, side, side)

    def runs_grouped(self, batch_size: int) -> bool:
        return self.grouped if self.grouped is not None else batch_size <= GROUPED_UP_TO_BATCH

    def grouped_forward(self, inputs: Tensor) -> Tensor:
        return grouped_forward(list(self.networks), torch.stack([self.prepare(batch) for batch in inputs]))
