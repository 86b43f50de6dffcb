"""Chapter 5's training: one setting (where the norm sits, which norm, its rate and warm-up) with one seed,
resumable from its checkpoint (:func:`train_part`), and the profiles that list the settings.

Why not :func:`lnutils.train.train_lockstep`, the trainer of chapters 2-4: that one steps K copies of an
image classifier together (one per seed) through epochs of a fixed split, with a per-epoch schedule.  A
Transformer part is one model on random windows of a character corpus, with a per-step warm-up and cosine
schedule and an evaluation every ``eval_every`` steps, and its settings differ in more than the seed (the
learning rate and warm-up), so they cannot share one optimizer step.  What is shared: the checkpoint's
fingerprint check (:class:`lnutils.train.CheckpointMismatch`), atomic writes
(:func:`lnutils.runs.atomic_write_bytes`), claims and resumable parts (:mod:`lnutils.parts`), and the
provenance record (:func:`lnutils.runs.provenance`).
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

import lnutils
from lnutils import runs
from lnutils.corpus import EncodedCorpus, batch_starts, validation_starts, windows
from lnutils.layers import DynamicTanh
from lnutils.progress import progress_bar, say
from lnutils.runs import atomic_write_bytes
from lnutils.train import CheckpointMismatch
from lnutils.transformer import NORMS, PLACEMENTS, CharTransformer, ModelShape

PROFILES = ("quick", "cpu", "budget", "paper")
# The budget check: every setting and seed of the cpu profile trained again with its decay twice as long
# (6,000 steps, the same warm-up), from step 0: a cosine decay has no constant phase to branch from.
# Registered on 2026-12-08, before any budget run.
BUDGET_FACTOR = 2
SATURATION_THRESHOLD = 2.0  # |α x| > 2: tanh is within 4% of ±1 there, the "saturated" part (Verma 2026)
CONVERGED_NATS = 0.02  # the convergence check: the last two validation losses differ by less (nats per character)


@dataclass(frozen=True)
class Training:
    """One setting: where the norm sits, which norm, how it is trained."""

    placement: str
    norm: str
    learning_rate: float
    warmup_steps: int
    train_characters: int | None = None  # None: the whole training text; n: its first n characters

    @property
    def key(self) -> str:
        text = "all" if self.train_characters is None else f"{self.train_characters}"
        return f"{self.placement}-{self.norm}-lr{self.learning_rate:g}-warmup{self.warmup_steps}-text{text}"


@dataclass(frozen=True)
class Profile:
    name: str
    width: int
    layers: int
    heads: int
    context: int
    batch_size: int
    steps: int
    eval_every: int
    eval_batches: int
    seeds: tuple[int, ...]
    learning_rate: float  # the rate of the norms and regime experiments (with warm-up)
    high_learning_rate: float  # the warm-up experiment's rate
    warmup_steps: int
    small_text: int  # characters of the regime experiment's small slice
    probe_depths: tuple[int, ...] = (2, 4, 6, 8, 10, 12)
    probe_layers: int = 6
    probe_seeds: int = 10
    probe_batch: int = 16

    def shape(self, vocabulary: int, layers: int | None = None) -> ModelShape:
        return ModelShape(vocabulary, self.context, self.width, layers or self.layers, self.heads)

    def experiments(self) -> dict[str, dict[str, Training]]:
        """Each experiment's settings by role; a setting shared by two experiments is trained once."""
        lr, high, warm = self.learning_rate, self.high_learning_rate, self.warmup_steps
        return {
            "warmup": {
                f"{place} {'with' if w else 'without'} warm-up": Training(place, "layer", high, w)
                for place in PLACEMENTS
                for w in (warm, 0)
            },
            "norms": {kind: Training("pre", kind, lr, warm) for kind in NORMS},
            "regime": {
                f"{kind} {size}": Training("pre", kind, lr, warm, None if size == "all text" else self.small_text)
                for size in ("small text", "all text")
                for kind in ("layer", "dyt")
            },
        }

    def settings(self) -> dict[str, Training]:
        return {t.key: t for roles in self.experiments().values() for t in roles.values()}


