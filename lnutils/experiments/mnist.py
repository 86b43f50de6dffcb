"""Ba, Kiros & Hinton 2016, Section 6.6 / Figure 6: the MNIST experiment, as numbers.

Configurations and profiles, the resumable runs at the selected learning rates
(:mod:`lnutils.experiments.mnist_rates`), and the paper's claims checked on the curves.
Nothing here formats: the chapter's tables and sentences are in :mod:`lnutils.report`.
Command line (:mod:`lnutils.experiments`)::

    python -m lnutils.experiments mnist select --batch-size 128 [--full-length]
    python -m lnutils.experiments mnist run --profile paper [--batch-size 128]

Both write result files (JSON) that record the configuration, seeds, data provenance,
versions, commit, device and wall time, and resume from a checkpoint every epoch.  A
profile's run is made of parts, one per batch size (:func:`lnutils.parts.run_parts`, the
shape of every experiment's runs): ``mnist_<profile>.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from lnutils import environment, kept_networks, parts, runs
from lnutils.compare import (
    COMPLETE,
    convergence,
    merged_seed_groups,
)
from lnutils.data import load_mnist
from lnutils.experiments.mnist_rates import (  # noqa: F401  (the chapter and the command line read them here)
    BATCH_SIZES,
    BN,
    FULL_LENGTH_EPOCHS,
    LEARNING_RATE_GRID,
    LN,
    MARGIN_LOG10_NLL,
    MARGIN_POINTS,
    NONE,
    SENSITIVITY_SEEDS,
    SETTLE_EPOCHS,
    SHARED_RATE,
    SHORT_SELECTIONS,
    edge_extensions,
    full_length_selections,
    merged_curves,
    saved_selection,
    select_learning_rates_run,
    selected_learning_rates,
    selection_file,
    selection_in_use,
    selection_name,
    selection_rule,
    selection_still_training,
    selections_in_use,
    sensitivity,
    short_selection,
)
from lnutils.experiments.mnist_readings import (  # noqa: F401  (the chapter reads them here)
    FLAT_TEST_POINTS,
    OVERFIT_ORDERS,
    PAPER_BASELINE_128,
    baseline_against_paper,
    bn_below_ln_epochs,
    live_matches_saved,
    overfitting,
)
from lnutils.experiments.mnist_verdicts import (  # noqa: F401  (the chapter reads them here)
    EQUAL_STEPS_EPOCHS,
    ROBUST_QUESTIONS,
    SPEED_QUESTIONS,
    TEST_ERROR_QUESTIONS,
    epoch_reached,
    evidence_level,
    robustness_verdicts,
    settled_error_verdicts,
    speed_verdicts,
    verdicts,
)
from lnutils.mlp import METHODS, MLPStack
from lnutils.progress import say
from lnutils.runs import provenance
from lnutils.train import History, make_split, train_lockstep

# Read off the paper's Figure 6 by eye (approximate), final test error in %.
PUBLISHED = {
    128: {"baseline": "≈1.5", "batch norm": "≈1.2-1.4 (noisy)", "layer norm": "≈1.3"},
    4: {"baseline": "≈1.5-1.6", "batch norm": "≈2-2.5 (very noisy)", "layer norm": "≈1.4"},
}


@dataclass
class RunConfig:
    """Everything that defines one comparison (methods × seeds at one batch size)."""

    batch_size: int
    epochs: int
    seeds: list[int]
    learning_rates: dict[str, float]
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    bn_unbiased: bool = False
    validation: int = 5000
    train_subset: int | None = None

    def __post_init__(self):
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; choose from {METHODS}")
        if self.batch_size < 2 and "batch norm" in self.methods:
            raise ValueError("batch norm needs batch_size >= 2 in training mode")


PROFILE_SETTINGS = {
    # quick: the first epochs of the paper run at batch 128 (same seeds and rates, so the
    # live curves can be compared with the saved ones), and a short small-batch check
    ("quick", 128): dict(epochs=2, seeds=[0, 1]),
    ("quick", 4): dict(epochs=1, seeds=[0], train_subset=10000),
    ("paper", 128): dict(epochs=65, seeds=[0, 1, 2]),
    ("paper", 4): dict(epochs=65, seeds=[0, 1, 2]),
    # The budget check of the paper run at batch 128 (:func:`budget_check`): its constant rate held twice as
    # long (130 epochs), seeds 0 and 1.  Registered on 2026-12-08, before any budget run.
    ("budget", 128): dict(epochs=130, seeds=[0, 1]),
}
PROFILES = ("quick", "paper", "budget")


def profile_config(
    profile: str, batch_size: int, learning_rates: dict[str, float] | None = None, **overrides
) -> RunConfig:
    """The run for a profile: 'quick' (a few minutes on 2 cores; the book prints the measured
    time) or 'paper' (65 epochs, 3 seeds).

    Learning rates default to the ones selected on the validation split (see
    :func:`selected_learning_rates`).  The paper uses the unbiased variance for BN at
    batch size 4; we follow it for every batch size below 16.
    """
    if (profile, batch_size) not in PROFILE_SETTINGS:
        raise ValueError(
            f"no {profile!r} profile for batch size {batch_size}; profiles: {', '.join(PROFILES)}; "
            f"batch sizes: {', '.join(str(b) for p, b in PROFILE_SETTINGS if p == profile) or '128, 4'}"
        )
    chosen = dict(PROFILE_SETTINGS[(profile, batch_size)])
    chosen.update({k: v for k, v in overrides.items() if v is not None})
    rates = learning_rates or selected_learning_rates(batch_size)
    return RunConfig(batch_size=batch_size, learning_rates=rates, bn_unbiased=batch_size < 16, **chosen)


# ----------------------------------------------------------------------------- provenance


def results_file(profile: str, results_dir: Path | None = None) -> Path:
    """Where a profile's run is written: ``results_dir``, else :func:`lnutils.runs.results_dir`."""
    return Path(results_dir if results_dir is not None else runs.results_dir()) / f"mnist_{profile}.json"


