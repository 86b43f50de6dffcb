"""Layer norm in Transformers (chapter 5), as numbers: the probe at initialization and the training runs.

Command line (:mod:`lnutils.experiments`)::

    python -m lnutils.experiments transformer run --profile cpu     # the saved CPU evidence, resumable
    python -m lnutils.experiments transformer run --profile paper   # the GPU profile

Experiments:

1. :func:`initialization_probe` — Xiong et al. 2020 at initialization: the gradient norm of each
   layer's last FFN weight W₂ (their Figure 3) and the squared norm of the hidden state by layer
   (their Lemma 2), post-LN against pre-LN, over seeds.  Seconds of CPU; live in every profile.
2. warm-up: post-LN and pre-LN at a high learning rate, with and without warm-up.
3. norms: LayerNorm, RMSNorm, Dynamic Tanh and no norm in the pre-LN model.
4. regime: DyT against LN on a small slice of the training text and on all of it.

Every training run is one *part* (a setting and a seed) of a profile; parts resume from their
checkpoints and the result file keeps finished parts (:func:`lnutils.parts.run_parts`).
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

import lnutils
from lnutils import environment, parts, runs
from lnutils.compare import (
    COMPLETE,
    EQUIVALENT,
    FIRST_LOWER,
    NOT_HIGHER,
    SECOND_LOWER,
    UNDECIDED,
    answer,
    holds,
    verdict_family,
)
from lnutils.corpus import (  # noqa: F401  (the chapter reads them here)
    Corpus,
    EncodedCorpus,
    batch_starts,
    load_shakespeare,
    unigram_loss,
    validation_starts,
    windows,
)
from lnutils.experiments.transformer_probes import (  # noqa: F401  (the chapter reads them here)
    TREND_MARGIN_LOG10,
    hidden_and_gradients,
    initialization_probe,
    lemma_bounds,
    probe_verdicts,
)
from lnutils.layers import DynamicTanh
from lnutils.progress import progress_bar, say
from lnutils.runs import atomic_write_bytes, provenance
from lnutils.train import CheckpointMismatch
from lnutils.transformer import NORMS, PLACEMENTS, CharTransformer, ModelShape

PROFILES = ("quick", "cpu", "paper")
SATURATION_THRESHOLD = 2.0  # |α x| > 2: tanh is within 4% of ±1 there, the "saturated" part (Verma 2026)
CONVERGED_NATS = 0.02  # the convergence check: the last two validation losses differ by less (nats per character)

# Published numbers the chapter sets beside its own (what each paper reports, in its own units).
PUBLISHED = {
    "Xiong et al. 2020, IWSLT14 De-En, post-LN, lr 5e-4": {
        "BLEU with warm-up (4,000 steps)": 34.0,
        "BLEU without warm-up": 8.45,
    },
    "Zhang & Sennrich 2019, RMSNorm's speed-up over LayerNorm": {"low, %": 7.0, "high, %": 64.0},
    "Verma 2026, DyT against LN at 64M parameters": {
        "1M training tokens: loss change, %": -27.0,
        "118M training tokens: loss change, %": 19.0,
    },
}


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
    cpu: 64 features, 4 layers, 4 heads, context 64, batch 32, 3,000 steps, 3 seeds (about an hour
    and a half on one core).  paper: the GPU size at which nanoGPT reports a validation loss of
    about 1.47 on tiny-shakespeare: 384 features, 6 layers, 6 heads, context 256, batch 64, 5,000 steps."""
    if name == "quick":
        chosen = Profile("quick", 32, 2, 2, 32, 16, 150, 50, 4, (0,), 2e-3, 1e-2, 15, 20_000, probe_seeds=10)
    elif name == "cpu":
        chosen = Profile("cpu", 64, 4, 4, 64, 32, 3000, 250, 16, (0, 1, 2), 2e-3, 1e-2, 300, 200_000)
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


