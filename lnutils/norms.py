"""Normalization written from its equations, as functions (``torch.nn.functional``'s signatures).

Notation (Ba, Kiros & Hinton 2016; Ioffe & Szegedy 2015):

* ``a`` — the summed inputs to a layer (``input`` here),
* μ, σ — the mean and standard deviation taken over a set of indices S,
* g, b — the learned gain and bias (PyTorch calls them ``weight`` and ``bias``),
* H — the number of hidden units a layer-norm statistic is taken over.

Every transform has the form  â = (a − μ) / σ,  y = g ⊙ â + b, with
σ = sqrt(mean((a − μ)²) + ε); the variance is always computed as the mean of squared
deviations (never E[a²] − E[a]², which loses precision).  They differ only in S:

=============  ====================================================
batch norm     over (N, *spatial) for each channel
layer norm     over the last ``len(normalized_shape)`` dims of a sample
instance norm  over (*spatial) for each sample and channel
group norm     over (C/G channels, *spatial) for each sample and group
=============  ====================================================

The forward passes of batch and layer norm are :class:`torch.autograd.Function` s whose
``backward`` is the formula derived by hand in the book (chapter "Gradients by hand"),
not autograd.  The signatures mirror ``torch.nn.functional``; the layers that hold g, b
and batch norm's running statistics, drop-in for ``torch.nn``, are in :mod:`lnutils.layers`.
"""

from __future__ import annotations

import numbers
from typing import Sequence

import torch
from torch import Tensor

__all__ = [
    "batch_norm",
    "layer_norm",
    "group_norm",
    "instance_norm",
    "rms_norm",
    "dynamic_tanh",
    "batch_norm_naive",
    "layer_norm_naive",
    "BatchNormFunction",
    "LayerNormFunction",
]


# ----------------------------------------------------------------------------- helpers


def _shape_tuple(normalized_shape) -> tuple[int, ...]:
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


def module_shape(normalized_shape) -> tuple[int, ...]:
    """A layer's normalized shape, refused at construction where it can never match an input (as torch)."""
    shape = _shape_tuple(normalized_shape)
    if not shape:
        raise ValueError(
            "normalized_shape must hold at least one size, e.g. LayerNorm(64) or LayerNorm((C, H, W)); got "
            f"{tuple(shape)}"
        )
    return shape


def check_normalized_shape(input: Tensor, normalized_shape: tuple[int, ...]) -> None:
    k = len(normalized_shape)
    if k == 0 or input.dim() < k or tuple(input.shape[-k:]) != normalized_shape:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size {list(input.shape)}"
        )