def saved_results(profile: str = "paper", results_dir: Path | None = None) -> dict | None:
    """A profile's saved run (parts ``batch 128`` and ``batch 4``): from ``results_dir`` if given, else
    the results folder, else the book's copy."""
    return runs.read_results(f"mnist_{profile}.json", results_dir)


def part_name(batch_size: int, seed: int | None = None) -> str:
    """A part of a profile's run: one batch size (``batch 128``), or one seed of it (``batch 4, seed 0``)."""
    return f"batch {batch_size}" if seed is None else f"batch {batch_size}, seed {seed}"


def as_run(record: dict, finished: bool) -> dict:
    """One part of a profile's run as the chapter reads it: the record, and whether it is complete."""
    return {**record, "complete": finished}


def runs_by_batch_size(result: dict | None) -> dict[int, dict]:
    """{batch size: its run} of a profile's result, a batch size trained as one part or as one part per
    seed (:data:`SEED_PARTS`), whose seeds are then read side by side
    (:func:`lnutils.compare.merged_seed_groups`: complete once every planned seed is, else cut to the
    epoch every seed reached)."""
    planned, groups = {}, {}
    for config in ((result or {}).get("config") or {}).get("parts", {}).values():
        entry = planned.setdefault(config["batch_size"], {**config, "seeds": []})
        entry["seeds"] = sorted(entry["seeds"] + list(config["seeds"]))
    for _, record, done in runs.result_parts(result):
        groups.setdefault(record["batch_size"], []).append((record, done))
    found = {}
    for batch_size, members in groups.items():
        if len(members) == 1 and "seed_part" not in members[0][0]:
            record, done = members[0]
            found[batch_size] = as_run(record, done)
            continue
        plan = planned.get(batch_size) or {"seeds": sorted(s for r, _ in members for s in r["config"]["seeds"])}
        finished, in_progress = merged_seed_groups({batch_size: plan}, {batch_size: members})
        found[batch_size] = as_run(finished.get(batch_size) or in_progress[batch_size], batch_size in finished)
    return found


def on_seeds(run: dict, seeds) -> dict:
    """A batch size's run (:func:`runs_by_batch_size`) cut to ``seeds``: each curve keeps their columns."""
    columns = [run["config"]["seeds"].index(seed) for seed in seeds]
    curves = {
        metric: {m: [[epoch[c] for c in columns] for epoch in rows] for m, rows in values.items()}
        if isinstance(values, dict)
        else values
        for metric, values in run["curves"].items()
    }
    return {**run, "config": {**run["config"], "seeds": list(seeds)}, "curves": curves}


