"""Recurrent cells written from their equations: LSTM, LN-LSTM, BN-LSTM, GRU and LN-GRU.

Parameter names follow ``torch.nn.LSTMCell`` / ``torch.nn.GRUCell`` (``weight_ih``,
``weight_hh``, ``bias_ih``, ``bias_hh``, gates in PyTorch's order), so with the
normalization switched off a cell loads a ``torch.nn`` state dict and computes the
same thing.

LSTM (gates i, f, g, o in PyTorch's order):
    [i, f, g, o] = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh
    c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(g),      h_t = σ(o) ⊙ tanh(c_t)

Layer-normalized LSTM (Ba et al. 2016, Eqs. 20-22): the two summed inputs are
normalized separately, each over its 4H units, with their own gain and bias, and the
cell state is normalized before the output nonlinearity:
    [i, f, g, o] = LN(W_hh h_{t−1}; α₁, β₁) + LN(W_ih x_t; α₂, β₂) + b
    c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(g),      h_t = σ(o) ⊙ tanh(LN(c_t; α₃, β₃))
The un-normalized c_t is what carries to the next step.

Batch-normalized LSTM (Cooijmans et al. 2016): the same places, batch norm instead,
with separate statistics for every time step t < T_max (the statistics of T_max − 1
are reused beyond it); the BN shifts of the two summed inputs are dropped (b does
that job) and the BN gains start at 0.1, as in the paper.

GRU (PyTorch's form, gates r, z, n):
    r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
Layer-normalized GRU (Ba et al. 2016, Eqs. 26-28 in spirit): LN(W_ih x) and LN(W_hh h),
each over its 3H units, replace the two summed inputs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from lnutils import layers, norms
from lnutils.stacks import SeededStack

NORMALIZATIONS = (None, "layer norm", "batch norm")


class SequenceBatchNorm(nn.Module):
    """Batch norm with separate population statistics for each time step (Cooijmans et al. 2016, Sec. 3).

    Training: normalize with the batch statistics of step t and update step t's
    running averages.  Eval: use step min(t, T_max − 1)'s running averages.
    """

    def __init__(
        self,
        num_features: int,
        max_steps: int,
        affine_shift: bool = True,
        initial_gain: float = 1.0,
        momentum: float = 0.1,
        eps: float = 1e-5,
    ):
        super().__init__()
        self.num_features, self.max_steps, self.momentum, self.eps = num_features, max_steps, momentum, eps
        self.weight = nn.Parameter(torch.full((num_features,), float(initial_gain)))
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine_shift else None
        self.register_buffer("running_mean", torch.zeros(max_steps, num_features))
        self.register_buffer("running_var", torch.ones(max_steps, num_features))

    def forward(self, input: Tensor, step: int) -> Tensor:
        index = min(step, self.max_steps - 1)
        if self.training and step >= self.max_steps:
            raise ValueError(f"training sequence longer than max_steps={self.max_steps}; raise max_steps")
        return norms.batch_norm(
            input,
            self.running_mean[index],
            self.running_var[index],
            self.weight,
            self.bias,
            self.training,
            self.momentum,
            self.eps,
        )


def _init_recurrent_weights(cell: nn.Module, gates: int, input_size: int, hidden_size: int) -> None:
    """weight_ih, weight_hh, bias_ih, bias_hh with torch.nn.LSTMCell/GRUCell's initialisation U(−1/√H, 1/√H)."""
    cell.weight_ih = nn.Parameter(torch.empty(gates, input_size))
    cell.weight_hh = nn.Parameter(torch.empty(gates, hidden_size))
    cell.bias_ih = nn.Parameter(torch.empty(gates))
    cell.bias_hh = nn.Parameter(torch.empty(gates))
    bound = 1.0 / math.sqrt(hidden_size)
    for parameter in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh):
        nn.init.uniform_(parameter, -bound, bound)


