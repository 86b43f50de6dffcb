"""The border probe of chapter 3: does a normalization change what a trained CNN does at the image's
border?  Per block, how often units are active at the border ring against the centre, and the
activity maps behind the figure.  Each probe reads a network in eval mode and changes nothing.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from lnutils.cnn import SmallCNN


def _on_device_of(network: torch.nn.Module, images: Tensor) -> Tensor:
    return images.to(next(network.parameters()).device)


@torch.no_grad()
def activity_maps(network: SmallCNN, images: Tensor) -> list[np.ndarray]:
    """Per block, the fraction of (image, channel) units that are active (ReLU input > 0) at each position."""
    network.eval()
    images = _on_device_of(network, images)
    return [(pre > 0).float().mean(dim=(0, 1)).cpu().numpy() for pre in network.pre_activations(images)]


def border_mask(height: int, width: int, ring: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[:ring, :], mask[-ring:, :], mask[:, :ring], mask[:, -ring:] = True, True, True, True
    return mask


@torch.no_grad()
def border_statistics(network: SmallCNN, images: Tensor) -> list[dict]:
    """Per block: activity rate at the border ring vs the centre, and how the conv outputs'
    statistics differ from position to position and from channel to channel.

    ``position spread``: std over positions of the per-position mean of the conv output,
    divided by its overall std (0 = every position alike).  ``channel scale ratio``:
    largest / smallest per-channel std of the conv output (1 = every channel alike).
    Both are measured on what the normalization layer receives.
    """
    network.eval()
    images = _on_device_of(network, images)
    rows = []
    for block, (pre, conv) in enumerate(zip(network.pre_activations(images), network.conv_outputs(images))):
        active = (pre > 0).float().mean(dim=(0, 1)).cpu().numpy()
        ring = max(1, pre.shape[-1] // 7)
        mask = border_mask(*active.shape, ring)
        per_position_mean = conv.mean(dim=(0, 1))
        per_channel_std = conv.transpose(0, 1).flatten(1).std(dim=1)
        rows.append(
            {
                "block": block + 1,
                "size": f"{pre.shape[-2]}×{pre.shape[-1]}",
                "active at border": float(active[mask].mean()),
                "active in centre": float(active[~mask].mean()),
                "position spread": float(per_position_mean.std() / conv.std()),
                "channel scale ratio": float(per_channel_std.max() / per_channel_std.min().clamp_min(1e-12)),
            }
        )
    return rows


PROBED = ("none", "batch norm", "layer norm (C,H,W)", "layer norm (C)", "group norm (G=8)")


def border_probe(networks: dict[str, SmallCNN], images: Tensor, names=PROBED) -> dict[str, list[dict]]:
    """:func:`border_statistics` of each named network present ({normalization: network})."""
    return {name: border_statistics(networks[name], images) for name in names if name in networks}


def activity_maps_by_name(networks: dict[str, SmallCNN], images: Tensor, names=PROBED[:4]) -> dict[str, list]:
    """:func:`activity_maps` of each named network present ({normalization: network})."""
    return {name: activity_maps(networks[name], images) for name in names if name in networks}