def _empty_output(input: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """The output of an empty batch: no values, but g and b in its graph, so that their gradients are
    zeros (as torch's) and not None."""
    output = input.clone()
    for parameter in (weight, bias):
        if parameter is not None and input.dim() >= 2:
            output = output + 0 * parameter.reshape(1, -1, *([1] * (input.dim() - 2)))
    return output


def _compute_dtype(input: Tensor) -> torch.dtype:
    """float16 and bfloat16 statistics are computed in float32, as PyTorch does: (a − μ)² in
    float16 overflows once |a − μ| > 256."""
    return torch.float32 if input.dtype in (torch.float16, torch.bfloat16) else input.dtype


def _scale_and_shift(normalized: Tensor, weight: Tensor | None, bias: Tensor | None, shape=None) -> Tensor:
    """y = g ⊙ â + b (g, b reshaped to ``shape`` when given; either may be None)."""
    output = normalized
    if weight is not None:
        output = output * (weight.reshape(shape) if shape is not None else weight)
    if bias is not None:
        output = output + (bias.reshape(shape) if shape is not None else bias)
    return output


def _mean_and_var(input: Tensor, dims: Sequence[int]) -> tuple[Tensor, Tensor]:
    """μ and the biased σ² over ``dims``: σ² = mean((a − μ)²), keepdim=True."""
    mu = input.mean(dim=tuple(dims), keepdim=True)
    var = ((input - mu) ** 2).mean(dim=tuple(dims), keepdim=True)
    return mu, var


def _check_dtypes(name: str, input: Tensor, *parameters: Tensor | None) -> None:
    """As torch: a floating-point input, and parameters of its dtype (a float16 or bfloat16 input may
    meet float32 parameters: mixed precision).  Anything else is a clear error, not a silent cast."""
    if not input.is_floating_point():
        raise RuntimeError(
            f"{name} expects a floating-point input, got {input.dtype}; convert it with .float() "
            "(images: .float() / 255)"
        )
    for parameter in parameters:
        if parameter is None or parameter.dtype == input.dtype:
            continue
        if input.dtype in (torch.float16, torch.bfloat16) and parameter.dtype == torch.float32:
            continue
        raise RuntimeError(
            f"{name}: mixed dtype, the input is {input.dtype} but the layer's parameters or buffers are "
            f"{parameter.dtype}; convert one to the other (module.to({input.dtype}) or input.to({parameter.dtype}))"
        )


def _normalize(input: Tensor, dims: Sequence[int], eps: float) -> tuple[Tensor, Tensor]:
    """â = (a − μ)/σ and 1/σ over ``dims``, in the compute dtype (float32 for half inputs)."""
    compute = input.to(_compute_dtype(input))
    mu, var = _mean_and_var(compute, dims)
    inv_sigma = torch.rsqrt(var + eps)
    return (compute - mu) * inv_sigma, inv_sigma


def _sum_to(tensor: Tensor, shape: torch.Size) -> Tensor:
    """Sum ``tensor`` over the dims broadcasting added, back to ``shape`` (for dg, db)."""
    leading = tensor.dim() - len(shape)
    dims = list(range(leading)) + [
        leading + i for i, s in enumerate(shape) if s == 1 and tensor.shape[leading + i] != 1
    ]
    return tensor.sum(dim=dims, keepdim=True).reshape(shape) if dims else tensor.reshape(shape)


# ----------------------------------------------------------------------------- layer norm


def _normalization_jvp(ctx, input_t, weight_t, bias_t, shape=None) -> Tensor:
    """The tangent of y = g ⊙ â + b over ``ctx.dims`` (g, b reshaped to ``shape`` when given):
    dâ = (1/σ)(da − mean(da) − â · mean(â ⊙ da)), dy = dg ⊙ â + g ⊙ dâ + db."""
    input, weight = ctx.saved_tensors
    normalized, inv_sigma = _normalize(input, ctx.dims, ctx.eps)
    shaped = (lambda t: t.reshape(shape)) if shape is not None else (lambda t: t)  # noqa: E731
    tangent = torch.zeros_like(normalized)
    if input_t is not None:
        da = input_t.to(normalized.dtype)
        mean_da = da.mean(dim=ctx.dims, keepdim=True)
        mean_da_dot = (da * normalized).mean(dim=ctx.dims, keepdim=True)
        d_normalized = inv_sigma * (da - mean_da - normalized * mean_da_dot)
        tangent = tangent + (d_normalized * shaped(weight) if weight is not None else d_normalized)
    if weight_t is not None:
        tangent = tangent + shaped(weight_t) * normalized
    if bias_t is not None:
        tangent = tangent + shaped(bias_t)
    return tangent.to(ctx.input_dtype)


class LayerNormFunction(torch.autograd.Function):
    """Layer norm with the hand-derived backward (Ba et al. 2016, Eq. 3 for μ, σ; Eq. 5 for g, b).

    Forward, over the H units of each sample:
        μ = (1/H) Σ_i a_i,   σ = sqrt((1/H) Σ_i (a_i − μ)² + ε),
        â = (a − μ)/σ,       y = g ⊙ â + b.

    Backward, with ĝ = ∂L/∂â = g ⊙ ∂L/∂y and means taken over the H units:
        ∂L/∂a = (1/σ) (ĝ − mean(ĝ) − â · mean(ĝ ⊙ â)),
        ∂L/∂g = Σ_samples ∂L/∂y ⊙ â,   ∂L/∂b = Σ_samples ∂L/∂y.
    It saves only the input a and g, which the caller holds anyway, not the intermediates autograd
    would keep, and recomputes μ, 1/σ and â from a in the backward pass.  Because that recomputation
    is made of differentiable operations on a and g, second derivatives (a gradient penalty,
    ``create_graph=True``) are correct too.

    The forward pass takes no ``ctx`` (``setup_context`` stores what backward needs), so the Function
    works under ``torch.func`` (``vmap``, ``grad``, ``jacrev``: its vmap rule is generated from these
    torch operations) and forward-mode AD (``jvp`` below), as :func:`torch.nn.functional.layer_norm` does.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(
        input: Tensor,
        weight: Tensor | None,
        bias: Tensor | None,
        num_dims: int,
        eps: float,
    ):
        dims = tuple(range(input.dim() - num_dims, input.dim()))
        normalized, _ = _normalize(input, dims, eps)
        return _scale_and_shift(normalized, weight, bias).to(input.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        input, weight, bias, num_dims, eps = inputs
        ctx.save_for_backward(input, weight)
        ctx.save_for_forward(input, weight)
        ctx.dims, ctx.eps = tuple(range(input.dim() - num_dims, input.dim())), eps
        ctx.input_dtype = input.dtype
        ctx.bias_dtype = bias.dtype if bias is not None else None

    @staticmethod
    def jvp(ctx, input_t, weight_t, bias_t, _num_dims_t, _eps_t):
        """Forward mode: dâ = (1/σ)(da − mean(da) − â · mean(â ⊙ da)), dy = dg ⊙ â + g ⊙ dâ + db."""
        return _normalization_jvp(ctx, input_t, weight_t, bias_t)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, weight = ctx.saved_tensors
        dims = ctx.dims
        normalized, inv_sigma = _normalize(input, dims, ctx.eps)
        grad_output = grad_output.to(normalized.dtype)
        grad_normalized = grad_output * weight if weight is not None else grad_output
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            mean_grad = grad_normalized.mean(dim=dims, keepdim=True)
            mean_grad_dot = (grad_normalized * normalized).mean(dim=dims, keepdim=True)
            centred = grad_normalized - mean_grad - normalized * mean_grad_dot
            grad_input = (inv_sigma * centred).to(ctx.input_dtype)
        if weight is not None and ctx.needs_input_grad[1]:
            grad_weight = _sum_to(grad_output * normalized, weight.shape).to(weight.dtype)
        if ctx.bias_dtype is not None and ctx.needs_input_grad[2]:
            units = grad_output.shape[-len(dims) :]
            grad_bias = _sum_to(grad_output, units).to(ctx.bias_dtype)
        return grad_input, grad_weight, grad_bias, None, None


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalization over the last ``len(normalized_shape)`` dims (Ba et al. 2016: μ, σ Eq. 3; g, b Eq. 5).

    Same signature and semantics as :func:`torch.nn.functional.layer_norm`. ε is added
    inside the square root, as PyTorch and the authors' code do (the paper has none).
    """
    shape = _shape_tuple(normalized_shape)
    check_normalized_shape(input, shape)
    _check_dtypes("layer_norm", input, weight, bias)
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None and tuple(tensor.shape) != shape:
            raise RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape {list(shape)}, but got {name} of shape "
                f"{list(tensor.shape)}"
            )
    return LayerNormFunction.apply(input, weight, bias, len(shape), eps)


