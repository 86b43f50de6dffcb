"""Probes inside a trained recurrent network (chapter 4): what the gates receive step by step, how far
the loss's gradient reaches back, and a batch-norm network read with population or batch statistics.

Each probe works on a copy or in eval mode and leaves the network as it was.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lnutils.rnn import SequenceBatchNorm, SequenceModel


def summed_input_statistics(model: SequenceModel, sequences: Tensor) -> dict[str, np.ndarray]:
    """Per time step: mean and std (over batch and units) of the recurrent summed input W_hh h_{t−1}
    as the gates receive it (after LN for LN cells), and the mean norm of h_t."""
    model.eval()
    cell = model.cell
    sequences = sequences.to(next(model.parameters()).device)
    records = {"recurrent input mean": [], "recurrent input std": [], "hidden norm": []}
    state = None
    with torch.no_grad():
        for step, inputs in enumerate(sequences):
            hidden = (
                (state[0] if isinstance(state, tuple) else state)
                if state is not None
                else inputs.new_zeros(inputs.shape[0], cell.hidden_size)
            )
            summed = hidden @ cell.weight_hh.T
            if getattr(cell, "normalization", None) == "layer norm":
                summed = cell.norm_hh(summed)
            elif getattr(cell, "normalization", None) == "batch norm":
                summed = cell.norm_hh(summed, step)
            records["recurrent input mean"].append(summed.mean().item())
            records["recurrent input std"].append(summed.std().item())
            state = cell(inputs, state, step)
            new_hidden = state[0] if isinstance(state, tuple) else state
            records["hidden norm"].append(new_hidden.norm(dim=1).mean().item())
    return {k: np.asarray(v) for k, v in records.items()}


def gradient_norms_through_time(model: SequenceModel, sequences: Tensor, labels: Tensor) -> np.ndarray:
    """‖∂L/∂h_t‖ (mean over the batch) for every step t: how much the loss at the end reaches back."""
    model.eval()
    device = next(model.parameters()).device
    sequences, labels = sequences.to(device), labels.to(device)
    hiddens = model.run(sequences)
    for hidden in hiddens:
        hidden.retain_grad()
    loss = F.cross_entropy(model.readout(hiddens[-1]), labels)
    loss.backward()
    norms = np.asarray([hidden.grad.norm(dim=1).mean().item() for hidden in hiddens])
    model.zero_grad()
    return norms


def recomputed_population_statistics(model: SequenceModel, training_batches) -> SequenceModel:
    """A copy of ``model`` whose per-step population statistics are computed again with its final weights:
    the average over ``training_batches`` (sequences, time first) of each batch's mean and unbiased
    variance (Ioffe & Szegedy 2015, Alg. 2, step 10), instead of the running averages kept while the
    weights were still changing.  A momentum of 1/(k+1) at the k-th batch makes the running average an
    equal-weight mean."""
    probe = copy.deepcopy(model)
    norms_by_step = [module for module in probe.modules() if isinstance(module, SequenceBatchNorm)]
    device = next(probe.parameters()).device
    probe.train()
    with torch.no_grad():
        for k, batch in enumerate(training_batches):
            for module in norms_by_step:
                module.momentum = 1.0 / (k + 1)
            probe(batch.to(device))
    for module, original in zip(norms_by_step, (m for m in model.modules() if isinstance(m, SequenceBatchNorm))):
        module.momentum = original.momentum
    return probe.eval()


def _test_error(model: SequenceModel, sequences: Tensor, labels: Tensor, batch_size: int, training: bool) -> float:
    model.train(training)
    wrong = 0
    with torch.no_grad():
        for start in range(0, sequences.shape[1], batch_size):
            logits = model(sequences[:, start : start + batch_size])
            wrong += int((logits.argmax(1) != labels[start : start + batch_size]).sum())
    return 100 * wrong / sequences.shape[1]


def statistics_gap(
    model: SequenceModel, sequences: Tensor, labels: Tensor, batch_size: int = 64, training_batches=None
) -> dict:
    """Test error (%) of one trained model read in several ways: in eval mode, with its population statistics
    (what a BN-LSTM uses at test time); in training mode, with each test batch's own statistics
    (``batch_size`` sequences, as in training); and, for a model with batch norm and ``training_batches``
    given, with population statistics recomputed from them (:func:`recomputed_population_statistics`).
    For a cell without batch norm the readings are equal.  Measured on copies: the model's running
    averages stay as they were."""
    probe = copy.deepcopy(model)
    device = next(probe.parameters()).device
    sequences, labels = sequences.to(device), labels.to(device)
    errors = {
        "population statistics": _test_error(probe, sequences, labels, batch_size, training=False),
        "batch statistics": _test_error(probe, sequences, labels, batch_size, training=True),
    }
    if training_batches is not None and any(isinstance(m, SequenceBatchNorm) for m in model.modules()):
        recomputed = recomputed_population_statistics(model, training_batches)
        errors["recomputed population statistics"] = _test_error(recomputed, sequences, labels, batch_size, False)
    return {"test_error": errors, "images": int(sequences.shape[1]), "batch_size": batch_size}