def budget_check(paper_result: dict | None, budget_result: dict | None) -> list[dict]:
    """Per test-error question at batch 128 (:data:`TEST_ERROR_QUESTIONS`): its answer at the paper run's 65
    epochs and at the budget run's 130 (the constant rate held twice as long), on the seeds the budget run
    trains; ``confirmed`` is whether the two agree, None while either is unfinished.  Data only."""
    short_runs, long_runs = runs_by_batch_size(paper_result), runs_by_batch_size(budget_result)
    if 128 not in short_runs or 128 not in long_runs:
        return []
    long_run = long_runs[128]
    seeds = sorted(PROFILE_SETTINGS["budget", 128]["seeds"])
    short = {v["claim"]: v for v in settled_error_verdicts({128: on_seeds(short_runs[128], seeds)}, False)}
    out = []
    for at_longer in settled_error_verdicts({128: long_run}, False):
        at_checked = short[at_longer["claim"]]
        finished = at_checked["evidence"] == COMPLETE and at_longer["evidence"] == COMPLETE
        out.append(
            {
                "claim": at_longer["claim"],
                "batch_size": 128,
                "roles": at_longer["roles"],
                "seeds": long_run["config"]["seeds"],
                "epochs": (at_checked["epoch"], at_longer["epoch"]),
                "answer_at_checked_budget": at_checked["outcome"],
                "answer_at_longer_budget": at_longer["outcome"],
                "interval_at_checked_budget": at_checked["interval"],
                "interval_at_longer_budget": at_longer["interval"],
                "evidence_at_longer_budget": at_longer["evidence"],
                "confirmed": at_checked["outcome"] == at_longer["outcome"] if finished else None,
            }
        )
    return out


def saved_budget_check(results_dir: Path | None = None) -> list[dict]:
    """:func:`budget_check` of the saved paper run and the saved budget run (empty until the latter starts)."""
    return budget_check(saved_results("paper", results_dir), saved_results("budget", results_dir))


def saved_paper_runs(results_dir: Path | None = None) -> dict[int, dict]:
    """{batch size: the saved paper-profile run} for the batch sizes that have one (``complete`` says
    whether it finished; :func:`runs_by_batch_size`)."""
    return runs_by_batch_size(saved_results("paper", results_dir))


def replaced_paper_runs(results_dir: Path | None = None) -> dict[int, list[dict]]:
    """{batch size: paper-profile parts that a run of another configuration replaced}: the parts of
    ``mnist_paper.replaced-<n>.json`` whose configuration differs from the part saved now."""
    current = saved_paper_runs(results_dir)
    found = {bs: [] for bs in BATCH_SIZES}
    for replaced in runs.replaced_results("mnist_paper.json", results_dir):
        for _, record, done in runs.result_parts(replaced):
            now = current.get(record["batch_size"])
            if now is None or now["config"] != record["config"]:
                found.setdefault(record["batch_size"], []).append(as_run(record, done))
    return found


# ----------------------------------------------------------------------------- runs


def run(
    config: RunConfig,
    dataset=None,
    device="cpu",
    progress=True,
    checkpoint: Path | None = None,
    time_budget_seconds=None,
    trained: dict | None = None,
    on_record=None,
    commit: str | None = None,
) -> tuple[History, dict]:
    """Train config.methods × config.seeds in lockstep, resumable from ``checkpoint``; returns the
    history and the run's record (:func:`part_record`).  ``on_record(record)``, when given, receives
    the record after every epoch (a profile's run saves it: :func:`run_profile`).  ``trained``, a
    dict, receives the trained stacks by method (to inspect g and b)."""
    dataset = dataset if dataset is not None else load_mnist()
    split = make_split(dataset, config.validation, config.train_subset)
    stacks = {method: MLPStack(method, config.seeds, bn_unbiased=config.bn_unbiased) for method in config.methods}
    rates = {method: config.learning_rates[method] for method in config.methods}
    commit = commit if commit is not None else environment.git_commit()
    if trained is not None:
        trained.update(stacks)

    def epoch_done(history: History) -> None:
        if on_record is not None:
            on_record(part_record(config, history, dataset, device, commit))

    history = train_lockstep(
        stacks,
        rates,
        split,
        config.batch_size,
        config.epochs,
        checkpoint=checkpoint,
        progress=progress,
        device=device,
        time_budget_seconds=time_budget_seconds,
        on_epoch_end=epoch_done,
        fingerprint_extra={"bn_unbiased": config.bn_unbiased},
    )
    return history, part_record(config, history, dataset, device, commit)