def profile(name: str, steps: int | None = None, seeds=None) -> Profile:
    """quick: a model of 32 features and 2 layers, 150 steps, one seed (live, under a minute).
    cpu: 64 features, 4 layers, 4 heads, context 64, batch 32, 3,000 steps, 5 seeds (a seed's ten
    settings took 24 minutes on one quiet core, about 55 beside a busy one).  budget: the cpu profile with
    its decay twice as long (:data:`BUDGET_FACTOR`).  paper: the GPU size at which nanoGPT reports a validation loss of
    about 1.47 on tiny-shakespeare: 384 features, 6 layers, 6 heads, context 256, batch 64, 5,000 steps."""
    if name == "quick":
        chosen = Profile("quick", 32, 2, 2, 32, 16, 150, 50, 4, (0,), 2e-3, 1e-2, 15, 20_000, probe_seeds=10)
    elif name == "cpu":
        chosen = Profile("cpu", 64, 4, 4, 64, 32, 3000, 250, 16, (0, 1, 2, 3, 4), 2e-3, 1e-2, 300, 200_000)
    elif name == "budget":  # the budget check of the cpu profile (transformer.budget_check)
        chosen = replace(profile("cpu"), name="budget", steps=BUDGET_FACTOR * profile("cpu").steps)
    elif name == "paper":
        chosen = Profile("paper", 384, 6, 6, 256, 64, 5000, 250, 50, (0, 1, 2), 1e-3, 1e-2, 500, 1_000_000)
    else:
        raise ValueError(f"unknown profile {name!r}; choose one of {PROFILES}")
    if steps is not None:
        chosen = replace(chosen, steps=int(steps))
    if seeds is not None:
        chosen = replace(chosen, seeds=tuple(int(s) for s in seeds))
    return chosen


def learning_rate_at(step: int, training: Training, steps: int) -> float:
    """Linear warm-up over ``warmup_steps``, then a cosine decay to a tenth of the rate at the last step."""
    peak = training.learning_rate
    if step < training.warmup_steps:
        return peak * (step + 1) / training.warmup_steps
    progress = (step - training.warmup_steps) / max(1, steps - training.warmup_steps)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


# ----------------------------------------------------------------------------- experiments 2-4: training


def fingerprint(settings: Profile, training: Training, seed: int, checksum: str) -> dict:
    """What defines one part; a checkpoint of another part or configuration is refused."""
    run = asdict(settings)
    run.pop("probe_depths"), run.pop("probe_seeds"), run.pop("probe_batch"), run.pop("probe_layers")
    return {
        "profile": run,
        "training": asdict(training),
        "seed": seed,
        "data": checksum,
        "lnutils": lnutils.__version__,
    }


def _dyt_statistics(model: CharTransformer, ids: torch.Tensor) -> tuple[list[float], float]:
    """α of every DyT layer and the fraction of its inputs with |α x| > 2 on one batch."""
    layers = [m for m in model.modules() if isinstance(m, DynamicTanh)]
    saturated, total = [], []

    def count(module, inputs, output):
        scaled = (module.alpha * inputs[0]).abs()
        saturated.append(int((scaled > SATURATION_THRESHOLD).sum()))
        total.append(scaled.numel())

    hooks = [m.register_forward_hook(count) for m in layers]
    try:
        with torch.no_grad():
            model(ids)
    finally:
        for hook in hooks:
            hook.remove()
    return [m.alpha.item() for m in layers], sum(saturated) / max(1, sum(total))


def evaluate_loss(model: CharTransformer, corpus: EncodedCorpus, settings: Profile) -> float:
    """Mean validation loss in nats per character over the fixed validation windows."""
    starts = validation_starts(len(corpus.validation), settings.context, settings.eval_batches * settings.batch_size)
    model.eval()
    losses = []
    with torch.no_grad():
        for chunk in starts.split(settings.batch_size):
            ids, targets = windows(corpus.validation, chunk, settings.context)
            losses.append(float(model.loss(ids, targets)))
    model.train()
    return float(np.mean(losses))


def save_checkpoint(path: Path, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path, expected: dict, device) -> dict | None:
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is named with its cause
        raise CheckpointMismatch(
            f"the checkpoint {path} cannot be read ({type(error).__name__}: {error}); delete it"
        ) from None
    if not isinstance(state, dict) or state.get("fingerprint") != expected:
        found = state.get("fingerprint") if isinstance(state, dict) else None
        changes = runs.config_changes(found, expected) if isinstance(found, dict) else []
        shown = "".join(f"\n  {key}: checkpoint {was!r}, this run {now!r}" for key, was, now in changes[:8])
        raise CheckpointMismatch(
            f"the checkpoint {path} was written by another part or configuration{'; what differs:' if shown else ''}"
            f"{shown}\ndelete it to start afresh"
        )
    return state


