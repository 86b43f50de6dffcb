"""The mistakes students make most often in each normalization, written out as functions, so that a
self-check (:mod:`lnutils.check`) can name the one a failing function matches: the unbiased variance,
ε outside the square root, statistics over the wrong axes, and more.
"""

from __future__ import annotations

import torch

LABELS = ("input", "weight", "bias", "alpha")  # the tensors of every check, in the order they are passed


def labelled(tensors: list, *others: list) -> list[tuple]:
    """(label, tensor, matching tensors of ``others``...) for each tensor that is not None: the labels follow
    the positions, so a missing weight never shifts the name of the gradient after it."""
    return [(label, *row) for label, *row in zip(LABELS, tensors, *others) if row[0] is not None]


def _layer_statistics(x: torch.Tensor, dims: int, correction: int = 0):
    axes = tuple(range(x.dim() - dims, x.dim()))
    mean = x.mean(dim=axes, keepdim=True)
    variance = ((x - mean) ** 2).sum(dim=axes, keepdim=True) / (int(torch.tensor(x.shape[-dims:]).prod()) - correction)
    return mean, variance


def layer_norm_mistakes(dims: int, eps: float, center: bool = True) -> list[tuple[str, object]]:
    """The common mistakes of a layer norm over the last ``dims`` axes (``center=False``: RMSNorm), each as
    (what it is, the function it computes) for :func:`_compare` to recognise in a wrong output."""

    def affine(y, w, b):
        return y if w is None else y * w + (0 if b is None else b)

    def unbiased(x, w=None, b=None, *_):
        mean, variance = _layer_statistics(x, dims, correction=1)
        return affine((x - mean) / torch.sqrt(variance + eps), w, b)

    def eps_outside(x, w=None, b=None, *_):
        mean, variance = _layer_statistics(x, dims)
        if not center:
            mean, variance = 0, (x**2).mean(dim=tuple(range(x.dim() - dims, x.dim())), keepdim=True)
        return affine((x - mean) / (torch.sqrt(variance) + eps), w, b)

    def no_affine(x, *_):
        mean, variance = _layer_statistics(x, dims)
        if not center:
            mean, variance = 0, (x**2).mean(dim=tuple(range(x.dim() - dims, x.dim())), keepdim=True)
        return (x - mean) / torch.sqrt(variance + eps)

    def subtracts_the_mean(x, w=None, *_):
        mean, variance = _layer_statistics(x, dims)
        return affine((x - mean) / torch.sqrt(variance + eps), w, None)

    def over_the_batch(x, w=None, b=None, *_):
        mean = x.mean(dim=0, keepdim=True)
        variance = ((x - mean) ** 2).mean(dim=0, keepdim=True)
        return affine((x - mean) / torch.sqrt(variance + eps), w, b)

    found = [
        ("ε added outside the square root: σ + ε instead of √(σ² + ε)", eps_outside),
        ("the gain and bias (g, b) were not applied", no_affine),
    ]
    if center:
        found.insert(0, ("the unbiased variance (dividing by H − 1; the paper's σ² divides by H)", unbiased))
        found.append(
            ("statistics over the batch (axis 0), batch norm's, instead of over each case's units", over_the_batch)
        )
    else:
        found.append(
            ("the mean subtracted: RMSNorm divides by the root mean square and does not center", subtracts_the_mean)
        )
    return found


def _channel_shape(x: torch.Tensor) -> tuple[int, ...]:
    return (1, x.shape[1]) + (1,) * (x.dim() - 2)


def _channel_affine(y, w, b, x):
    return y if w is None else y * w.reshape(_channel_shape(x)) + (0 if b is None else b.reshape(_channel_shape(x)))


def batch_norm_mistakes(eps: float) -> list[tuple[str, object]]:
    """Common mistakes of batch norm in training mode (Ioffe & Szegedy 2015, Alg. 1) for :func:`_compare`."""

    def per_channel(x, correction=0):
        axes = (0,) + tuple(range(2, x.dim()))
        mean = x.mean(dim=axes, keepdim=True)
        count = x.numel() // x.shape[1]
        return mean, ((x - mean) ** 2).sum(dim=axes, keepdim=True) / (count - correction)

    def unbiased(x, w=None, b=None):
        mean, variance = per_channel(x, correction=1)
        return _channel_affine((x - mean) / torch.sqrt(variance + eps), w, b, x)

    def eps_outside(x, w=None, b=None):
        mean, variance = per_channel(x)
        return _channel_affine((x - mean) / (torch.sqrt(variance) + eps), w, b, x)

    def per_case(x, w=None, b=None):
        mean, variance = _layer_statistics(x, x.dim() - 1)
        return _channel_affine((x - mean) / torch.sqrt(variance + eps), w, b, x)

    return [
        (
            "normalized with the unbiased variance: the training output divides by the batch's own σ² (over m); "
            "only running_var uses the unbiased one",
            unbiased,
        ),
        ("ε added outside the square root: σ + ε instead of √(σ² + ε)", eps_outside),
        ("statistics over each case's features (layer norm's) instead of over the batch for each channel", per_case),
    ]


def group_norm_mistakes(groups: int, eps: float) -> list[tuple[str, object]]:
    """Common mistakes of group norm (Wu & He 2018) for :func:`_compare`."""

    def grouped(x, w, b, interleaved=False, correction=0):
        n, c = x.shape[:2]
        parts = x.reshape(n, c // groups, groups, -1).transpose(1, 2) if interleaved else x.reshape(n, groups, -1)
        flat = parts.reshape(n, groups, -1)
        mean = flat.mean(-1, keepdim=True)
        variance = ((flat - mean) ** 2).sum(-1, keepdim=True) / (flat.shape[-1] - correction)
        y = ((flat - mean) / torch.sqrt(variance + eps)).reshape(parts.shape)
        y = (y.transpose(1, 2) if interleaved else y).reshape(x.shape)
        return _channel_affine(y, w, b, x)

    return [
        (
            "channels grouped by c mod G (interleaved) instead of in consecutive blocks of C/G",
            lambda x, w=None, b=None: grouped(x, w, b, interleaved=True),
        ),
        ("the unbiased variance (dividing by n − 1)", lambda x, w=None, b=None: grouped(x, w, b, correction=1)),
    ]


def dynamic_tanh_mistakes() -> list[tuple[str, object]]:
    """Common mistakes of DyT (Zhu et al. 2025, Eq. 1) for :func:`_compare`."""

    def affine(y, w, b):
        return y if w is None else y * w + b

    return [
        (
            "α applied after the tanh: α·tanh(x) instead of tanh(α x)",
            lambda x, w, b, a: affine(a * torch.tanh(x), w, b),
        ),
        ("the gain and bias (γ, β) were not applied", lambda x, w, b, a: torch.tanh(a * x)),
    ]


def layer_norm_chw_mistakes(eps: float) -> list[tuple[str, object]]:
    """Common mistakes of LN over (C, H, W) for :func:`_compare`."""

    def over(x, w, b, axes):
        mean = x.mean(dim=axes, keepdim=True)
        variance = ((x - mean) ** 2).mean(dim=axes, keepdim=True)
        return _channel_affine((x - mean) / torch.sqrt(variance + eps), w, b, x)

    return [
        (
            "statistics over (H, W) for each channel: instance norm, not layer norm",
            lambda x, w=None, b=None: over(x, w, b, (2, 3)),
        ),
        (
            "statistics over the channels at each position (C only): the whole image is one layer",
            lambda x, w=None, b=None: over(x, w, b, (1,)),
        ),
    ]