def part_record(config: RunConfig, history: History, dataset, device, commit: str | None) -> dict:
    """One batch size's run as a part of a profile's result: its configuration, curves, the
    convergence check (:func:`lnutils.compare.convergence`) and provenance (the wall time of all
    epochs, those of earlier, resumed sessions included)."""
    curves = history.to_dict()
    return {
        "batch_size": config.batch_size,
        "config": asdict(config),
        "epochs_done": len(history.epoch_seconds),
        "curves": curves,
        "convergence": convergence(curves),
        "provenance": provenance(dataset, torch.device(device), sum(history.epoch_seconds), commit=commit),
    }


# The parts that train each seed as a part of its own: batch 4 of the paper profile, 65 epochs of 13,750
# steps, hours of one CPU core per seed, so two processes can share it (one seed each, :func:`parts.claim`).
SEED_PARTS = {("paper", 4)}


def profile_configs(profile: str, epochs=None, seeds=None) -> dict[str, RunConfig]:
    """{part name: its run} (:func:`profile_config`): one part per batch size, or one per seed of the batch
    sizes of :data:`SEED_PARTS`."""
    configs = {}
    for batch_size in (b for b in BATCH_SIZES if (profile, b) in PROFILE_SETTINGS or profile not in PROFILES):
        config = profile_config(profile, batch_size, epochs=epochs, seeds=seeds)
        if (profile, batch_size) in SEED_PARTS:
            configs.update({part_name(batch_size, seed): replace(config, seeds=[seed]) for seed in config.seeds})
        else:
            configs[part_name(batch_size)] = config
    return configs


def run_profile(
    profile: str = "paper",
    device="cpu",
    progress=True,
    epochs=None,
    seeds=None,
    results_dir=None,
    checkpoint_dir=None,
    time_budget_seconds=None,
    overwrite=False,
    batch_sizes=None,
) -> dict:
    """A profile's run (the paper-scale one by default), one part per batch size, saved and
    resumable (:func:`lnutils.parts.run_parts`): run it again after an interruption and each part
    continues from its checkpoint; a finished part is not trained again.  ``batch_sizes`` trains
    only those parts now (the others keep what the file holds).  With ``overwrite`` a part whose
    configuration changed (new learning rates, say) starts again, the replaced file is kept as
    ``mnist_<profile>.replaced-<n>.json``, and the parts whose configuration is unchanged are kept."""
    configs = profile_configs(profile, epochs=epochs, seeds=seeds)
    trained = sorted({c.batch_size for c in configs.values()})
    unknown = [b for b in batch_sizes or () if b not in trained]
    if unknown:
        raise ValueError(f"no part at batch size(s) {unknown}; the {profile} profile has {trained}")
    commit = environment.git_commit()
    seed_parts = {name for name in configs if (profile, configs[name].batch_size) in SEED_PARTS}
    dataset = parts.loaded_once(load_mnist)

    def part(config: RunConfig, one_seed: bool):
        name = f"mnist_{profile}_b{config.batch_size}_{runs.config_tag(asdict(config))}.pt"  # new rates: a new name
        checkpoint = Path(checkpoint_dir or runs.checkpoint_dir()) / name

        def train(seconds_left, save_progress):
            def save(record):
                save_progress({**record, "seed_part": True} if one_seed else record)

            with parts.claim(checkpoint):  # a second process skips this part and takes the next
                say(
                    f"batch size {config.batch_size}: {len(config.methods)} methods × seed(s) {config.seeds}, "
                    f"{config.epochs} epochs"
                )
                history, record = run(
                    config,
                    device=device,
                    progress=progress,
                    checkpoint=checkpoint,
                    time_budget_seconds=seconds_left,
                    on_record=save,
                    commit=commit,
                    dataset=dataset(),
                )
            if parts.ran_out_of_time(history, config.epochs):
                return None
            return {**record, "seed_part": True} if one_seed else record

        return train

    return parts.run_parts(
        results_file(profile, results_dir),
        {"profile": profile, "parts": {name: asdict(c) for name, c in configs.items()}},
        {name: part(c, name in seed_parts) for name, c in configs.items()},
        overwrite=overwrite,
        time_budget_seconds=time_budget_seconds,
        kind="figure 6 run",
        only=[name for name, c in configs.items() if c.batch_size in batch_sizes] if batch_sizes else None,
        data=lambda: runs.data_copy(dataset()),
    )


# ----------------------------------------------------------------------------- kept networks (the probes)


def kept_networks_name(batch_size: int, seed: int) -> str:
    return f"mnist_paper_b{batch_size}_seed{seed}.npz"