def layer_norm_naive(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """The same forward, written as plain tensor ops so that autograd differentiates it."""
    shape = _shape_tuple(normalized_shape)
    check_normalized_shape(input, shape)
    dims = tuple(range(input.dim() - len(shape), input.dim()))
    mu = input.mean(dim=dims, keepdim=True)
    var = ((input - mu) ** 2).mean(dim=dims, keepdim=True)
    output = (input - mu) / torch.sqrt(var + eps)
    return _scale_and_shift(output, weight, bias)


# ----------------------------------------------------------------------------- batch norm


def _channel_shape(input: Tensor) -> tuple[int, ...]:
    """Shape that broadcasts a per-channel vector against an (N, C, *) input."""
    return (1, input.shape[1]) + (1,) * (input.dim() - 2)


class BatchNormFunction(torch.autograd.Function):
    """Batch norm in training mode with the hand-derived backward (Ioffe & Szegedy 2015, Alg. 1).

    Over the m = N·(spatial) values of each channel:
        μ_B = (1/m) Σ a,  σ_B² = (1/m) Σ (a − μ_B)²,  â = (a − μ_B)/sqrt(σ_B² + ε),  y = γ â + β.
    Backward (same compact form as layer norm, means now over the batch):
        ∂L/∂a = (1/σ) (ĝ − mean(ĝ) − â · mean(ĝ ⊙ â)),  with ĝ = γ ∂L/∂y.
    Returns the output and the batch statistics (μ_B, biased σ_B²) for the running averages.
    As :class:`LayerNormFunction`, it works under ``torch.func`` and forward-mode AD.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(input: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float):
        dims = (0,) + tuple(range(2, input.dim()))
        compute = input.to(_compute_dtype(input))
        mu, var = _mean_and_var(compute, dims)
        normalized = (compute - mu) * torch.rsqrt(var + eps)
        output = _scale_and_shift(normalized, weight, bias, _channel_shape(input)).to(input.dtype)
        return output, mu.reshape(-1), var.reshape(-1)

    @staticmethod
    def setup_context(ctx, inputs, outputs):
        input, weight, bias, eps = inputs
        ctx.save_for_backward(input, weight)  # μ_B, 1/σ and â are recomputed: second derivatives stay correct
        ctx.save_for_forward(input, weight)
        ctx.dims, ctx.eps = (0,) + tuple(range(2, input.dim())), eps
        ctx.input_dtype = input.dtype
        ctx.bias_dtype = bias.dtype if bias is not None else None
        ctx.mark_non_differentiable(outputs[1], outputs[2])

    @staticmethod
    def jvp(ctx, input_t, weight_t, bias_t, _eps_t):
        """Forward mode, as layer norm's with the means over the batch (μ_B and σ_B² are not
        differentiable outputs: they only feed the running averages)."""
        shape = _channel_shape(ctx.saved_tensors[0])
        return _normalization_jvp(ctx, input_t, weight_t, bias_t, shape), None, None

    @staticmethod
    def backward(ctx, grad_output: Tensor, _grad_mu=None, _grad_var=None):
        input, weight = ctx.saved_tensors
        dims = ctx.dims
        normalized, inv_sigma = _normalize(input, dims, ctx.eps)
        shape = _channel_shape(grad_output)
        grad_output = grad_output.to(normalized.dtype)
        grad_normalized = grad_output * weight.reshape(shape) if weight is not None else grad_output
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            mean_grad = grad_normalized.mean(dim=dims, keepdim=True)
            mean_grad_dot = (grad_normalized * normalized).mean(dim=dims, keepdim=True)
            grad_input = (inv_sigma * (grad_normalized - mean_grad - normalized * mean_grad_dot)).to(ctx.input_dtype)
        if weight is not None and ctx.needs_input_grad[1]:
            grad_weight = (grad_output * normalized).sum(dim=dims).to(weight.dtype)
        if ctx.bias_dtype is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(dim=dims).to(ctx.bias_dtype)
        return grad_input, grad_weight, grad_bias, None


def _check_batch_norm_input(input: Tensor, training: bool) -> None:
    if input.dim() < 2:
        raise ValueError(f"batch_norm expects an input of shape (N, C, *), got {list(input.shape)}")
    if training:
        values_per_channel = input.numel() // input.shape[1]
        if values_per_channel <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {list(input.shape)}: "
                "batch statistics of a single value are undefined (σ² = 0). Use a batch of 2 or more, "
                "or eval mode (running statistics), or layer norm."
            )


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization of an (N, C, *) input (Ioffe & Szegedy 2015, Alg. 1 and 2).

    Same signature and semantics as :func:`torch.nn.functional.batch_norm`:

    * ``training=True``: normalize with the batch's μ_B and biased σ_B²; if running
      buffers are given, update them in place with PyTorch's momentum convention
      ``running = (1 − momentum)·running + momentum·batch_stat``, using the *unbiased*
      variance σ_B²·m/(m−1) for ``running_var`` (Alg. 2, step 10).
    * ``training=False``: y = γ (a − E[a]) / sqrt(Var[a] + ε) + β with the running
      (population) statistics.
    """
    if input.numel() == 0:  # an empty batch: nothing to normalize, statistics untouched (as torch)
        return _empty_output(input, weight, bias)
    _check_batch_norm_input(input, training)
    _check_dtypes("batch_norm", input, weight, bias, running_mean, running_var)
    if training and eps <= 0:
        raise ValueError(
            f"batch_norm eps must be positive during training, got {eps}: with eps=0 a channel of equal values "
            "divides 0 by 0"
        )
    num_channels = input.shape[1]
    for name, tensor in (
        ("weight", weight),
        ("bias", bias),
        ("running_mean", running_mean),
        ("running_var", running_var),
    ):
        if tensor is not None and tensor.numel() != num_channels:
            raise RuntimeError(f"{name} should contain {num_channels} elements (one per channel), not {tensor.numel()}")
    if training:
        output, batch_mean, batch_var = BatchNormFunction.apply(input, weight, bias, eps)
        if running_mean is not None and running_var is not None:
            count = input.numel() // num_channels
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(momentum * batch_mean.to(running_mean.dtype))
                unbiased_var = batch_var * count / (count - 1)
                running_var.mul_(1 - momentum).add_(momentum * unbiased_var.to(running_var.dtype))
        return output
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm in eval mode (training=False) needs running_mean and running_var.")
    shape = _channel_shape(input)
    compute = input.to(_compute_dtype(input))
    output = (compute - running_mean.reshape(shape)) * torch.rsqrt(running_var.reshape(shape) + eps)
    return _scale_and_shift(output, weight, bias, shape).to(input.dtype)


