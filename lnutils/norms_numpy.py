"""Batch and layer norm in plain NumPy: the forward pass and the hand-derived backward.

For readers who want the arithmetic without autograd.  The inputs are 2-D arrays of
shape (N, H): N samples, H hidden units.  Batch norm takes its statistics down a
column (over the N samples of one unit); layer norm along a row (over the H units of
one sample).  Otherwise the two are the same computation, which is the point.
"""

from __future__ import annotations

import numpy as np

__all__ = ["batch_norm_forward", "batch_norm_backward", "layer_norm_forward", "layer_norm_backward"]


def _normalize_forward(a: np.ndarray, g: np.ndarray, b: np.ndarray, axis: int, eps: float):
    """â = (a − μ)/σ, y = g â + b, with μ, σ over ``axis``; returns y and a cache for backward."""
    mu = a.mean(axis=axis, keepdims=True)  # μ
    var = ((a - mu) ** 2).mean(axis=axis, keepdims=True)  # σ² as the mean of squared deviations
    inv_sigma = 1.0 / np.sqrt(var + eps)  # 1/σ
    a_hat = (a - mu) * inv_sigma  # â
    return g * a_hat + b, (a_hat, inv_sigma, g)


def _normalize_backward(grad_y: np.ndarray, cache, axis: int, param_axis: int):
    """∂L/∂a = (1/σ)(ĝ − mean(ĝ) − â·mean(ĝ â)) with ĝ = g ∂L/∂y; ∂L/∂g, ∂L/∂b summed over samples."""
    a_hat, inv_sigma, g = cache
    grad_a_hat = grad_y * g
    grad_a = inv_sigma * (
        grad_a_hat
        - grad_a_hat.mean(axis=axis, keepdims=True)
        - a_hat * (grad_a_hat * a_hat).mean(axis=axis, keepdims=True)
    )
    grad_g = (grad_y * a_hat).sum(axis=param_axis)
    grad_b = grad_y.sum(axis=param_axis)
    return grad_a, grad_g, grad_b


def batch_norm_forward(a, g, b, eps=1e-5):
    """Training-mode batch norm of an (N, H) array (Ioffe & Szegedy 2015, Alg. 1)."""
    _check(a, g, b)
    return _normalize_forward(a, g, b, axis=0, eps=eps)


def batch_norm_backward(grad_y, cache):
    """Gradients (∂L/∂a, ∂L/∂g, ∂L/∂b) of :func:`batch_norm_forward`."""
    return _normalize_backward(grad_y, cache, axis=0, param_axis=0)


def layer_norm_forward(a, g, b, eps=1e-5):
    """Layer norm of an (N, H) array over its H units (Ba et al. 2016, Eqs. 3 and 5)."""
    _check(a, g, b)
    return _normalize_forward(a, g, b, axis=1, eps=eps)


def layer_norm_backward(grad_y, cache):
    """Gradients (∂L/∂a, ∂L/∂g, ∂L/∂b) of :func:`layer_norm_forward`."""
    return _normalize_backward(grad_y, cache, axis=1, param_axis=0)


def _check(a, g, b):
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D array of shape (N, H), got shape {a.shape}")
    if g.shape != (a.shape[1],) or b.shape != (a.shape[1],):
        raise ValueError(f"g and b must have shape ({a.shape[1]},) to match H; got {g.shape} and {b.shape}")