def keep_networks(
    batch_size: int = 128,
    seed: int = 0,
    methods=(LN,),
    dataset=None,
    device="cpu",
    progress=True,
    results_dir=None,
    threads: int | None = None,
) -> dict:
    """Train ``seed``'s ``methods`` of the saved paper run at ``batch_size`` again, with its configuration
    (on ``threads`` CPU threads: by default the saved run's own), check every epoch's test error against
    the saved curve, and keep the final weights (:mod:`lnutils.kept_networks`), so that the chapter's
    probe reads a network trained as long as its numbers.  Returns the kept file's record."""
    record = (saved_results("paper", results_dir) or {}).get("parts", {}).get(part_name(batch_size))
    if record is None or "curves" not in record:
        raise ValueError(f"no part {part_name(batch_size)!r} in the saved paper run: nothing to train again")
    saved = record["config"]
    config = RunConfig(**{**saved, "seeds": [seed], "methods": list(methods)})
    threads = runs.saved_cpu_threads(record, device) if threads is None else threads
    trained = {}
    with environment.cpu_threads(threads):
        history, live = run(config, dataset, device, progress, trained=trained)
    column = saved["seeds"].index(seed)
    about = {
        "kind": "kept networks",
        "experiment": "mnist",
        "profile": "paper",
        "part": part_name(batch_size),
        "seed": seed,
        "config": asdict(config),
        "agreement_with_saved_run": kept_networks.agreement(
            history.test_error, record["curves"]["test_error"], column, methods
        ),
        "threads": threads,
        "provenance": live["provenance"],
    }
    path = kept_networks.path_of(kept_networks_name(batch_size, seed), results_dir)

    def kept_so_far():
        return load_kept_networks(batch_size, seed, results_dir=results_dir)

    return kept_networks.keep(path, {m: trained[m] for m in methods}, about, "methods", kept_so_far)


def load_kept_networks(batch_size: int = 128, seed: int = 0, device="cpu", results_dir=None) -> tuple[dict, dict]:
    """The stacks :func:`keep_networks` kept ({method: an MLPStack of one network}, in eval mode, on
    ``device``) and their record; ({}, None) where none are kept."""

    def build(record: dict) -> dict:
        config = RunConfig(**record["config"])
        return {m: MLPStack(m, config.seeds, bn_unbiased=config.bn_unbiased).to(device) for m in record["networks"]}

    return kept_networks.load_built(kept_networks_name(batch_size, seed), build, results_dir)


def probe_networks(trained: dict, batch_size: int = 128, seed: int = 0) -> tuple[dict, dict]:
    """The stacks the chapter's probe reads: the kept networks of the saved paper run (:func:`keep_networks`,
    trained to the end) where they cover every method probed, else this build's (``trained``, by batch size
    then method); and what they are, for the page to say."""
    kept, record = load_kept_networks(batch_size, seed)
    live = dict(trained.get(batch_size, {}))
    if kept and (not live or set(live) & set(kept)):
        agreement = record["agreement_with_saved_run"]
        about = {"source": "kept", "profile": "paper", "seed": seed, "epochs": record["config"]["epochs"]}
        return kept, about | {
            "test_error": {m: a["final_test_error"] for m, a in agreement.items()},
            "saved_test_error": {m: a["saved_final_test_error"] for m, a in agreement.items()},
        }
    return live, {"source": "this build", "seed": seed}


def chapter_runs(
    profile: str, configs: dict[int, RunConfig], dataset, device="cpu", progress=True, trained: dict | None = None
) -> tuple[dict, dict]:
    """What the chapter runs: returns (live curves by batch size, saved paper results by batch size).

    'quick' trains the quick configs live.  'paper' runs (or resumes) the paper-scale
    runs, which write their result files, and shows nothing live.  ``trained``, a dict,
    receives {batch size: {method: trained stack}} of the live runs.
    """
    live = {}
    if profile == "paper":
        run_profile("paper", device=device, progress=progress, batch_sizes=list(configs))
    else:
        for batch_size, config in configs.items():
            say(
                f"batch size {batch_size}: {len(config.methods)} methods × {len(config.seeds)} seed(s), "
                f"{config.epochs} epochs"
            )
            stacks = trained.setdefault(batch_size, {}) if trained is not None else None
            live[batch_size] = run(config, dataset, device=device, progress=progress, trained=stacks)[1]["curves"]
    saved = saved_paper_runs()
    return live, saved