class LSTMCell(nn.Module):
    """An LSTM cell; ``normalization`` None, "layer norm" (Ba et al. 2016) or "batch norm" (Cooijmans et al. 2016)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        normalization: str | None = None,
        max_steps: int = 100,
        eps: float = 1e-5,
    ):
        super().__init__()
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"unknown normalization {normalization!r}; choose one of {NORMALIZATIONS}")
        self.input_size, self.hidden_size, self.normalization = input_size, hidden_size, normalization
        gates = 4 * hidden_size
        _init_recurrent_weights(self, gates, input_size, hidden_size)
        if normalization == "layer norm":
            self.norm_hh = layers.LayerNorm(gates, eps=eps)  # α₁, β₁
            self.norm_ih = layers.LayerNorm(gates, eps=eps)  # α₂, β₂
            self.norm_cell = layers.LayerNorm(hidden_size, eps=eps)  # α₃, β₃
        elif normalization == "batch norm":
            self.norm_hh = SequenceBatchNorm(gates, max_steps, affine_shift=False, initial_gain=0.1, eps=eps)
            self.norm_ih = SequenceBatchNorm(gates, max_steps, affine_shift=False, initial_gain=0.1, eps=eps)
            self.norm_cell = SequenceBatchNorm(hidden_size, max_steps, eps=eps)

    def _norm(self, module: nn.Module, value: Tensor, step: int) -> Tensor:
        return module(value, step) if self.normalization == "batch norm" else module(value)

    def forward(
        self, input: Tensor, state: tuple[Tensor, Tensor] | None = None, step: int = 0
    ) -> tuple[Tensor, Tensor]:
        if input.dim() != 2 or input.shape[1] != self.input_size:
            expected = f"(batch, {self.input_size})"
            raise ValueError(f"expected input of shape {expected}, got {list(input.shape)}")
        if state is None:
            zeros = input.new_zeros(input.shape[0], self.hidden_size)
            state = (zeros, zeros)
        hidden, cell = state
        summed_ih = input @ self.weight_ih.T
        summed_hh = hidden @ self.weight_hh.T
        if self.normalization is None:
            gates = summed_ih + self.bias_ih + summed_hh + self.bias_hh
        else:
            gates = (
                self._norm(self.norm_hh, summed_hh, step)
                + self._norm(self.norm_ih, summed_ih, step)
                + self.bias_ih
                + self.bias_hh
            )
        in_gate, forget_gate, candidate, out_gate = gates.chunk(4, dim=1)
        kept = torch.sigmoid(forget_gate) * cell
        cell = kept + torch.sigmoid(in_gate) * torch.tanh(candidate)
        if self.normalization is None:
            shown_cell = cell
        else:
            shown_cell = self._norm(self.norm_cell, cell, step)
        hidden = torch.sigmoid(out_gate) * torch.tanh(shown_cell)
        return hidden, cell  # the un-normalized c_t carries on


class GRUCell(nn.Module):
    """A GRU cell in PyTorch's form; ``normalization`` None or "layer norm"."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        normalization: str | None = None,
        max_steps: int = 100,
        eps: float = 1e-5,
    ):
        super().__init__()
        if normalization not in (None, "layer norm"):
            raise ValueError(f"GRUCell supports normalization None or 'layer norm', not {normalization!r}")
        self.input_size, self.hidden_size, self.normalization = input_size, hidden_size, normalization
        gates = 3 * hidden_size
        _init_recurrent_weights(self, gates, input_size, hidden_size)
        if normalization == "layer norm":
            self.norm_ih = layers.LayerNorm(gates, eps=eps)
            self.norm_hh = layers.LayerNorm(gates, eps=eps)

    def forward(self, input: Tensor, state: Tensor | None = None, step: int = 0) -> Tensor:
        if input.dim() != 2 or input.shape[1] != self.input_size:
            raise ValueError(f"expected input of shape (batch, {self.input_size}), got {list(input.shape)}")
        hidden = input.new_zeros(input.shape[0], self.hidden_size) if state is None else state
        summed_ih = input @ self.weight_ih.T
        summed_hh = hidden @ self.weight_hh.T
        if self.normalization == "layer norm":
            summed_ih, summed_hh = self.norm_ih(summed_ih), self.norm_hh(summed_hh)
        reset_i, update_i, new_i = (summed_ih + self.bias_ih).chunk(3, dim=1)
        reset_h, update_h, new_h = (summed_hh + self.bias_hh).chunk(3, dim=1)
        reset = torch.sigmoid(reset_i + reset_h)
        update = torch.sigmoid(update_i + update_h)
        candidate = torch.tanh(new_i + reset * new_h)
        return (1 - update) * candidate + update * hidden