def batch_norm_naive(input, weight=None, bias=None, eps=1e-5):
    """Training-mode batch norm as plain tensor ops, for autograd to differentiate."""
    dims = (0,) + tuple(range(2, input.dim()))
    mu = input.mean(dim=dims, keepdim=True)
    var = ((input - mu) ** 2).mean(dim=dims, keepdim=True)
    output = (input - mu) / torch.sqrt(var + eps)
    return _scale_and_shift(output, weight, bias, _channel_shape(input))


# ----------------------------------------------------------------------------- group / instance / RMS


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalization (Wu & He 2018, Eq. 1 with S_i = the C/G channels of i's group).

    Statistics per sample over (C/G channels, *spatial); per-channel gain and bias.
    ``num_groups=1`` is layer norm over (C, H, W); ``num_groups=C`` is instance norm.
    """
    if input.dim() < 2:
        raise ValueError(f"group_norm expects an input of shape (N, C, *), got {list(input.shape)}")
    _check_dtypes("group_norm", input, weight, bias)
    batch, channels = input.shape[:2]
    if channels % num_groups != 0:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input of "
            f"shape {list(input.shape)} and num_groups={num_groups}"
        )
    if input.numel() == 0:  # an empty batch
        return _empty_output(input, weight, bias)
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None and tensor.numel() != channels:
            raise RuntimeError(f"{name} should contain {channels} elements (one per channel), not {tensor.numel()}")
    grouped = input.reshape(batch, num_groups, -1).to(_compute_dtype(input))  # g, b applied before rounding back
    normalized = LayerNormFunction.apply(grouped, None, None, 1, eps).reshape(input.shape)
    return _scale_and_shift(normalized, weight, bias, _channel_shape(input)).to(input.dtype)


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Instance normalization (Ulyanov et al. 2016): statistics over (*spatial) per sample and channel.

    Signature of :func:`torch.nn.functional.instance_norm`. With running buffers and
    ``use_input_stats``, they are updated with the batch average of the per-instance
    μ and unbiased σ², as PyTorch does.
    """
    if input.dim() < 3:
        raise ValueError(f"instance_norm expects an input of shape (N, C, *spatial), got {list(input.shape)}")
    _check_dtypes("instance_norm", input, weight, bias, running_mean, running_var)
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    if input.numel() == 0:  # an empty batch or no spatial positions: nothing to normalize, as torch
        return _empty_output(input, weight, bias)
    spatial = input[0, 0].numel()
    if spatial <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {list(input.shape)}")
    output = group_norm(input, input.shape[1], weight, bias, eps)
    if running_mean is not None and running_var is not None:
        with torch.no_grad():
            dims = tuple(range(2, input.dim()))
            mu, var = _mean_and_var(input.detach(), dims)
            running_mean.mul_(1 - momentum).add_(momentum * mu.reshape(input.shape[:2]).mean(0))
            unbiased = var.reshape(input.shape[:2]) * spatial / (spatial - 1)
            running_var.mul_(1 - momentum).add_(momentum * unbiased.mean(0))
    return output


def rms_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """RMSNorm (Zhang & Sennrich 2019, Eq. 4): ā = a / RMS(a) ⊙ g, RMS(a) = sqrt(mean(a²) + ε).

    No re-centering (no μ) and no bias. ``eps=None`` uses the machine epsilon of the dtype the sum is
    computed in (float32 for a float16 or bfloat16 input), as :func:`torch.nn.functional.rms_norm` does.
    """
    shape = _shape_tuple(normalized_shape)
    check_normalized_shape(input, shape)
    _check_dtypes("rms_norm", input)  # as torch, a float64 input may meet a float32 weight (promoted)
    if weight is not None and tuple(weight.shape) != shape:
        raise RuntimeError(
            f"Expected weight to be of same shape as normalized_shape {list(shape)}, but got weight of shape "
            f"{list(weight.shape)}"
        )
    compute = input.to(_compute_dtype(input))
    if eps is None:
        eps = torch.finfo(compute.dtype).eps  # a half input's own eps (0.0078 for bfloat16) would swamp mean(a²)
    dims = tuple(range(input.dim() - len(shape), input.dim()))
    rms = torch.sqrt((compute * compute).mean(dim=dims, keepdim=True) + eps)
    return _scale_and_shift(compute / rms, weight, None).to(input.dtype)


def dynamic_tanh(input: Tensor, alpha: Tensor, weight: Tensor | None = None, bias: Tensor | None = None) -> Tensor:
    """Dynamic Tanh (Zhu, Chen, He, LeCun & Liu 2025, Eq. 1): DyT(x) = γ ⊙ tanh(α x) + β.

    No statistics at all: α is one learned scalar that sets how much of the input falls in
    tanh's linear part; γ (``weight``) and β (``bias``) act on the last dimension, as LN's g and b.
    """
    if alpha.numel() != 1:
        raise ValueError(f"alpha must hold one number (a learned scalar); got shape {tuple(alpha.shape)}")
    for name, parameter in (("weight", weight), ("bias", bias)):
        if parameter is not None and (parameter.dim() != 1 or parameter.shape[0] != input.shape[-1]):
            raise ValueError(
                f"{name} of shape {tuple(parameter.shape)} does not fit an input whose last dimension is "
                f"{input.shape[-1]}; it must have shape ({input.shape[-1]},)"
            )
    return _scale_and_shift(torch.tanh(alpha.reshape(()) * input), weight, bias)
