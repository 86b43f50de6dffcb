"""Ba, Kiros & Hinton 2016, Table 1, computed instead of copied.

For one layer with summed inputs a_i = w_iᵀ x (no bias before the normalization; the
bias b comes after it, as in the paper), we apply each transformation of the weights
or the data and check numerically whether the layer's output h = f(normalize(a))
changes.  Everything runs in float64 with ε = 0, the paper's definition: with ε > 0
no transform is exactly invariant, because ε does not scale with the data.
"""

from __future__ import annotations

import torch

from lnutils import norms

METHODS = ("batch norm", "weight norm", "layer norm")
TRANSFORMS = (
    "weight matrix re-scaling",
    "weight matrix re-centering",
    "weight vector re-scaling",
    "dataset re-scaling",
    "dataset re-centering",
    "single training case re-scaling",
)

# The paper's Table 1: True = "Invariant", False = "No".
PAPER_TABLE_1 = {
    "batch norm": (True, False, True, True, True, False),
    "weight norm": (True, False, True, False, False, False),
    "layer norm": (True, True, False, True, False, True),
}


def normalized_layer(
    method: str, weight: torch.Tensor, inputs: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """h = g ⊙ normalize(W x) + b for a batch of inputs x (rows), with ε = 0.

    * batch norm: μ, σ of each unit over the batch (Ioffe & Szegedy 2015);
    * weight norm: a_i = (w_iᵀ x)/‖w_i‖ (Salimans & Kingma 2016);
    * layer norm: μ, σ over the H units of each case (Ba et al. 2016, Eq. 3).
    """
    summed = inputs @ weight.T  # a = W x, shape (cases, H)
    if method == "batch norm":
        return norms.batch_norm_naive(summed, gain, bias, eps=0.0)  # the exact equations: ε = 0
    if method == "weight norm":
        return gain * summed / weight.norm(dim=1) + bias
    if method == "layer norm":
        return norms.layer_norm(summed, summed.shape[-1:], gain, bias, eps=0.0)
    raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")


def transform(name: str, weight: torch.Tensor, inputs: torch.Tensor, generator: torch.Generator):
    """The transformed (weight, inputs) for transform ``name``, and which case(s) to compare.

    Returns (weight', inputs', compare) where ``compare`` is a slice selecting the rows
    whose outputs must be unchanged for the layer to count as invariant.
    """
    hidden, features = weight.shape
    everything = slice(None)
    if name == "weight matrix re-scaling":  # W' = δ W
        return 3.7 * weight, inputs, everything
    if name == "weight matrix re-centering":  # W' = W + 1 γᵀ: every unit gets the same extra γᵀx
        gamma = torch.randn(features, generator=generator, dtype=weight.dtype)
        return weight + gamma, inputs, everything
    if name == "weight vector re-scaling":  # w_i' = δ_i w_i, a different scale per unit
        deltas = torch.rand(hidden, 1, generator=generator, dtype=weight.dtype) * 4 + 0.25
        return deltas * weight, inputs, everything
    if name == "dataset re-scaling":  # x' = δ x for every case
        return weight, 2.5 * inputs, everything
    if name == "dataset re-centering":  # x' = x + γ for every case
        gamma = torch.randn(features, generator=generator, dtype=inputs.dtype)
        return weight, inputs + gamma, everything
    if name == "single training case re-scaling":  # x_0' = δ x_0, the other cases untouched
        scaled = inputs.clone()
        scaled[0] = 5.0 * scaled[0]
        return weight, scaled, slice(0, 1)
    raise ValueError(f"unknown transform {name!r}; choose one of {TRANSFORMS}")


def invariance_table(
    seed: int = 0, cases: int = 16, features: int = 8, hidden: int = 6, rtol: float = 1e-9
) -> dict[str, tuple[bool, ...]]:
    """For each method, whether each transform leaves the output unchanged (max relative change < rtol)."""
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(hidden, features, generator=generator, dtype=torch.float64)
    inputs = torch.randn(cases, features, generator=generator, dtype=torch.float64)
    gain = torch.rand(hidden, generator=generator, dtype=torch.float64) + 0.5
    bias = torch.randn(hidden, generator=generator, dtype=torch.float64)
    table = {}
    for method in METHODS:
        row = []
        for name in TRANSFORMS:
            new_weight, new_inputs, compare = transform(name, weight, inputs, torch.Generator().manual_seed(seed + 1))
            before = normalized_layer(method, weight, inputs, gain, bias)[compare]
            after = normalized_layer(method, new_weight, new_inputs, gain, bias)[compare]
            change = ((after - before).abs().max() / before.abs().max()).item()
            row.append(change < rtol)
        table[method] = tuple(row)
    return table


def table_markdown(found: dict[str, tuple[bool, ...]]) -> str:
    """Our table next to the paper's: each cell 'ours / paper', with ✓ where they agree."""
    word = {True: "invariant", False: "no"}
    header = "| | " + " | ".join(TRANSFORMS) + " |\n|---|" + "---|" * len(TRANSFORMS) + "\n"
    rows = []
    for method in METHODS:
        cells = []
        for ours, paper in zip(found[method], PAPER_TABLE_1[method]):
            mark = "✓ agrees" if ours == paper else "✗ DIFFERS"
            cells.append(f"{word[ours]} / {word[paper]} ({mark})")
        rows.append(f"| **{method}** | " + " | ".join(cells) + " |")
    return header + "\n".join(rows) + "\n\nEach cell: what the code found / what the paper's Table 1 says."
