"""Layer norm in Transformers (chapter 5), as numbers: the probe at initialization and the training runs.

Command line (:mod:`lnutils.experiments`)::

    python -m lnutils.experiments transformer run --profile cpu     # the saved CPU evidence, resumable
    python -m lnutils.experiments transformer run --profile budget  # the cpu profile's budget check
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

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from lnutils import environment, parts, runs
from lnutils.compare import (
    BUDGET_CONFIRMED,
    BUDGET_NOT_CONFIRMED,
    COMPLETE,
    DECIDING,
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
from lnutils.experiments.transformer_training import (  # noqa: F401  (the chapter reads them here)
    CONVERGED_NATS,
    PROFILES,
    SATURATION_THRESHOLD,
    Profile,
    Training,
    converged,
    evaluate_loss,
    fingerprint,
    learning_rate_at,
    profile,
    train_part,
)
from lnutils.runs import provenance

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


def part_name(training: Training, seed: int) -> str:
    return f"{training.key}/seed{seed}"


def results_file(name: str, results_dir: Path | None = None) -> Path:
    return Path(results_dir or runs.results_dir()) / f"transformer_{name}.json"


def saved_results(name: str = "cpu", results_dir=None) -> dict | None:
    """The result file of ``python -m lnutils.experiments transformer run --profile <name>``, if any."""
    return runs.read_results(f"transformer_{name}.json", results_dir)


def part_configs(settings: Profile, checksum: str) -> dict:
    """Each part's configuration: its setting, its seed, the model and schedule it shares with the other
    parts, and the text.  A run of more seeds keeps the parts of the file it replaces whose
    configuration this is (:func:`lnutils.parts.unchanged_parts`)."""
    shared = {key: value for key, value in asdict(settings).items() if key not in PART_FREE_FIELDS}
    return {
        part_name(training, seed): {"setting": asdict(training), "seed": seed, "shared": shared, "data": checksum}
        for seed in settings.seeds
        for training in settings.settings().values()
    }


PART_FREE_FIELDS = ("seeds", "probe_depths", "probe_layers", "probe_seeds", "probe_batch")  # not in a part


def profile_config(settings: Profile, checksum: str) -> dict:
    config = asdict(settings)
    config["settings"] = {key: asdict(t) for key, t in settings.settings().items()}
    config["data"] = checksum
    config["converged_nats"] = CONVERGED_NATS
    config["parts"] = part_configs(settings, checksum)
    return json.loads(json.dumps(config))  # as the result file holds it (lists, not tuples), to compare equal


def saved_part_configs(config: dict) -> dict:
    """The parts' configurations of a result file written before its configuration named them."""
    return json.loads(json.dumps(part_configs(profile_from_config(config), config["data"])))


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
            parts_of=saved_part_configs,
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


def verdicts(payload: dict, budget_checks: list[dict] = ()) -> list[dict]:
    """One verdict per claim of :data:`TRAINING_CLAIMS`, data only (the words are in lnutils.report).
    ``budget_checks`` (:func:`budget_check`) set a complete answer's evidence to "budget confirmed" or
    "budget not confirmed" (then undecided) where the check is finished."""
    settings = profile_from_config(payload["config"])
    roles = settings.experiments()
    confirmed = {check["claim"]: check["confirmed"] for check in budget_checks}
    found = []
    for claim, experiment, first, second, expected in TRAINING_CLAIMS:
        comparison = compare_settings(payload, roles[experiment][first], roles[experiment][second])
        if comparison["evidence"] == COMPLETE and confirmed.get(claim) is not None:
            comparison["evidence"] = BUDGET_CONFIRMED if confirmed[claim] else BUDGET_NOT_CONFIRMED
        found.append(
            {
                "claim": claim,
                "experiment": experiment,
                "roles": (first, second),
                "expected": expected,
                "holds": holds(comparison["outcome"], expected) if comparison["evidence"] in DECIDING else "undecided",
                "metric": "val_loss_last_evaluation",
                "step": settings.steps,
                **comparison,
            }
        )
    return verdict_family(found)


def budget_check(cpu_result: dict | None, budget_result: dict | None) -> list[dict]:
    """Per claim of :data:`TRAINING_CLAIMS`: its answer at the cpu profile's steps and at the budget
    profile's (twice the decay, :data:`BUDGET_FACTOR`), on the seeds both runs hold for both settings.  An
    answer is confirmed when both are complete and the longer budget gives the same answer; ``confirmed``
    is None while the budget run is partial (data only)."""
    if not cpu_result or not budget_result:
        return []
    settings = profile_from_config(cpu_result["config"])
    roles = settings.experiments()
    out = []
    for claim, experiment, first, second, _ in TRAINING_CLAIMS:
        pair = roles[experiment][first], roles[experiment][second]
        short, long = compare_settings(cpu_result, *pair), compare_settings(budget_result, *pair)
        if not long["seeds"]:
            continue
        finished = short["evidence"] == COMPLETE and long["evidence"] == COMPLETE
        out.append(
            {
                "claim": claim,
                "roles": (first, second),
                "steps": (settings.steps, profile_from_config(budget_result["config"]).steps),
                "seeds": long["seeds"],
                "answer_at_checked_budget": short["outcome"],
                "answer_at_longer_budget": long["outcome"],
                "interval_at_checked_budget": short["interval"],
                "interval_at_longer_budget": long["interval"],
                "evidence_at_longer_budget": long["evidence"],
                "confirmed": short["outcome"] == long["outcome"] if finished else None,
            }
        )
    return out


def saved_budget_check(name: str = "cpu", results_dir: Path | None = None) -> list[dict]:
    """:func:`budget_check` of the saved run of profile ``name`` and the saved budget run: empty until the
    budget run starts, and for every profile but cpu (the one the budget profile checks)."""
    if name != "cpu":
        return []
    return budget_check(saved_results("cpu", results_dir), saved_results("budget", results_dir))


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
    "budget_check",
    "saved_budget_check",
    "probe_verdicts",
    "dyt_regime",
    "relative_change",
    "retrace",
    "unigram_loss",
    "profile_from_config",
]
