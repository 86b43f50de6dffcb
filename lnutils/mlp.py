"""The MNIST chapter's 784-1000-1000-10 networks, K of them stacked for lockstep training.

K networks of the same kind (same normalization, different seeds) are one module
whose weights have a leading model axis: ``weight_l`` has shape (K, fan_in, fan_out),
so one batched matrix product (``torch.bmm``) runs all K at once.  Each network sees
its own mini-batch, so the input has shape (K, B, 784).

The three kinds follow Ba et al. 2016, Section 6.6:

* ``"baseline"``:   h = relu(W x + b)
* ``"layer norm"``: h = relu(g ⊙ LN(W x) + b) on the hidden layers; the output layer is
  plain (LN "not applied to the softmax layer");
* ``"batch norm"``: h = relu(γ ⊙ BN(W x) + β) on every layer, the output layer included.

Gains start at 1 and biases at 0, as the paper states.  Weights use PyTorch's default
``nn.Linear`` initialisation, U(−1/√fan_in, 1/√fan_in) (the paper does not say).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

METHODS = ("baseline", "batch norm", "layer norm")


class MLPStack(nn.Module):
    """K multilayer perceptrons of one kind, trained side by side.

    Args:
        method: "baseline", "batch norm" or "layer norm".
        seeds: one seed per network; network k is initialised from ``seeds[k]`` alone,
            so network k is the same whether it is trained alone or in a stack.
        sizes: layer widths, (784, 1000, 1000, 10) in the paper.
        bn_unbiased: normalize BN with the unbiased batch variance σ²·m/(m−1), as the
            paper does at batch size 4.
        momentum, eps: BN running-average momentum and ε (PyTorch's defaults).
    """

    def __init__(
        self,
        method: str,
        seeds: list[int],
        sizes=(784, 1000, 1000, 10),
        bn_unbiased: bool = False,
        momentum: float = 0.1,
        eps: float = 1e-5,
    ):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
        self.method, self.seeds, self.sizes = method, list(seeds), tuple(sizes)
        self.bn_unbiased, self.momentum, self.eps = bn_unbiased, momentum, eps
        models = len(self.seeds)
        self.num_layers = len(sizes) - 1
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            weight = torch.empty(models, fan_in, fan_out)
            for k, seed in enumerate(self.seeds):
                generator = torch.Generator().manual_seed(seed * 1000 + layer)
                bound = 1.0 / math.sqrt(fan_in)
                weight[k] = torch.rand(fan_in, fan_out, generator=generator) * 2 * bound - bound
            self.register_parameter(f"weight_{layer}", nn.Parameter(weight))
            self.register_parameter(f"bias_{layer}", nn.Parameter(torch.zeros(models, 1, fan_out)))  # b (β for BN)
            if self.normalizes(layer):
                self.register_parameter(f"gain_{layer}", nn.Parameter(torch.ones(models, 1, fan_out)))  # g (γ for BN)
            if self.normalizes(layer) and method == "batch norm":
                self.register_buffer(f"running_mean_{layer}", torch.zeros(models, 1, fan_out))
                self.register_buffer(f"running_var_{layer}", torch.ones(models, 1, fan_out))

    def normalizes(self, layer: int) -> bool:
        if self.method == "batch norm":
            return True
        if self.method == "layer norm":
            return layer < self.num_layers - 1  # hidden layers only
        return False

    def _batch_norm(self, summed: Tensor, layer: int) -> Tensor:
        """BN over the batch axis (dim 1) of each network and unit; σ² as mean squared deviation."""
        running_mean = getattr(self, f"running_mean_{layer}")
        running_var = getattr(self, f"running_var_{layer}")
        if not self.training:
            return (summed - running_mean) * torch.rsqrt(running_var + self.eps)
        cases = summed.shape[1]
        if cases < 2:
            raise ValueError("batch norm needs at least 2 cases per batch in training mode.")
        mu = summed.mean(dim=1, keepdim=True)
        var = ((summed - mu) ** 2).mean(dim=1, keepdim=True)  # biased σ_B²
        unbiased_var = var * cases / (cases - 1)
        with torch.no_grad():  # running averages, PyTorch's momentum convention
            running_mean.lerp_(mu, self.momentum)
            running_var.lerp_(unbiased_var, self.momentum)
        return (summed - mu) * torch.rsqrt((unbiased_var if self.bn_unbiased else var) + self.eps)

    def forward(self, inputs: Tensor) -> Tensor:
        """Logits of shape (K, B, 10) for inputs of shape (K, B, 784)."""
        expected = (len(self.seeds), self.sizes[0])  # (K, batch, 784)
        if inputs.dim() != 3 or (inputs.shape[0], inputs.shape[2]) != expected:
            shape = f"(K={expected[0]}, batch, {expected[1]})"
            raise ValueError(f"expected inputs of shape {shape}, got {list(inputs.shape)}")
        hidden = inputs
        for layer in range(self.num_layers):
            # a = W h, all K networks at once
            summed = torch.bmm(hidden, getattr(self, f"weight_{layer}"))
            bias = getattr(self, f"bias_{layer}")
            if not self.normalizes(layer):
                hidden = summed + bias
            elif self.method == "layer norm":  # Ba et al. 2016, Eq. 3: over the H units
                normalized = F.layer_norm(summed, summed.shape[-1:], eps=self.eps)
                hidden = normalized * getattr(self, f"gain_{layer}") + bias
            else:
                normalized = self._batch_norm(summed, layer)
                hidden = normalized * getattr(self, f"gain_{layer}") + bias
            if layer < self.num_layers - 1:
                hidden = torch.relu(hidden)
        return hidden

    def to_sequential(self, k: int) -> nn.Sequential:
        """Network k as a plain ``nn.Sequential`` of torch.nn layers (for tests and the benchmark)."""
        layers: list[nn.Module] = []
        for layer, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            linear = nn.Linear(fan_in, fan_out, bias=not self.normalizes(layer))
            with torch.no_grad():
                linear.weight.copy_(getattr(self, f"weight_{layer}")[k].T)
                if not self.normalizes(layer):
                    linear.bias.copy_(getattr(self, f"bias_{layer}")[k, 0])
            layers.append(linear)
            if self.normalizes(layer):
                norm = (
                    nn.LayerNorm(fan_out, eps=self.eps)
                    if self.method == "layer norm"
                    else nn.BatchNorm1d(fan_out, eps=self.eps, momentum=self.momentum)
                )
                with torch.no_grad():
                    norm.weight.copy_(getattr(self, f"gain_{layer}")[k, 0])
                    norm.bias.copy_(getattr(self, f"bias_{layer}")[k, 0])
                layers.append(norm)
            if layer < self.num_layers - 1:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    def gains_and_biases(self, k: int = 0) -> dict[str, tuple]:
        """Network k's learned g and b of each normalized layer, as CPU numpy arrays."""
        found = {}
        for layer in range(self.num_layers):
            if self.normalizes(layer):
                gain = getattr(self, f"gain_{layer}")[k, 0].detach().cpu().numpy()
                bias = getattr(self, f"bias_{layer}")[k, 0].detach().cpu().numpy()
                found[f"layer {layer + 1}"] = (gain, bias)
        return found