def _save_checkpoint(path: Path, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def _load_checkpoint(path: Path, expected: dict, device) -> dict | None:
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
    state = _load_checkpoint(checkpoint, expected, device) if checkpoint is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        record, step, seconds_before = state["record"], int(state["step"]), float(state["seconds"])
    running = []
    last = settings.steps if until is None else min(until, settings.steps)
    bar = progress_bar(range(step, last), progress, desc=f"{training.key} seed {seed}", initial=step)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, training, settings.steps)
        ids, targets = windows(
            text, batch_starts(seed, step, len(text), settings.context, settings.batch_size), settings.context
        )
        loss = model.loss(ids, targets)
        if not torch.isfinite(loss):
            record["diverged_at"] = step + 1
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running.append(loss.item())
        if (step + 1) % settings.eval_every == 0 or step + 1 == settings.steps:
            record["steps"].append(step + 1)
            record["validation_loss"].append(evaluate_loss(model, corpus, settings))
            record["train_loss"].append(float(np.mean(running)))
            running = []
            if training.norm == "dyt":
                alphas, fraction = _dyt_statistics(
                    model,
                    windows(
                        text, batch_starts(seed, -1, len(text), settings.context, settings.batch_size), settings.context
                    )[0],
                )
                record["alpha"].append(alphas)
                record["saturated"].append(fraction)
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
                _save_checkpoint(checkpoint, state)
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


def part_name(training: Training, seed: int) -> str:
    return f"{training.key}/seed{seed}"


def results_file(name: str, results_dir: Path | None = None) -> Path:
    return Path(results_dir or runs.results_dir()) / f"transformer_{name}.json"


def saved_results(name: str = "cpu", results_dir=None) -> dict | None:
    """The result file of ``python -m lnutils.experiments transformer run --profile <name>``, if any."""
    return runs.read_results(f"transformer_{name}.json", results_dir)


def profile_config(settings: Profile, checksum: str) -> dict:
    config = asdict(settings)
    config["settings"] = {key: asdict(t) for key, t in settings.settings().items()}
    config["data"] = checksum
    config["converged_nats"] = CONVERGED_NATS
    return json.loads(json.dumps(config))  # as the result file holds it (lists, not tuples), to compare equal


def run_profile(
    name: str,
    device="cpu",
    progress=True,
    steps=None,
    seeds=None,
    results_dir=None,
    checkpoint_dir=None,
    overwrite=False,
    time_budget_seconds=None,
    corpus: Corpus | None = None,
    save: bool = True,
) -> dict:
    """Every part of a profile, seed by seed (all settings of seed 0 first, so that a partial run
    already compares every setting), each resumable; the result file is written after each part.
    ``save=False`` (the quick profile in a notebook) trains in memory and writes nothing."""
    settings = profile(name, steps=steps, seeds=seeds)
    corpus = corpus or load_shakespeare()
    encoded = EncodedCorpus.from_corpus(corpus, device)
    config = profile_config(settings, encoded.checksum)
    commit = environment.git_commit()
    folder = Path(checkpoint_dir or runs.checkpoint_dir())
    path = results_file(name, results_dir)

    def part(training: Training, seed: int):
        def train(seconds_left, save_progress=None):
            # named by the part's whole configuration: another --steps or corpus never meets this checkpoint
            tag = runs.config_tag(fingerprint(settings, training, seed, encoded.checksum))
            checkpoint = folder / f"transformer_{name}_{training.key}_seed{seed}_{tag}.pt" if save else None
            if checkpoint is None:
                return train_part(settings, training, seed, encoded, device, None, seconds_left, progress)
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            with parts.claim(checkpoint):  # a second process started alike skips this part for the next
                return train_part(settings, training, seed, encoded, device, checkpoint, seconds_left, progress)

        return train

    trainers = {part_name(t, seed): part(t, seed) for seed in settings.seeds for t in settings.settings().values()}
    started = time.perf_counter()
    if not save:
        payload = {"kind": "transformer", "config": config, "parts": {}, "complete": False}
        for key, train in trainers.items():
            payload["parts"][key] = train(None)
        payload["complete"] = True
    else:
        payload = parts.run_parts(
            path,
            config,
            trainers,
            overwrite,
            time_budget_seconds,
            kind="transformer",
            annotate=lambda payload: payload.update(
                provenance=provenance(corpus, device, part_seconds(payload), commit)
            ),
        )
    if not save:
        payload["provenance"] = provenance(corpus, device, time.perf_counter() - started, commit)
    return payload