def training_step(model, optimizer, text, seed: int, step: int, settings: Profile, training: Training):
    """One Adam step on the batch of windows that (seed, step) names, at the schedule's rate for ``step``
    (:func:`learning_rate_at`); the loss, or None when it is not finite (nothing is updated then)."""
    for group in optimizer.param_groups:
        group["lr"] = learning_rate_at(step, training, settings.steps)
    ids, targets = windows(
        text, batch_starts(seed, step, len(text), settings.context, settings.batch_size), settings.context
    )
    loss = model.loss(ids, targets)
    if not torch.isfinite(loss):
        return None
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def record_evaluation(
    record, model, corpus, text, seed: int, step: int, settings: Profile, training: Training, running
):
    """Add one evaluation to ``record``: the step, the validation loss, the mean training loss of the steps
    since the last one (``running``) and, for DyT, α per layer and the saturated fraction."""
    record["steps"].append(step + 1)
    record["validation_loss"].append(evaluate_loss(model, corpus, settings))
    record["train_loss"].append(float(np.mean(running)))
    if training.norm == "dyt":
        probe_ids = windows(
            text, batch_starts(seed, -1, len(text), settings.context, settings.batch_size), settings.context
        )[0]
        alphas, fraction = _dyt_statistics(model, probe_ids)
        record["alpha"].append(alphas)
        record["saturated"].append(fraction)


def train_part(
    settings: Profile,
    training: Training,
    seed: int,
    corpus: EncodedCorpus,
    device="cpu",
    checkpoint: Path | None = None,
    seconds_left: float | None = None,
    progress: bool = True,
    until: int | None = None,
) -> dict | None:
    """Train one setting with one seed; the record, or None when out of time (the checkpoint resumes it).

    Every ``eval_every`` steps it records the validation loss, the mean training loss since the last
    evaluation and, for DyT, α per layer and the saturated fraction.  A non-finite loss ends the run:
    it is recorded as diverged at that step, and the evaluations it did not reach stay absent.
    ``until`` stops after that many steps of the same schedule (the live check that the code
    retraces a saved run), keeping no checkpoint.
    """
    started = time.perf_counter()
    text = corpus.train if training.train_characters is None else corpus.train[: training.train_characters]
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
        torch.manual_seed(seed)
        model = CharTransformer(settings.shape(corpus.vocabulary), training.placement, training.norm)
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=training.learning_rate, betas=(0.9, 0.98))
    expected = fingerprint(settings, training, seed, corpus.checksum)
    record = {"steps": [], "validation_loss": [], "train_loss": [], "alpha": [], "saturated": [], "diverged_at": None}
    step, seconds_before = 0, 0.0
    state = load_checkpoint(checkpoint, expected, device) if checkpoint is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        record, step, seconds_before = state["record"], int(state["step"]), float(state["seconds"])
    running = []
    last = settings.steps if until is None else min(until, settings.steps)
    bar = progress_bar(range(step, last), progress, desc=f"{training.key} seed {seed}", initial=step)
    for step in bar:
        loss = training_step(model, optimizer, text, seed, step, settings, training)
        if loss is None:  # not finite
            record["diverged_at"] = step + 1
            break
        running.append(loss)
        if (step + 1) % settings.eval_every == 0 or step + 1 == settings.steps:
            record_evaluation(record, model, corpus, text, seed, step, settings, training, running)
            running = []
            if not all(math.isfinite(v) for v in record["validation_loss"][-1:]):
                record["diverged_at"] = step + 1
                break
            seconds = seconds_before + time.perf_counter() - started
            if checkpoint is not None and step + 1 < settings.steps:
                state = {
                    "fingerprint": expected,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "record": record,
                    "step": step + 1,
                    "seconds": seconds,
                }
                save_checkpoint(checkpoint, state)
            if seconds_left is not None and time.perf_counter() - started > seconds_left and step + 1 < settings.steps:
                say(f"time budget spent at step {step + 1} of {settings.steps}; run again to resume")
                return None
    record["seconds"] = round(seconds_before + time.perf_counter() - started, 1)
    record["converged"] = converged(record)
    if checkpoint is not None and checkpoint.exists():
        checkpoint.unlink()
    return record


def converged(record: dict, nats: float = CONVERGED_NATS) -> bool:
    """The convergence check, on the metric the verdicts compare: the validation loss moved less than
    ``nats`` over the last evaluation interval (a diverged run has finished too: divergence is its outcome).

    The verdicts apply it to the saved curves, so a record's own ``converged`` flag (written by the
    first parts of the CPU run, with the training loss) is not what decides."""
    if record.get("diverged_at") is not None:
        return True
    losses = record["validation_loss"]
    return len(losses) >= 2 and abs(losses[-1] - losses[-2]) < nats