CELLS = {
    "LSTM": lambda i, h, t: LSTMCell(i, h, None, t),
    "LN-LSTM": lambda i, h, t: LSTMCell(i, h, "layer norm", t),
    "BN-LSTM": lambda i, h, t: LSTMCell(i, h, "batch norm", t),
    "GRU": lambda i, h, t: GRUCell(i, h, None, t),
    "LN-GRU": lambda i, h, t: GRUCell(i, h, "layer norm", t),
}


# BN-LSTMs that change one thing of the chapter's BN-LSTM, for the remedies study (lnutils.experiments.bn_lstm):
# a larger ε in every per-step batch norm.  Not in CELLS: the chapter's runs train CELLS.
REMEDY_CELLS = {
    "BN-LSTM, ε 1e-3": lambda i, h, t: LSTMCell(i, h, "batch norm", t, eps=1e-3),
    "BN-LSTM, ε 1e-2": lambda i, h, t: LSTMCell(i, h, "batch norm", t, eps=1e-2),
}


class SequenceModel(nn.Module):
    """Runs a cell over a batch of sequences (time first) and reads out from the last hidden state.

    ``cell_name`` is one of :data:`CELLS` (or :data:`REMEDY_CELLS`); ``max_steps`` is T_max for the BN-LSTM.
    """

    def __init__(self, cell_name: str, input_size: int, hidden_size: int, output_size: int, max_steps: int = 100):
        super().__init__()
        known = CELLS | REMEDY_CELLS
        if cell_name not in known:
            raise ValueError(f"unknown cell {cell_name!r}; choose one of {list(known)}")
        self.cell_name = cell_name
        self.cell = known[cell_name](input_size, hidden_size, max_steps)
        self.readout = nn.Linear(hidden_size, output_size)

    def run(self, sequences: Tensor) -> list[Tensor]:
        """Hidden states h_1..h_T for ``sequences`` of shape (T, batch, input_size)."""
        if sequences.dim() != 3:
            raise ValueError(f"expected sequences of shape (time, batch, features), got {list(sequences.shape)}")
        state, hiddens = None, []
        for step, input in enumerate(sequences):
            state = self.cell(input, state, step)
            hiddens.append(state[0] if isinstance(state, tuple) else state)
        return hiddens

    def forward(self, sequences: Tensor) -> Tensor:
        return self.readout(self.run(sequences)[-1])


# ----------------------------------------------------------------------------- K models as one computation

GROUPED_CELLS = ("LSTM", "LN-LSTM", "GRU", "LN-GRU")  # the BN-LSTM's per-step statistics stay per model


def _stacked(modules: list[nn.Module], name: str) -> Tensor:
    """The K modules' parameter ``name`` stacked: (K, *shape)."""
    return torch.stack([getattr(module, name) for module in modules])


def _grouped_layer_norm(values: Tensor, norms_k: list[nn.Module]) -> Tensor:
    """K layer norms, one per model, over the last dim of ``values`` (K, ..., F): one normalization call,
    then each model's own gain and bias (Ba et al. 2016, Eq. 5)."""
    normalized = norms.layer_norm(values, (values.shape[-1],), eps=norms_k[0].eps)
    shape = (len(norms_k),) + (1,) * (values.dim() - 2) + (values.shape[-1],)
    return normalized * _stacked(norms_k, "weight").reshape(shape) + _stacked(norms_k, "bias").reshape(shape)


