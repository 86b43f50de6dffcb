"""Training K networks in lockstep, fast on a CPU and resumable.

The loop is deliberately plain: for each step, every stack of networks (one stack per
method) takes its own mini-batch, computes the mean cross-entropy of each network,
and one fused Adam step updates all of them.  What makes it fast:

* the data lives in one float32 tensor; a mini-batch is an index into it (no DataLoader);
* the MLP's K networks share each matrix product (``torch.bmm`` in :class:`lnutils.mlp.MLPStack`);
  the conv stack runs them as one grouped convolution at small batches
  (:func:`lnutils.cnn.grouped_forward`) and the recurrent stack loops over them;
* Adam is the fused kernel (one pass over all parameters);
* denormal floats are flushed to zero (small-batch training produces many, and
  arithmetic on them is many times slower on x86 CPUs).

Training K networks in a stack gives the same numbers as training each alone
(``tests/test_train.py`` checks it), because every network has its own data order,
its own initialisation and its own loss term.
"""

from __future__ import annotations

import functools
import inspect
import io
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import lnutils
from lnutils.progress import progress_bar, progress_enabled, say  # noqa: F401  (the chapters read them here)
from lnutils.runs import atomic_write_bytes
from lnutils.stacks import SeededStack, Stack  # noqa: F401  (their home before lnutils.stacks)


