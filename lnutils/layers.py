"""The normalization layers as ``torch.nn`` modules, over the functions of :mod:`lnutils.norms`.

Each mirrors its ``torch.nn`` namesake: the same constructor arguments, parameter and buffer names
(g is ``weight``, b is ``bias``; batch norm's ``running_mean``, ``running_var`` and
``num_batches_tracked``), so ``load_state_dict`` works in both directions.  The equations and
their hand-derived gradients are in :mod:`lnutils.norms`; a module holds the parameters and, for
batch norm, the running statistics, and calls the function.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lnutils import norms

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm2d", "RMSNorm", "DynamicTanh"]


def _affine_parameters(module: nn.Module, shape, affine: bool, bias: bool, factory: dict) -> None:
    """Give ``module`` its gain g (``weight``, starting at 1) and bias b (``bias``, starting at 0) of
    ``shape`` when ``affine``, b only when ``bias`` too; else register them as None, as torch does."""
    if affine:
        module.weight = nn.Parameter(torch.ones(shape, **factory))
        if bias:
            module.bias = nn.Parameter(torch.zeros(shape, **factory))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_affine(module: nn.Module) -> None:
    """g (``weight``) to 1 and b (``bias``) to 0, where the module has them."""
    with torch.no_grad():
        if getattr(module, "weight", None) is not None:
            module.weight.fill_(1.0)
        if getattr(module, "bias", None) is not None:
            module.bias.zero_()


class _ReadableModule(nn.Module):
    """The modules' common base.  They are written to be read (Python type hints, a hand-derived backward
    as a ``torch.autograd.Function``), and TorchScript compiles neither, so ``torch.jit.script`` is refused
    with that reason; ``torch.compile``, ``torch.jit.trace``, ``torch.func`` and forward-mode AD work."""

    def __prepare_scriptable__(self):
        raise RuntimeError(
            f"lnutils.layers.{type(self).__name__} cannot be compiled by torch.jit.script: TorchScript does not "
            "compile a Python torch.autograd.Function (the hand-derived backward these layers teach) or "
            "Python type hints such as Sequence.  Use torch.compile or torch.jit.trace on the model"
            + (
                f", or torch.nn.{type(self).__name__} (the same state_dict loads into it) for a scripted model."
                if hasattr(nn, type(self).__name__)
                else "."
            )
        )


class _BatchNorm(_ReadableModule):
    """Same constructor, parameters and buffers as ``torch.nn.modules.batchnorm._BatchNorm``."""

    _expected_dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine_parameters(self, num_features, affine, bias, factory)  # g starts at 1, b at 0
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, **factory))
            self.register_buffer("running_var", torch.ones(num_features, **factory))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    _version = 2  # as torch: version 2 added num_batches_tracked

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Running statistics to (0, 1, 0 batches); g to 1 and b to 0, as torch."""
        self.reset_running_stats()
        _reset_affine(self)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        """A state dict of torch's version 1 format (before num_batches_tracked) loads with 0 batches, as
        in torch."""
        version = local_metadata.get("version", None)
        key = prefix + "num_batches_tracked"
        if (version is None or version < 2) and self.track_running_stats and key not in state_dict:
            state_dict[key] = torch.tensor(0, dtype=torch.long)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing, unexpected, errors)

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in self._expected_dims:
            expected = " or ".join(f"{d}D" for d in self._expected_dims)
            raise ValueError(f"expected {expected} input (got {input.dim()}D input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        # momentum=None means a cumulative moving average: factor 1/(number of batches seen).
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return norms.batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm over a (N, C) or (N, C, L) input; drop-in for :class:`torch.nn.BatchNorm1d`."""

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over an (N, C, H, W) input; drop-in for :class:`torch.nn.BatchNorm2d`."""

    _expected_dims = (4,)


class LayerNorm(_ReadableModule):
    """Layer norm module; drop-in for :class:`torch.nn.LayerNorm` (Ba et al. 2016, Eq. 3 for μ, σ; Eq. 5 for g, b)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.normalized_shape = norms.module_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, factory)

    def reset_parameters(self) -> None:
        """g to 1 and b to 0, as torch."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return norms.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(_ReadableModule):
    """Group norm module; drop-in for :class:`torch.nn.GroupNorm` (Wu & He 2018)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        factory = {"device": device, "dtype": dtype}
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine_parameters(self, num_channels, affine, bias, factory)

    def reset_parameters(self) -> None:
        """g to 1 and b to 0, as torch."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return norms.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        affine = f"affine={self.affine}, bias={self.bias is not None}"
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, {affine}"


class InstanceNorm2d(_BatchNorm):
    """Instance norm over (N, C, H, W) or (C, H, W); drop-in for :class:`torch.nn.InstanceNorm2d` (affine and
    tracking off by default)."""

    _expected_dims = (3, 4)  # (C, H, W) is one unbatched image, as in torch

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=False,
        track_running_stats=False,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        if input.dim() == 3:
            return self.forward(input.unsqueeze(0)).squeeze(0)
        use_input_stats = self.training or not self.track_running_stats
        return norms.instance_norm(
            input,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            use_input_stats,
            self.momentum if self.momentum is not None else 0.0,  # as torch: momentum=None freezes the buffers
            self.eps,
        )


class RMSNorm(_ReadableModule):
    """RMSNorm module; drop-in for :class:`torch.nn.RMSNorm` (Zhang & Sennrich 2019)."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = norms.module_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        """g to 1 and b to 0, as torch."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return norms.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class DynamicTanh(_ReadableModule):
    """Dynamic Tanh, DyT (Zhu et al. 2025): γ ⊙ tanh(α x) + β over the last dimension, α a learned
    scalar started at ``alpha0`` (0.5, the paper's default for non-LLM models).  A replacement for
    LayerNorm that computes no statistic; there is no torch.nn counterpart."""

    def __init__(self, normalized_shape, alpha0: float = 0.5, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        shape = norms.module_shape(normalized_shape)
        if len(shape) != 1:
            raise ValueError(f"DynamicTanh acts on the last dimension only; got normalized_shape {shape}")
        self.normalized_shape = shape
        self.alpha0 = float(alpha0)
        self.elementwise_affine = elementwise_affine
        self.alpha = nn.Parameter(torch.full((1,), self.alpha0, device=device, dtype=dtype))
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(shape, device=device, dtype=dtype))
            self.bias = nn.Parameter(torch.zeros(shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.alpha.fill_(self.alpha0)
            if self.weight is not None:
                self.weight.fill_(1.0)
                self.bias.zero_()

    def forward(self, input: Tensor) -> Tensor:
        norms.check_normalized_shape(input, self.normalized_shape)
        return norms.dynamic_tanh(input, self.alpha, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, alpha0={self.alpha0}, elementwise_affine={self.elementwise_affine}"
