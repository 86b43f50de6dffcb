"""Training K networks in lockstep, fast on a CPU and resumable.

The loop is deliberately plain: for each step, every stack of networks (one stack per
method) takes its own mini-batch, computes the mean cross-entropy of each network,
and one fused Adam step updates all of them.  What makes it fast:

* the data lives in one float32 tensor; a mini-batch is an index into it (no DataLoader);
* K networks share each matrix product (``torch.bmm`` in :class:`lnutils.mlp.MLPStack`);
* Adam is the fused kernel (one pass over all parameters);
* denormal floats are flushed to zero (small-batch training produces many, and
  arithmetic on them is many times slower on x86 CPUs).

Training K networks in a stack gives the same numbers as training each alone
(``tests/test_train.py`` checks it), because every network has its own data order,
its own initialisation and its own loss term.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lnutils.mlp import MLPStack


@dataclass
class Split:
    """Flattened float32 images in [0, 1] and int64 labels for train / validation / test."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


def make_split(dataset, validation: int = 5000, train_subset: int | None = None) -> Split:
    """The paper's split: 55,000 training images, the first 5,000 held out for validation.

    (TensorFlow's MNIST reader, common in 2016, held out the first 5,000 in the same way.)
    ``train_subset`` keeps only the first n training images, for tests.
    """
    images = torch.from_numpy(dataset.train_images.reshape(len(dataset.train_images), -1)).float().div_(255)
    labels = torch.from_numpy(dataset.train_labels)
    test_x = torch.from_numpy(dataset.test_images.reshape(len(dataset.test_images), -1)).float().div_(255)
    train_x, train_y = images[validation:], labels[validation:]
    if train_subset is not None:
        train_x, train_y = train_x[:train_subset], train_y[:train_subset]
    return Split(train_x, train_y, images[:validation], labels[:validation], test_x, torch.from_numpy(dataset.test_labels))


def batch_indices(seed: int, epoch: int, num_examples: int, batch_size: int) -> torch.Tensor:
    """Network ``seed``'s shuffled mini-batches for ``epoch``, shape (steps, batch_size).

    Depends only on (seed, epoch), so a network sees the same batches alone or in a
    stack, and a resumed run sees the same batches as an uninterrupted one.  The last
    num_examples % batch_size examples of each shuffle are left out of that epoch.
    """
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(num_examples, generator=generator)
    steps = num_examples // batch_size
    return order[: steps * batch_size].reshape(steps, batch_size)