@dataclass
class Split:
    """Flattened float32 images in [0, 1] and int64 labels for train / validation / test."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    data_checksum: str | None = None  # the dataset's checksum, recorded in checkpoints


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
    provenance = getattr(dataset, "provenance", None)
    return Split(
        train_x,
        train_y,
        images[:validation],
        labels[:validation],
        test_x,
        torch.from_numpy(dataset.test_labels),
        data_checksum=getattr(provenance, "checksum", None),
    )


def batch_indices(seed: int, epoch: int, num_examples: int, batch_size: int) -> torch.Tensor:
    """Network ``seed``'s shuffled mini-batches for ``epoch``, shape (steps, batch_size).

    Depends only on (seed, epoch), so a network sees the same batches alone or in a
    stack, and a resumed run sees the same batches as an uninterrupted one.  The last
    num_examples % batch_size examples of each shuffle are left out of that epoch.
    """
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(num_examples, generator=generator, device="cpu")
    steps = num_examples // batch_size
    return order[: steps * batch_size].reshape(steps, batch_size)


def evaluation_chunk(device: torch.device) -> int:
    """Images per forward pass when evaluating: small on the CPU (cache-friendly), large on a GPU."""
    return 5000 if torch.device(device).type == "cpu" else 20000


@torch.no_grad()
def evaluate(
    stack, inputs: torch.Tensor, labels: torch.Tensor, chunk: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-network mean NLL and error rate on (inputs, labels), in eval mode.

    Works on whatever device ``inputs`` live on; the sums stay there (no host
    synchronisation per chunk) and come back to the CPU once, at the end.
    """
    was_training = stack.training
    stack.eval()
    models = len(stack.seeds)
    chunk = chunk or evaluation_chunk(inputs.device)
    nll = torch.zeros(models, dtype=torch.float64, device=inputs.device)
    errors = torch.zeros(models, dtype=torch.float64, device=inputs.device)
    for start in range(0, len(inputs), chunk):
        x = inputs[start : start + chunk]
        y = labels[start : start + chunk]
        logits = stack(x.unsqueeze(0).expand(models, -1, -1))
        log_probs = torch.log_softmax(logits.double(), dim=-1)
        nll += -log_probs.gather(-1, y.expand(models, -1).unsqueeze(-1)).squeeze(-1).sum(dim=1)
        errors += (logits.argmax(-1) != y).sum(dim=1).double()
    stack.train(was_training)
    return (nll / len(inputs)).cpu().numpy(), (errors / len(inputs)).cpu().numpy()


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
        return {
            "train_nll": self.train_nll,
            "val_error": self.val_error,
            "test_error": self.test_error,
            "epoch_seconds": self.epoch_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        return cls(data["train_nll"], data["val_error"], data["test_error"], data.get("epoch_seconds", []))


class CheckpointMismatch(RuntimeError):
    """A checkpoint was written by a run with another configuration."""


def make_optimizer(
    stacks: dict[str, Stack], learning_rates: dict[str, float], capturable: bool = False
) -> torch.optim.Optimizer:
    """One Adam over every stack, with each method's learning rate; fused when the build supports it.

    ``capturable=True`` keeps Adam's step counts on the device, so the step can be
    recorded in a CUDA graph.
    """
    groups = [{"params": list(stack.parameters()), "lr": learning_rates[method]} for method, stack in stacks.items()]
    options = {"capturable": True} if capturable else {}
    try:
        return torch.optim.Adam(groups, fused=True, **options)
    except (RuntimeError, TypeError, ValueError):  # older torch or device: no fused Adam
        return torch.optim.Adam(groups, foreach=True, **options)


def fingerprint(
    stacks: dict[str, Stack], learning_rates: dict[str, float], split: Split, batch_size: int, extra: dict | None = None
) -> dict:
    """What defines a run, stored in its checkpoint and checked on resume (``epochs`` aside:
    a longer run may extend a shorter one)."""
    return {
        "methods": list(stacks),
        "learning_rates": {method: float(learning_rates[method]) for method in stacks},
        "seeds": {method: list(stack.seeds) for method, stack in stacks.items()},
        "batch_size": int(batch_size),
        "examples": {"train": len(split.train_x), "validation": len(split.val_x), "test": len(split.test_x)},
        "lnutils": lnutils.__version__,
        **({"data": split.data_checksum} if split.data_checksum else {}),
        **(extra or {}),
    }


def load_checkpoint(path: str | os.PathLike, expected: dict, device: torch.device) -> dict:
    """A checkpoint's state, after checking it was written by the same configuration.

    Loaded with ``weights_only=True``: a checkpoint file cannot run code.
    """
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # noqa: BLE001 - empty, truncated, random or foreign bytes: name the file
        raise CheckpointMismatch(
            f"the checkpoint {path} cannot be read ({type(error).__name__}: {str(error)[:200]}); it is empty, "
            "truncated or not a checkpoint. Delete it to start the run afresh."
        ) from None
    keys = ("fingerprint", "stacks", "optimizer", "history", "epochs_done")
    missing = [key for key in keys if key not in state] if isinstance(state, dict) else list(keys)
    if missing:
        raise CheckpointMismatch(
            f"the checkpoint {path} is incomplete (missing {missing or 'everything'}); delete it to start afresh."
        )
    saved = state.get("fingerprint")
    if saved != expected:
        differences = {
            key: (saved.get(key) if saved else None, expected.get(key))
            for key in sorted(set(expected) | set(saved or {}))
            if (saved or {}).get(key) != expected.get(key)
        }
        raise CheckpointMismatch(
            f"the checkpoint {path} was written by a run with another configuration; "
            + "; ".join(f"{key}: checkpoint {old!r}, this run {new!r}" for key, (old, new) in differences.items())
            + ". Delete the checkpoint to start afresh, or run with the checkpoint's configuration."
        )
    done, history = state["epochs_done"], state["history"]
    lengths = {
        len(curve) for store in ("train_nll", "val_error", "test_error") for curve in history.get(store, {}).values()
    }
    if not isinstance(done, int) or isinstance(done, bool) or done < 1 or lengths != {done}:
        raise CheckpointMismatch(
            f"the checkpoint {path} says {done!r} epochs done but its history holds {sorted(lengths)} epochs; "
            "it is inconsistent. Delete it to start afresh."
        )
    return state


def _loss(
    stacks: dict[str, Stack],
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    indices: dict[str, torch.Tensor],
    batch_size: int,
) -> torch.Tensor:
    """Sum over networks of each network's mean NLL on its batch: network k's
    gradient is its own."""
    total = 0
    for method, stack in stacks.items():
        index = indices[method]  # (K, batch_size): network k's batch
        logits = stack(train_x[index]).flatten(0, 1)
        nll = F.cross_entropy(logits, train_y[index].flatten(), reduction="sum")
        total = total + nll / batch_size
    return total


def eager_step(stacks, optimizer, train_x, train_y, indices, batch_size) -> None:
    """One step of every stack: forward, backward, Adam.  No host synchronisation."""
    optimizer.zero_grad(set_to_none=True)
    _loss(stacks, train_x, train_y, indices, batch_size).backward()
    optimizer.step()


class CUDAGraphStep:
    """The same step as :func:`eager_step`, recorded once as a CUDA graph and replayed.

    A step of small networks is mostly kernel-launch overhead; a replay launches the
    whole forward, backward and fused-Adam step at once.  The index batches are copied
    into fixed device buffers before each replay.  The first ``warmup`` steps run
    eagerly on a side stream (as PyTorch's CUDA-graph guide requires) and are real
    training steps, so the numbers equal the eager path's.  Needs an optimizer made with
    ``capturable=True``.
    """

    warmup = 3

    def __init__(self, stacks, optimizer, train_x, train_y, batch_size):
        self.stacks, self.optimizer, self.batch_size = stacks, optimizer, batch_size
        self.train_x, self.train_y = train_x, train_y
        self.graph, self.static_indices, self.steps_seen = None, None, 0
        self.failed: str | None = None  # why capture failed; then every step runs eagerly

    def __call__(self, indices: dict[str, torch.Tensor]) -> None:
        if self.failed is not None:
            eager_step(self.stacks, self.optimizer, self.train_x, self.train_y, indices, self.batch_size)
            return
        if self.graph is not None:
            for method, index in indices.items():
                self.static_indices[method].copy_(index, non_blocking=True)
            self.graph.replay()
            return
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            eager_step(self.stacks, self.optimizer, self.train_x, self.train_y, indices, self.batch_size)
        torch.cuda.current_stream().wait_stream(side)
        self.steps_seen += 1
        if self.steps_seen == self.warmup:
            try:
                self._capture(indices)
            except RuntimeError as error:  # an op that cannot be captured: train on, eagerly
                self.failed = str(error)
                self.optimizer.zero_grad(set_to_none=True)
                warnings.warn(f"CUDA graph capture failed ({error}); training continues without graphs", stacklevel=3)

    def _capture(self, example: dict[str, torch.Tensor]) -> None:
        self.static_indices = {method: index.clone() for method, index in example.items()}
        self.optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            _loss(self.stacks, self.train_x, self.train_y, self.static_indices, self.batch_size).backward()
            self.optimizer.step()
        self.graph = graph


def use_cuda_graph(device: torch.device, requested: bool | None) -> bool:
    """CUDA graphs on a CUDA device unless turned off (``graph=False`` or ``LNUTILS_CUDA_GRAPH=0``)."""
    if device.type != "cuda":
        if requested:
            raise ValueError(f"CUDA graphs need a CUDA device, not {device}")
        return False
    if requested is not None:
        return requested
    return os.environ.get("LNUTILS_CUDA_GRAPH", "1") != "0"


def make_step(stacks, optimizer, train_x, train_y, batch_size: int, graphed: bool):
    """``step(indices)``: one training step of every stack, replayed as a CUDA graph when
    ``graphed`` (:class:`CUDAGraphStep`), else eager (:func:`eager_step`)."""
    if graphed:
        return CUDAGraphStep(stacks, optimizer, train_x, train_y, batch_size)
    return lambda indices: eager_step(stacks, optimizer, train_x, train_y, indices, batch_size)


def epoch_orders(stacks, epoch: int, num_examples: int, batch_size: int, device) -> dict[str, torch.Tensor]:
    """Per method, the epoch's mini-batches of all its networks: shape (steps, K, batch_size)."""
    return {
        method: torch.stack([batch_indices(seed, epoch, num_examples, batch_size) for seed in stack.seeds], dim=1).to(
            device
        )
        for method, stack in stacks.items()
    }


def rate_multiplier(step: int, steps_per_epoch: int, epochs: int, decay_epochs: int) -> float:
    """The learning rate of optimizer step ``step`` (0-based), as a fraction of the base rate: constant,
    then, over the last ``decay_epochs`` epochs, a straight line down to zero (the "linear cooldown" of
    warmup-stable-decay schedules, Hägele et al. 2024).  The constant epochs of a run with a cooldown are
    exactly those of a constant run, so a constant run's checkpoint extends into a cooldown."""
    if decay_epochs <= 0:
        return 1.0
    decay_steps = decay_epochs * steps_per_epoch
    steps_left = epochs * steps_per_epoch - step
    return min(1.0, steps_left / decay_steps)


def schedule_agrees(saved: dict | None, wanted: dict, epochs_done: int) -> bool:
    """Were the ``epochs_done`` epochs of a checkpoint (trained under schedule ``saved``; None: a constant
    rate, as every checkpoint written before schedules were recorded) trained at the rates ``wanted`` gives
    them?  Yes when both schedules are the same, or when neither had begun its cooldown by then."""
    saved = saved or {"epochs": epochs_done, "decay_epochs": 0}
    if saved == wanted:
        return True

    def cooldown_starts(schedule: dict) -> float:
        return schedule["epochs"] - schedule["decay_epochs"] if schedule["decay_epochs"] > 0 else float("inf")

    return epochs_done <= min(cooldown_starts(saved), cooldown_starts(wanted))


def constant_phase_checkpoint(checkpoint: str | os.PathLike, epochs_done: int) -> Path:
    """Where a run with a cooldown keeps its checkpoint as it was at the end of its constant phase
    (``<name>.constant-<epochs>.pt``): a longer budget resumes from it and cools down later."""
    path = Path(checkpoint)
    return path.with_name(f"{path.stem}.constant-{epochs_done}{path.suffix}")


def _branch_point(checkpoint, schedule: dict) -> Path | None:
    """The latest kept constant-phase checkpoint (:func:`constant_phase_checkpoint`) that a run of
    ``schedule`` can resume from: the one with the most epochs not beyond the start of its cooldown."""
    path = Path(checkpoint)
    starts = schedule["epochs"] - schedule["decay_epochs"] if schedule["decay_epochs"] else schedule["epochs"]
    kept = {}
    for found in path.parent.glob(f"{path.stem}.constant-*{path.suffix}"):
        epochs = found.name[len(path.stem) + len(".constant-") : len(found.name) - len(path.suffix)]
        if epochs.isdigit() and int(epochs) <= starts:
            kept[int(epochs)] = found
    return kept[max(kept)] if kept else None


def resume(
    checkpoint, expected: dict, stacks, optimizer, device, graphed: bool, schedule: dict, branch_from=None
) -> tuple[History, int]:
    """Load a checkpoint into the stacks and the optimizer; returns its history and epochs done.  A run with
    no checkpoint of its own starts, when ``branch_from`` (another run's checkpoint) kept a constant-phase
    copy that fits this run's schedule, from that copy."""
    if checkpoint is None or not Path(checkpoint).exists():
        branch = _branch_point(branch_from, schedule) if branch_from is not None else None
        if branch is None:
            return History(), 0
        say(f"starting from {branch.name}, the constant phase another run kept")
        checkpoint = branch
    state = load_checkpoint(checkpoint, expected, device)
    if not schedule_agrees(state.get("schedule"), schedule, state["epochs_done"]) and (
        branch := _branch_point(checkpoint, schedule)
    ):
        say(
            f"{Path(checkpoint).name} ended in another cooldown; resuming from {branch.name}, the checkpoint kept at "
            "the end of the constant phase"
        )
        state = load_checkpoint(branch, expected, device)
    if not schedule_agrees(state.get("schedule"), schedule, state["epochs_done"]):
        raise CheckpointMismatch(
            f"the checkpoint {checkpoint} was trained under the learning-rate schedule {state.get('schedule')} "
            f"(None: constant), and its {state['epochs_done']} epochs are not those of this run's schedule "
            f"{schedule}. Delete the checkpoint to start afresh, or run with the checkpoint's schedule."
        )
    for method, stack in stacks.items():
        stack.load_state_dict(state["stacks"][method])
    optimizer.load_state_dict(state["optimizer"])
    for group in optimizer.param_groups:  # a checkpoint from another device keeps this run's choice
        group["capturable"] = graphed
    return History.from_dict(state["history"]), state["epochs_done"]


def _denormals_flushed_while_training(train):
    """On a CPU, values below float32's normal range (~1e-38) are flushed to zero while ``train`` runs
    (a training NLL of 1e-40 is zero for every purpose, and denormal arithmetic is 10-100× slower), and the
    process's setting is put back afterwards (PyTorch's default, off): no side effect outlives the call."""

    @functools.wraps(train)
    def wrapper(*args, **kwargs):
        bound = inspect.signature(train).bind(*args, **kwargs)
        bound.apply_defaults()
        on_cpu = torch.device(bound.arguments["device"]).type == "cpu"
        if on_cpu:
            torch.set_flush_denormal(True)
        try:
            return train(*args, **kwargs)
        finally:
            if on_cpu:
                torch.set_flush_denormal(False)

    return wrapper


def refuse_longer_checkpoint(checkpoint, start_epoch: int, epochs: int) -> None:
    """A clear error when a checkpoint holds more epochs than a run asks for."""
    if start_epoch > epochs:
        raise CheckpointMismatch(
            f"the checkpoint {checkpoint} holds {start_epoch} epochs, more than the {epochs} asked for; ask for at "
            f"least {start_epoch} epochs (a longer run extends it) or delete the checkpoint to train {epochs} afresh."
        )


def show_best(bar, history: History) -> None:
    """The progress bar's note: the method of lowest mean test error at the last epoch, and that error."""
    if hasattr(bar, "set_postfix_str"):
        best = min(history.test_error, key=lambda m: np.mean(history.test_error[m][-1]))
        bar.set_postfix_str(f"best: {best}, test {100 * np.mean(history.test_error[best][-1]):.2f}%")


def check_schedule(epochs: int, batch_size: int, train_examples: int, decay_epochs: int, graph) -> None:
    """A clear error for a schedule :func:`train_lockstep` cannot train."""
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if train_examples < batch_size:
        raise ValueError(f"batch_size {batch_size} is larger than the {train_examples} training examples")
    if not 0 <= decay_epochs <= epochs:
        raise ValueError(f"decay_epochs must be between 0 and epochs ({epochs}), got {decay_epochs}")
    if decay_epochs and graph:
        raise ValueError("a CUDA graph bakes its learning rate in: a cooldown (decay_epochs > 0) needs graph=False")


def train_epoch(stacks, step, orders, optimizer, base_rates, epoch: int, epochs: int, decay_epochs: int) -> None:
    """One epoch of steps for every stack, each on its own order of the training examples; in a cooldown
    every step sets the rate first (:func:`rate_multiplier`)."""
    for stack in stacks.values():
        stack.train()
    steps_per_epoch = next(iter(orders.values())).shape[0]
    for index in range(steps_per_epoch):
        if decay_epochs:
            multiplier = rate_multiplier(epoch * steps_per_epoch + index, steps_per_epoch, epochs, decay_epochs)
            for group, base in zip(optimizer.param_groups, base_rates):
                group["lr"] = base * multiplier
        step({method: order[index] for method, order in orders.items()})


def evaluate_splits(stack, data: dict) -> tuple:
    """A stack's training NLL, validation error and test error (eval mode), per network."""
    train_nll, _ = evaluate(stack, data["train_x"], data["train_y"])
    _, val_error = evaluate(stack, data["val_x"], data["val_y"])
    _, test_error = evaluate(stack, data["test_x"], data["test_y"])
    return train_nll, val_error, test_error


@_denormals_flushed_while_training
def train_lockstep(
    stacks: dict[str, Stack],
    learning_rates: dict[str, float],
    split: Split,
    batch_size: int,
    epochs: int,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
    device: torch.device | str = "cpu",
    time_budget_seconds: float | None = None,
    on_epoch_end=None,
    graph: bool | None = None,
    fingerprint_extra: dict | None = None,
    decay_epochs: int = 0,
    branch_from: str | os.PathLike | None = None,
) -> History:
    """Train every stack for ``epochs`` epochs; measure train NLL, validation and test error each epoch.

    With ``checkpoint``, the full state is saved after every epoch and an existing
    checkpoint is resumed from, after checking that it was written by the same
    configuration (:func:`fingerprint`, which includes the data checksum; ``fingerprint_extra``
    adds options such as BN's variance estimator).  ``time_budget_seconds`` stops after the
    epoch that crosses the budget (the history then has fewer epochs; a checkpoint resumes
    it).  ``on_epoch_end(history)`` is called after every epoch (e.g. to write partial
    results).  ``graph``: record the step as a CUDA graph (default: on CUDA devices; see :class:`CUDAGraphStep`).
    ``decay_epochs``: the last epochs bring the learning rate linearly down to zero (:func:`rate_multiplier`;
    0: a constant rate).  A graph bakes its learning rate in, so a run with a cooldown steps eagerly.  With a
    cooldown the checkpoint at the end of the constant phase is also kept (:func:`constant_phase_checkpoint`):
    a run with a longer budget resumes from it, and so does a run with ``branch_from`` naming that run's
    checkpoint, when it has no checkpoint of its own (a budget check beside the run it checks).
    """
    check_schedule(epochs, batch_size, len(split.train_x), decay_epochs, graph)
    device = torch.device(device)
    for stack in stacks.values():
        stack.to(device)
    data = {
        name: getattr(split, name).to(device) for name in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")
    }
    graphed = use_cuda_graph(device, graph) and not decay_epochs
    optimizer = make_optimizer(stacks, learning_rates, capturable=graphed)
    base_rates = [group["lr"] for group in optimizer.param_groups]
    expected = fingerprint(stacks, learning_rates, split, batch_size, fingerprint_extra)
    schedule = {"epochs": int(epochs), "decay_epochs": int(decay_epochs)}
    history, start_epoch = resume(checkpoint, expected, stacks, optimizer, device, graphed, schedule, branch_from)
    refuse_longer_checkpoint(checkpoint, start_epoch, epochs)
    step = make_step(stacks, optimizer, data["train_x"], data["train_y"], batch_size, graphed)
    constant_epochs = epochs - decay_epochs if decay_epochs else None  # where a longer budget can branch

    def keep_constant_phase(epochs_done: int) -> None:
        kept = constant_phase_checkpoint(checkpoint, epochs_done)
        if checkpoint is not None and epochs_done == constant_epochs and not kept.exists():
            save_checkpoint(kept, stacks, optimizer, history, epochs_done, expected, schedule)

    if checkpoint is not None and start_epoch:
        keep_constant_phase(start_epoch)  # resumed exactly at the end of the constant phase

    bar = progress_bar(range(start_epoch, epochs), progress, total=epochs, initial=start_epoch, desc="epochs")
    started = time.perf_counter()
    for epoch in bar:
        epoch_start = time.perf_counter()
        orders = epoch_orders(stacks, epoch, len(data["train_x"]), batch_size, device)
        train_epoch(stacks, step, orders, optimizer, base_rates, epoch, epochs, decay_epochs)
        for method, stack in stacks.items():
            history.append(method, *evaluate_splits(stack, data))
        history.epoch_seconds.append(time.perf_counter() - epoch_start)
        show_best(bar, history)
        if checkpoint is not None:
            save_checkpoint(checkpoint, stacks, optimizer, history, epoch + 1, expected, schedule)
            keep_constant_phase(epoch + 1)
        if on_epoch_end is not None:
            on_epoch_end(history)
        if time_budget_seconds is not None and time.perf_counter() - started > time_budget_seconds:
            break
    if hasattr(bar, "close"):
        bar.close()
    return history


def save_checkpoint(path, stacks, optimizer, history, epochs_done, run_fingerprint: dict, schedule=None) -> None:
    """Everything needed to resume, with the run's fingerprint and learning-rate schedule; written atomically."""
    buffer = io.BytesIO()
    torch.save(
        {
            "fingerprint": run_fingerprint,
            "stacks": {m: s.state_dict() for m, s in stacks.items()},
            "optimizer": optimizer.state_dict(),
            "history": history.to_dict(),
            "epochs_done": epochs_done,
            "schedule": schedule,
        },
        buffer,
    )
    atomic_write_bytes(Path(path), buffer.getvalue())