def part_seconds(payload: dict) -> float:
    """The training seconds of the parts a result holds (each part records its own, resumes included)."""
    return float(sum(record.get("seconds", 0.0) for record in payload["parts"].values()))


def profile_from_config(config: dict) -> Profile:
    """The :class:`Profile` a result file's configuration describes."""
    values = {k: v for k, v in config.items() if k in Profile.__dataclass_fields__}
    return Profile(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


RETRACE_TOLERANCE_NATS = 0.02  # thread counts and BLAS kernels differ between machines: not bit-identical


def retrace(saved: dict, role: tuple[str, str], corpus: Corpus, device="cpu", evaluations: int = 1, seed: int = 0):
    """Train the saved run's setting ``role`` (experiment, role) with ``seed`` live for its first
    ``evaluations`` evaluation intervals, on the same schedule, and set the validation losses beside
    the saved ones.  Numbers only: it checks that this code is the code that made the saved run."""
    settings = profile_from_config(saved["config"])
    training = settings.experiments()[role[0]][role[1]]
    encoded = EncodedCorpus.from_corpus(corpus, device)
    live = train_part(
        settings, training, seed, encoded, device, progress=False, until=settings.eval_every * evaluations
    )
    record = saved["parts"].get(part_name(training, seed))
    saved_losses = None if record is None else record["validation_loss"][: len(live["validation_loss"])]
    return {
        "setting": training.key,
        "seed": seed,
        "steps": live["steps"],
        "live": live["validation_loss"],
        "saved": saved_losses,
        "tolerance": RETRACE_TOLERANCE_NATS,
        "seconds": live["seconds"],
        "data": [saved["config"].get("data"), corpus.provenance.checksum],
        "same_data": saved["config"].get("data") in (None, corpus.provenance.checksum),
    }


# ----------------------------------------------------------------------------- verdicts (data only)


def final_losses(payload: dict, training: Training) -> dict:
    """Per seed present: the last validation loss (inf when the run diverged), and whether it is complete."""
    values, complete, converged_all = {}, True, True
    for seed in payload["config"]["seeds"]:
        record = payload["parts"].get(part_name(training, seed))
        if record is None:
            complete = False
            continue
        converged_all &= converged(record, payload["config"].get("converged_nats", CONVERGED_NATS))
        values[seed] = math.inf if record["diverged_at"] is not None else record["validation_loss"][-1]
    return {"values": values, "complete": complete, "converged": converged_all}


def training_from(config: dict, key: str) -> Training:
    return Training(**config["settings"][key])


MARGIN_NATS = 0.02  # the equivalence margin (nats per character), fixed on 2026-12-07 after the cpu runs were read


def compare_settings(payload: dict, first: Training, second: Training) -> dict:
    """Which of two settings ends with the lower validation loss: the comparison rule
    (:func:`lnutils.compare.answer`, paired by seed, margin :data:`MARGIN_NATS`) on the seeds both hold, with
    the evidence level.  A setting that diverged on more seeds than the other is the higher one."""
    a, b = final_losses(payload, first), final_losses(payload, second)
    common = sorted(set(a["values"]) & set(b["values"]))
    x = np.array([a["values"][s] for s in common])
    y = np.array([b["values"][s] for s in common])
    evidence = "live quick run" if payload["config"]["name"] == "quick" else COMPLETE
    if evidence == COMPLETE and not (a["complete"] and b["complete"]):
        evidence = f"partial: {len(common)} of {len(payload['config']['seeds'])} seeds"
    interval = {}
    if not common or evidence == "live quick run":
        outcome = UNDECIDED
    elif np.isinf(x).any() or np.isinf(y).any():
        diverged_first, diverged_second = int(np.isinf(x).sum()), int(np.isinf(y).sum())
        outcome = (
            FIRST_LOWER
            if diverged_second > diverged_first
            else SECOND_LOWER
            if diverged_first > diverged_second
            else UNDECIDED  # as often on both sides: the finite losses alone would compare other seeds
        )
    else:
        found = answer(x, y, MARGIN_NATS)
        outcome = found["answer"]
        interval = {k: v for k, v in found.items() if k not in ("answer", "why")}
    return {
        "first": first.key,
        "second": second.key,
        "seeds": common,
        "first_values": x.tolist(),
        "second_values": y.tolist(),
        "outcome": outcome,
        "interval": interval,
        "evidence": evidence,
    }


# Each training claim: (id, experiment, first role, second role, what the claim expects of first vs second).
TRAINING_CLAIMS = (
    ("post_ln_needs_warmup", "warmup", "post with warm-up", "post without warm-up", FIRST_LOWER),
    ("pre_ln_trains_without_warmup", "warmup", "pre without warm-up", "pre with warm-up", NOT_HIGHER),
    ("rms_norm_matches_layer_norm", "norms", "rms", "layer", EQUIVALENT),
    ("dyt_matches_layer_norm", "norms", "dyt", "layer", EQUIVALENT),
    ("normalization_helps", "norms", "layer", "none", FIRST_LOWER),
    ("dyt_helps_with_little_data", "regime", "dyt small text", "layer small text", FIRST_LOWER),
    ("dyt_hurts_with_much_data", "regime", "layer all text", "dyt all text", FIRST_LOWER),
)


def verdicts(payload: dict) -> list[dict]:
    """One verdict per claim of :data:`TRAINING_CLAIMS`, data only (the words are in lnutils.report)."""
    settings = profile_from_config(payload["config"])
    roles = settings.experiments()
    found = []
    for claim, experiment, first, second, expected in TRAINING_CLAIMS:
        comparison = compare_settings(payload, roles[experiment][first], roles[experiment][second])
        found.append(
            {
                "claim": claim,
                "experiment": experiment,
                "roles": (first, second),
                "expected": expected,
                "holds": holds(comparison["outcome"], expected) if comparison["evidence"] == COMPLETE else "undecided",
                "metric": "val_loss_last_evaluation",
                "step": settings.steps,
                **comparison,
            }
        )
    return verdict_family(found)


def dyt_regime(payload: dict) -> dict:
    """α's trajectory and the saturated fraction of every DyT run of the regime experiment, by role and seed."""
    settings = profile_from_config(payload["config"])
    out = {}
    for role, training in settings.experiments()["regime"].items():
        if training.norm != "dyt":
            continue
        out[role] = {
            seed: {
                "steps": r["steps"],
                "alpha_mean": [float(np.mean(a)) for a in r["alpha"]],
                "saturated": r["saturated"],
            }
            for seed in payload["config"]["seeds"]
            if (r := payload["parts"].get(part_name(training, seed))) is not None
        }
    return out


def relative_change(payload: dict, first: Training, second: Training) -> float | None:
    """(first − second) / second of the mean final validation loss over common seeds, in percent."""
    comparison = compare_settings(payload, first, second)
    if not comparison["seeds"]:
        return None
    a, b = np.mean(comparison["first_values"]), np.mean(comparison["second_values"])
    return float(100 * (a - b) / b) if np.isfinite(a) and np.isfinite(b) else None


__all__ = [
    "PROFILES",
    "PUBLISHED",
    "Training",
    "Profile",
    "profile",
    "EncodedCorpus",
    "initialization_probe",
    "lemma_bounds",
    "train_part",
    "run_profile",
    "saved_results",
    "results_file",
    "verdicts",
    "probe_verdicts",
    "dyt_regime",
    "relative_change",
    "retrace",
    "unigram_loss",
    "profile_from_config",
]