@torch.no_grad()
def evaluate(stack: MLPStack, inputs: torch.Tensor, labels: torch.Tensor, chunk: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """Per-network mean NLL and error rate on (inputs, labels), in eval mode."""
    was_training = stack.training
    stack.eval()
    models = len(stack.seeds)
    nll = torch.zeros(models, dtype=torch.float64)
    errors = torch.zeros(models, dtype=torch.float64)
    for start in range(0, len(inputs), chunk):
        x = inputs[start : start + chunk]
        y = labels[start : start + chunk]
        logits = stack(x.unsqueeze(0).expand(models, -1, -1))
        log_probs = torch.log_softmax(logits.double(), dim=-1)
        nll += -log_probs.gather(-1, y.expand(models, -1).unsqueeze(-1)).squeeze(-1).sum(dim=1)
        errors += (logits.argmax(-1) != y).sum(dim=1).double()
    stack.train(was_training)
    return (nll / len(inputs)).numpy(), (errors / len(inputs)).numpy()


@dataclass
class History:
    """Per-epoch curves: for each method, arrays of shape (epochs_done, K)."""

    train_nll: dict[str, list] = field(default_factory=dict)
    val_error: dict[str, list] = field(default_factory=dict)
    test_error: dict[str, list] = field(default_factory=dict)
    epoch_seconds: list = field(default_factory=list)

    def append(self, method: str, train_nll, val_error, test_error) -> None:
        for store, values in ((self.train_nll, train_nll), (self.val_error, val_error), (self.test_error, test_error)):
            store.setdefault(method, []).append([float(v) for v in values])

    def to_dict(self) -> dict:
        return {"train_nll": self.train_nll, "val_error": self.val_error, "test_error": self.test_error, "epoch_seconds": self.epoch_seconds}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        return cls(data["train_nll"], data["val_error"], data["test_error"], data.get("epoch_seconds", []))


def make_optimizer(stacks: dict[str, MLPStack], learning_rates: dict[str, float]) -> torch.optim.Optimizer:
    """One Adam over every stack, with each method's learning rate; fused when the build supports it."""
    groups = [{"params": list(stack.parameters()), "lr": learning_rates[method]} for method, stack in stacks.items()]
    try:
        return torch.optim.Adam(groups, fused=True)
    except (RuntimeError, TypeError, ValueError):  # older torch: no fused Adam on this device
        return torch.optim.Adam(groups, foreach=True)


def train_lockstep(
    stacks: dict[str, MLPStack],
    learning_rates: dict[str, float],
    split: Split,
    batch_size: int,
    epochs: int,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
    device: torch.device | str = "cpu",
    time_budget_seconds: float | None = None,
    on_epoch_end=None,
) -> History:
    """Train every stack for ``epochs`` epochs; measure train NLL, validation and test error each epoch.

    With ``checkpoint``, the full state is saved after every epoch and an existing
    checkpoint is resumed from.  ``time_budget_seconds`` stops after the epoch that
    crosses the budget (the history then has fewer epochs; a checkpoint resumes it).
    ``on_epoch_end(history)`` is called after every epoch (e.g. to write partial results).
    """
    torch.set_flush_denormal(True)
    device = torch.device(device)
    for stack in stacks.values():
        stack.to(device)
    data = {name: getattr(split, name).to(device) for name in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")}
    optimizer = make_optimizer(stacks, learning_rates)
    history, start_epoch = History(), 0
    if checkpoint is not None and Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        for method, stack in stacks.items():
            stack.load_state_dict(state["stacks"][method])
        optimizer.load_state_dict(state["optimizer"])
        history, start_epoch = History.from_dict(state["history"]), state["epochs_done"]

    bar = _progress(range(start_epoch, epochs), progress, total=epochs, initial=start_epoch)
    started = time.perf_counter()
    for epoch in bar:
        epoch_start = time.perf_counter()
        orders = {method: torch.stack([batch_indices(seed, epoch, len(data["train_x"]), batch_size) for seed in stack.seeds], dim=1).to(device) for method, stack in stacks.items()}
        steps = next(iter(orders.values())).shape[0]
        for stack in stacks.values():
            stack.train()
        for step in range(steps):
            optimizer.zero_grad(set_to_none=True)
            for method, stack in stacks.items():
                index = orders[method][step]  # (K, batch_size): network k's batch
                logits = stack(data["train_x"][index])
                # sum over networks of each network's mean NLL: network k's gradient is its own
                loss = F.cross_entropy(logits.flatten(0, 1), data["train_y"][index].flatten(), reduction="sum") / batch_size
                loss.backward()
            optimizer.step()
        for method, stack in stacks.items():
            train_nll, _ = evaluate(stack, data["train_x"], data["train_y"])
            _, val_error = evaluate(stack, data["val_x"], data["val_y"])
            _, test_error = evaluate(stack, data["test_x"], data["test_y"])
            history.append(method, train_nll, val_error, test_error)
        history.epoch_seconds.append(time.perf_counter() - epoch_start)
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(" ".join(f"{m}: nll {np.mean(history.train_nll[m][-1]):.2e} test {100 * np.mean(history.test_error[m][-1]):.2f}%" for m in stacks))
        if checkpoint is not None:
            _save_checkpoint(checkpoint, stacks, optimizer, history, epoch + 1)
        if on_epoch_end is not None:
            on_epoch_end(history)
        if time_budget_seconds is not None and time.perf_counter() - started > time_budget_seconds:
            break
    if hasattr(bar, "close"):
        bar.close()
    return history


def _progress(iterable, enabled: bool, **kwargs):
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional
        return iterable
    return tqdm(iterable, desc="epochs", file=sys.stdout, mininterval=30, **kwargs)


def _save_checkpoint(path, stacks, optimizer, history, epochs_done) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    torch.save(
        {"stacks": {m: s.state_dict() for m, s in stacks.items()}, "optimizer": optimizer.state_dict(), "history": history.to_dict(), "epochs_done": epochs_done},
        temporary,
    )
    os.replace(temporary, path)


def write_json(path: str | os.PathLike, payload: dict) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(payload, indent=1))
    os.replace(temporary, path)