def grouped_sequence_forward(models: list[SequenceModel], sequences: Tensor) -> Tensor:
    """K :class:`SequenceModel` s of one cell type (:data:`GROUPED_CELLS`), each on its own sequences, as
    one computation: the input products W_ih x_t of every step in one batched product before the time
    loop, then per step one batched product W_hh h_{t−1} for the K models and one call per normalization.
    The same equations as :class:`LSTMCell` and :class:`GRUCell` (same numbers up to the order of float
    additions) on the models' own parameters, so gradients reach each model's own.

    ``sequences``: (K, T, B, input_size); returns logits (K, B, output_size)."""
    name = models[0].cell_name
    if name not in GROUPED_CELLS or any(model.cell_name != name for model in models):
        raise ValueError(f"grouped_sequence_forward runs one cell type of {GROUPED_CELLS}, got {name!r}")
    cells = [model.cell for model in models]
    normalized = cells[0].normalization == "layer norm"
    count, steps, batch = sequences.shape[:3]
    summed_ih = torch.einsum("ktbi,kgi->ktbg", sequences, _stacked(cells, "weight_ih"))  # every step at once
    if normalized:
        summed_ih = _grouped_layer_norm(summed_ih, [c.norm_ih for c in cells])
    weight_hh = _stacked(cells, "weight_hh").transpose(1, 2)  # (K, H, gates)
    bias_ih, bias_hh = _stacked(cells, "bias_ih")[:, None, :], _stacked(cells, "bias_hh")[:, None, :]
    hidden = sequences.new_zeros(count, batch, cells[0].hidden_size)
    cell_state = hidden
    for step in range(steps):
        summed_hh = torch.bmm(hidden, weight_hh)
        if normalized:
            summed_hh = _grouped_layer_norm(summed_hh, [c.norm_hh for c in cells])
        if isinstance(cells[0], LSTMCell):  # Ba et al. 2016, Eqs. 20-22 when normalized
            if normalized:
                gates = summed_hh + summed_ih[:, step] + bias_ih + bias_hh
            else:
                gates = summed_ih[:, step] + bias_ih + summed_hh + bias_hh
            in_gate, forget_gate, candidate, out_gate = gates.chunk(4, dim=-1)
            cell_state = torch.sigmoid(forget_gate) * cell_state + torch.sigmoid(in_gate) * torch.tanh(candidate)
            shown = _grouped_layer_norm(cell_state, [c.norm_cell for c in cells]) if normalized else cell_state
            hidden = torch.sigmoid(out_gate) * torch.tanh(shown)
        else:  # GRU
            reset_i, update_i, new_i = (summed_ih[:, step] + bias_ih).chunk(3, dim=-1)
            reset_h, update_h, new_h = (summed_hh + bias_hh).chunk(3, dim=-1)
            reset = torch.sigmoid(reset_i + reset_h)
            update = torch.sigmoid(update_i + update_h)
            candidate = torch.tanh(new_i + reset * new_h)
            hidden = (1 - update) * candidate + update * hidden
    readouts = [model.readout for model in models]
    return torch.einsum("kbh,koh->kbo", hidden, _stacked(readouts, "weight")) + _stacked(readouts, "bias")[:, None]


# ----------------------------------------------------------------------------- K models in the Stack form

GROUPED_UP_TO_BATCH = 64  # RNNStack runs its models as one computation at batches this small


class RNNStack(SeededStack):
    """K sequence models of one cell type (one per seed) in the :class:`lnutils.train.Stack` form.

    Input (K, B, 784): each image is read as ``rows`` steps of 784/rows pixels: 28 rows of
    28 pixels (row by row), or 784 steps of one pixel (pixel by pixel, Cooijmans et al. 2016).
    """

    def __init__(
        self, cell_name: str, seeds: list[int], hidden_size: int = 64, rows: int = 28, grouped: bool | None = None
    ):
        super().__init__(
            cell_name, seeds, lambda: SequenceModel(cell_name, 784 // rows, hidden_size, 10, max_steps=rows)
        )
        self.cell_name, self.rows = cell_name, rows
        # K models as one computation (lnutils.rnn.grouped_sequence_forward; the same numbers) or one after
        # another.  None: whichever `python -m lnutils.bench stacks` measured faster on one CPU core:
        # grouped up to batch 64 (LN-LSTM 2.8-3.0×, GRU 2.0-2.5× the plain loop at batch 4; 1.3×, 1.2× at 64),
        # looped above (grouped was 0.9× at 128).  The BN-LSTM always runs looped.
        if grouped and cell_name not in GROUPED_CELLS:
            raise ValueError(f"{cell_name} has no grouped form; grouped cells: {GROUPED_CELLS}")
        self.grouped = grouped

    def runs_grouped(self, batch_size: int) -> bool:
        if self.grouped is not None:
            return self.grouped
        return self.cell_name in GROUPED_CELLS and batch_size <= GROUPED_UP_TO_BATCH

    def grouped_forward(self, inputs: Tensor) -> Tensor:
        return grouped_sequence_forward(list(self.networks), torch.stack([self.prepare(batch) for batch in inputs]))

    @staticmethod
    def as_sequences(images: Tensor, rows: int = 28) -> Tensor:
        """(B, 784) flattened images -> (rows, B, 784/rows) sequences, time first."""
        return images.reshape(images.shape[0], rows, -1).transpose(0, 1)

    def prepare(self, batch: Tensor) -> Tensor:
        return self.as_sequences(batch, self.rows)
