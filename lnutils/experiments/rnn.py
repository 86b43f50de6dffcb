"""Layer norm in recurrent networks: sequential MNIST, small batches, longer sequences, probes.

Sequential MNIST reads an image one row per step: 28 steps of 28 pixels, and the
class is read from the last hidden state.  Training reuses
:func:`lnutils.train.train_lockstep` (each cell type is one stack).  The adding
problem (Hochreiter & Schmidhuber 1997) is generated on the fly, so sequences can be
made longer at test time than in training.

Command line (:mod:`lnutils.experiments`)::

    python -m lnutils.experiments rnn run --profile paper   # every part, resumable
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lnutils import environment, kept_networks, parts, runs
from lnutils.compare import (
    convergence,
    convergence_rule,
    first_epoch_only,
    merged_seed_groups,
    retrace_comparison,
)
from lnutils.data import load_mnist
from lnutils.experiments.adding import (  # noqa: F401  (the chapter reads them here)
    PREDICT_MEAN_MSE,
    adding_convergence,
    adding_part_convergence,
    adding_problem,
    adding_results,
    adding_settings,
    train_adding,
    train_adding_by_seed,
)
from lnutils.experiments.rnn_probes import (  # noqa: F401  (the chapter reads them here)
    gradient_norms_through_time,
    recomputed_population_statistics,
    statistics_gap,
    summed_input_statistics,
)
from lnutils.experiments.rnn_verdicts import (  # noqa: F401  (the chapter reads them here)
    ADDING_CLAIMS,
    ADDING_MARGIN_MSE,
    ANNEALED_METRIC,
    MARGIN_POINTS,
    SEQUENTIAL_CLAIMS,
    SEQUENTIAL_METRIC,
    SPEED_CLAIMS,
    SPEED_EPOCHS,
    SPEED_MARGIN_EPOCHS,
    SPEED_PAIRS,
    SPEED_THRESHOLDS,
    adding_verdicts,
    epochs_to_reach,
    live_result,
    sequential_verdicts,
    speed_comparisons,
    verdicts,
)
from lnutils.progress import say
from lnutils.rnn import (  # noqa: F401  (RNNStack and GROUPED_UP_TO_BATCH: the chapter reads them here)
    CELLS,
    GROUPED_CELLS,
    GROUPED_UP_TO_BATCH,
    RNNStack,
    SequenceBatchNorm,
    SequenceModel,
    grouped_sequence_forward,
)
from lnutils.runs import provenance, result_parts
from lnutils.train import History, make_split, train_lockstep

PROFILES = ("quick", "cpu", "budget", "paper")
# Cooijmans et al. 2016, Table 1 (test accuracy %), the numbers this chapter cites.
PUBLISHED = {
    "pixel-by-pixel MNIST (784 steps)": {"LSTM": 98.9, "BN-LSTM": 99.0},
    "permuted pixel-by-pixel MNIST": {"LSTM": 90.2, "BN-LSTM": 95.4},
}


@dataclass
class SequentialMNISTConfig:
    batch_size: int
    epochs: int
    seeds: list[int]
    learning_rate: float = 1e-3
    cells: list[str] = field(default_factory=lambda: list(CELLS))
    hidden_size: int = 64
    train_subset: int | None = None
    validation: int = 5000
    steps: int = 28  # time steps per image: 28 (a row per step) or 784 (a pixel per step)
    decay_epochs: int = 0  # the last epochs bring the learning rate linearly to zero (0: a constant rate)

    def __post_init__(self):
        if 784 % self.steps:
            raise ValueError(f"steps must divide 784 (28 rows, or 784 pixels), got {self.steps}")


def profile_configs(
    profile: str, epochs: int | None = None, train_subset: int | None = None
) -> dict[str, SequentialMNISTConfig]:
    """quick: 6,000 training images, hidden 64, 2 epochs at batch 64 (all five cells) and
    1 epoch on 800 images at batch 4 (the three LSTMs).  cpu (the saved CPU evidence): 55,000
    images, hidden 64, batch 64, all five cells, 5 seeds (the adding problem 3), each seed a part of its
    own (``"batch 64, seed 0"``; read together by :func:`seeds_merged`): 20 epochs, the last 5 cooling the
    learning rate linearly to zero (15 constant epochs left LN-LSTM, BN-LSTM and LN-GRU still moving); the
    last epochs' movement is recorded (:func:`lnutils.compare.convergence_rule`); a seed-epoch takes minutes
    on one core (the result file records each part's time, :func:`lnutils.parts.recorded_hours`), so batch 4
    (860 steps become 13,750) and pixel by pixel (28 times the steps) are left to a GPU.  paper: 55,000
    images, hidden 128, 20 epochs, 3 seeds; then pixel-by-pixel MNIST (784 steps, the three LSTMs, hidden
    100 as in Cooijmans et al. 2016, 10 epochs: a GPU run); each ends in a cooldown (5, 2 and 3 epochs).
    budget: seeds :data:`BUDGET_SEEDS` of the cpu profile with the constant phase doubled (30 + 5 epochs),
    no adding problem (:mod:`lnutils.experiments.rnn_budget`).
    The learning rate, 1e-3, is Adam's default and the one Cooijmans et al. used; it is not selected
    here.  ``epochs`` and ``train_subset`` override the profile's values (a cooldown longer than the
    epochs is cut to them)."""
    if profile == "quick":
        configs = {
            "batch 64": SequentialMNISTConfig(64, 2, [0], train_subset=6000),
            "batch 4": SequentialMNISTConfig(4, 1, [0], cells=["LSTM", "LN-LSTM", "BN-LSTM"], train_subset=800),
        }
    elif profile == "cpu":
        configs = {
            part_name("batch 64", seed): SequentialMNISTConfig(64, 20, [seed], decay_epochs=5) for seed in CPU_SEEDS
        }
    elif profile == "budget":  # the cpu profile's budget check (lnutils.experiments.rnn_budget)
        configs = {
            part_name("batch 64", seed): SequentialMNISTConfig(64, 35, [seed], decay_epochs=5) for seed in BUDGET_SEEDS
        }
    elif profile == "paper":
        configs = {
            "batch 64": SequentialMNISTConfig(64, 20, [0, 1, 2], hidden_size=128, decay_epochs=5),
            "batch 4": SequentialMNISTConfig(
                4, 5, [0, 1, 2], cells=["LSTM", "LN-LSTM", "BN-LSTM"], hidden_size=128, decay_epochs=2
            ),
            "pixel by pixel, batch 64": SequentialMNISTConfig(
                64, 10, [0, 1, 2], cells=["LSTM", "LN-LSTM", "BN-LSTM"], hidden_size=100, steps=784, decay_epochs=3
            ),
        }
    else:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    for config in configs.values():
        config.epochs = epochs or config.epochs
        config.train_subset = train_subset or config.train_subset
        config.decay_epochs = min(config.decay_epochs, config.epochs)
    return configs


CPU_SEEDS = (0, 1, 2, 3, 4)
# The budget check (lnutils.experiments.rnn_budget): seeds 0 and 1 of the cpu profile with the constant phase
# doubled (30 + 5 epochs instead of 15 + 5).  Registered on 2026-12-08, before any budget run.
BUDGET_SEEDS = (0, 1)
# The adding problem keeps three seeds: its part trains its seeds as one, so a fourth would train all again.
ADDING_SEEDS = 3


def part_name(setting: str, seed: int) -> str:
    """The part of a profile split by seed that trains ``seed`` of ``setting`` (``"batch 64, seed 0"``)."""
    return f"{setting}, seed {seed}"


def setting_of(part: str) -> tuple[str, int | None]:
    """(setting, seed) of a part's name; the seed is None where the part holds every seed."""
    found = re.fullmatch(r"(.*), seed (\d+)", part)
    return (found.group(1), int(found.group(2))) if found else (part, None)


def run_sequential_mnist(
    config: SequentialMNISTConfig,
    dataset=None,
    device="cpu",
    progress=True,
    checkpoint=None,
    time_budget_seconds=None,
    on_epoch_end=None,
    grouped: bool | None = None,
) -> tuple[History, dict[str, RNNStack], dict]:
    """Train every cell of ``config`` in lockstep; ``on_epoch_end(record)`` gets the record so far.
    ``grouped``: how each stack runs its models (:class:`RNNStack`); the record's provenance says."""
    dataset = dataset if dataset is not None else load_mnist()
    split = make_split(dataset, config.validation, config.train_subset)

    def record_of(history: History) -> dict:
        curves = history.to_dict()
        return {
            "config": asdict(config),
            "epochs_done": len(history.epoch_seconds),
            "curves": curves,
            "convergence": convergence(curves, **convergence_rule(asdict(config))),
            "provenance": {
                **provenance(dataset, device, sum(history.epoch_seconds)),
                "stack_grouping": {"grouped": grouped, "up_to_batch": GROUPED_UP_TO_BATCH},
            },
        }

    stacks = {
        name: RNNStack(name, config.seeds, config.hidden_size, rows=config.steps, grouped=grouped)
        for name in config.cells
    }
    history = train_lockstep(
        stacks,
        {name: config.learning_rate for name in config.cells},
        split,
        config.batch_size,
        config.epochs,
        progress=progress,
        device=device,
        checkpoint=checkpoint,
        time_budget_seconds=time_budget_seconds,
        on_epoch_end=None if on_epoch_end is None else lambda history: on_epoch_end(record_of(history)),
        decay_epochs=config.decay_epochs,
    )
    return history, stacks, record_of(history)


def results_file(profile: str, results_dir: Path | None = None) -> Path:
    return Path(results_dir or runs.results_dir()) / f"rnn_{profile}.json"


def saved_results(profile: str = "paper", results_dir=None) -> dict | None:
    """The result file written by ``python -m lnutils.experiments rnn run --profile <profile>``, if any, as
    the chapter reads it: one part per setting, its seeds together (:func:`seeds_merged`)."""
    saved = runs.read_results(f"rnn_{profile}.json", results_dir)
    return seeds_merged(saved) if saved is not None else None


def seeds_merged(result: dict) -> dict:
    """A result whose sequential-MNIST parts are single seeds (the cpu profile: ``"batch 64, seed 0"``) read
    as one part per setting with all its seeds (:func:`lnutils.compare.merged_seed_groups`), finished when
    every planned seed is, else in progress at the epoch all of them reached; its configuration in the shape
    of an unsplit profile (``sequential_mnist``: setting -> configuration, ``adding``).  A result that is
    not split comes back as it is."""
    planned_parts = (result.get("config") or {}).get("parts")
    if not isinstance(planned_parts, dict) or all(setting_of(name)[1] is None for name in planned_parts):
        return result
    planned: dict[str, dict] = {}
    for name, config in planned_parts.items():
        if name == "adding":
            continue
        setting, _ = setting_of(name)
        merged = planned.setdefault(setting, {**config, "seeds": []})
        merged["seeds"] = merged["seeds"] + list(config["seeds"])
    groups: dict[str, list] = {}
    for name, record, finished in result_parts(result):
        if name != "adding":
            groups.setdefault(setting_of(name)[0], []).append((record, finished))
    merged_parts, in_progress = merged_seed_groups(planned, groups)
    if "adding" in (result.get("parts") or {}):
        merged_parts["adding"] = result["parts"]["adding"]
    config = {
        "profile": result["config"].get("profile"),
        "sequential_mnist": planned,
        "adding": planned_parts.get("adding"),
    }
    complete = all(setting in merged_parts for setting in planned) and (
        "adding" in merged_parts or "adding" not in planned_parts
    )
    merged = {**result, "config": config, "parts": merged_parts, "complete": complete}
    merged.pop("in_progress", None)
    if in_progress:
        merged["in_progress"] = in_progress
    return merged


def sequential_part_trainer(setting: str, config, checkpoint: Path, mnist_copy, device, progress, commit):
    """One sequential-MNIST part as :func:`lnutils.parts.run_parts` takes it: claimed while it trains (a
    second process on this profile takes another part), its epochs saved as they come, None when it ran
    out of time (its checkpoint resumes it)."""

    def train(seconds_left, save_progress):
        def with_commit(record: dict) -> dict:
            record["provenance"]["commit"] = commit
            return record

        with parts.claim(checkpoint):
            say(f"sequential MNIST, {setting}: {len(config.cells)} cells × {len(config.seeds)} seed(s)")
            history, _, record = run_sequential_mnist(
                config,
                mnist_copy(),
                device,
                progress,
                checkpoint=checkpoint,
                time_budget_seconds=seconds_left,
                on_epoch_end=lambda record: save_progress(with_commit(record)),
            )
        if parts.ran_out_of_time(history, config.epochs):
            return None
        return with_commit(record)

    return train


def run_profile(
    profile: str,
    device="cpu",
    progress=True,
    epochs=None,
    seeds=None,
    results_dir=None,
    checkpoint_dir=None,
    overwrite=False,
    time_budget_seconds=None,
    adding_steps=None,
) -> dict:
    """Every part of a profile (sequential MNIST per setting, then the adding problem), each
    resumable (:func:`lnutils.parts.run_parts`: the result file keeps finished parts).  In a profile split
    by seed (the cpu profile) ``seeds`` trains only those seeds' sequential-MNIST parts now, and two
    processes started alike share the parts (each part is claimed while it trains, :func:`lnutils.runs.
    claim`); elsewhere it makes a run of only those seeds."""
    configs = profile_configs(profile, epochs=epochs)
    by_seed = any(setting_of(name)[1] is not None for name in configs)
    only = None
    if seeds and by_seed:
        only = [name for name, config in configs.items() if config.seeds[0] in seeds]
    elif seeds:
        for config in configs.values():
            config.seeds = list(seeds)
    adding = adding_settings(profile, steps=adding_steps) if profile != "budget" else None  # budget: no adding
    commit = environment.git_commit()
    mnist_copy = parts.loaded_once(load_mnist)

    # the profile's seeds, at most ADDING_SEEDS of them: the part trains its seeds together
    adding_seeds = sorted({seed for config in configs.values() for seed in config.seeds})[:ADDING_SEEDS]

    def adding_part(seconds_left, save_progress=None):  # saved when all its seeds are done
        return train_adding_by_seed(
            adding, adding_seeds, folder, f"rnn_{profile}", seconds_left, progress, device, commit, train_adding
        )

    # row by row, then the adding problem, then pixel by pixel (by far the longest)
    folder = Path(checkpoint_dir or runs.checkpoint_dir())

    def sequential_part(setting: str, config: SequentialMNISTConfig):
        checkpoint = checkpoint_path(profile, setting, folder)
        return sequential_part_trainer(setting, config, checkpoint, mnist_copy, device, progress, commit)

    trainers = {setting: sequential_part(setting, c) for setting, c in configs.items() if c.steps == 28}
    if adding is not None:
        trainers["adding"] = adding_part
    trainers |= {setting: sequential_part(setting, c) for setting, c in configs.items() if c.steps != 28}
    planned = {k: asdict(c) for k, c in configs.items()}
    if adding is not None:
        planned["adding"] = {k: list(v) if isinstance(v, tuple) else v for k, v in adding.items()} | {
            "seeds": adding_seeds
        }
    # each part's configuration by name: an --overwrite keeps the parts whose configuration is unchanged
    profile_config = {"profile": profile, "parts": planned}
    return parts.run_parts(
        results_file(profile, results_dir),
        profile_config,
        trainers,
        overwrite=overwrite,
        time_budget_seconds=time_budget_seconds,
        kind="rnn comparison",
        only=None if only is None else only + ["adding"] * (adding is not None),
        data=lambda: runs.data_copy(mnist_copy()),
    )


# ----------------------------------------------------------------------------- the chapter's run


def checkpoint_path(profile: str, setting: str, checkpoint_dir=None) -> Path:
    name = f"rnn_{profile}_{re.sub(r'[^a-z0-9]+', '-', setting)}.pt"
    return Path(checkpoint_dir or runs.checkpoint_dir()) / name


def chapter_run(
    profile: str, dataset=None, device="cpu", progress=True, epochs=None, train_subset=None, adding_steps=None
) -> tuple[dict, dict]:
    """The chapter's results for a profile (in the shape of a saved result) and the trained stacks per
    sequential-MNIST setting for the probes.

    quick: trains live in minutes and writes no file (a check of the code: it ranks nothing).
    cpu and paper: :func:`run_profile`, which loads the saved result, resumes any unfinished part from
    its checkpoint and saves as it goes; the networks are rebuilt from the checkpoints where this
    machine has them (none in a fresh clone or in Colab: the probes then say so)."""
    dataset = dataset if dataset is not None else load_mnist()
    if profile == "quick":
        records, trained = {}, {}
        for setting, config in profile_configs(profile, epochs=epochs, train_subset=train_subset).items():
            say(f"sequential MNIST, {setting}")
            _, trained[setting], records[setting] = run_sequential_mnist(config, dataset, device, progress)
        settings = adding_settings(profile, steps=adding_steps)
        adding = train_adding(**settings, progress=progress, device=device)
        return live_result(records, adding, settings, profile), trained
    if train_subset is not None:
        raise ValueError(f"train_subset applies to the quick profile only; the {profile} profile trains on all images")
    raw = run_profile(profile, device, progress, epochs=epochs, adding_steps=adding_steps)
    result = seeds_merged(raw)
    trained = {}  # the probes read each setting's first network: the first seed's checkpoint suffices
    for name, record, finished in result_parts(raw):
        setting, seed = setting_of(name)
        path = checkpoint_path(profile, name)
        if name == "adding" or not finished or setting in trained or not path.exists():
            continue
        if setting not in result["parts"] or seed not in (None, result["parts"][setting]["config"]["seeds"][0]):
            continue
        config = SequentialMNISTConfig(**record["config"])
        _, trained[setting], _ = run_sequential_mnist(config, dataset, device, progress=False, checkpoint=path)
    return result, trained


def sequential_records(result: dict) -> dict[str, dict]:
    """A result's finished sequential-MNIST records by setting (the adding problem left out)."""
    return {setting: record for setting, record in result.get("parts", {}).items() if setting != "adding"}


# ----------------------------------------------------------------------------- kept networks


def kept_networks_name(profile: str, seed: int) -> str:
    return f"rnn_{profile}_seed{seed}.npz"


def saved_grouping(record: dict) -> bool | None:
    """How a saved part ran its stacks (``grouped`` of :func:`run_sequential_mnist`; None: by batch size); a
    record without "stack_grouping" ran its models one by one.  The grouped form computes the same
    function but rounds differently, and training amplifies that, so training a part again follows it."""
    return (record.get("provenance", {}).get("stack_grouping") or {"grouped": False})["grouped"]


def keep_networks(
    profile: str = "cpu", seed: int = 0, cells=None, dataset=None, device="cpu", progress=True, results_dir=None
) -> dict:
    """Train ``seed``'s networks of the saved ``profile``'s row-by-row part again, as the saved run did (its
    configuration, its CPU thread count, its stacks one by one), check every epoch's test error against
    the saved curve, and keep the final weights (:mod:`lnutils.kept_networks`), so that the probes read
    the networks the chapter's numbers come from.  Returns the kept file's record."""
    result = runs.read_results(results_file(profile).name, results_dir)  # its parts as saved, one per seed
    name = part_name("batch 64", seed) if profile == "cpu" else "batch 64"
    record = (result or {}).get("parts", {}).get(name)
    if record is None or "curves" not in record:
        raise ValueError(f"no finished part {name!r} in the saved {profile} result: nothing to train again")
    saved = record["config"]
    cells = list(cells or saved["cells"])
    config = SequentialMNISTConfig(**{**saved, "seeds": [seed], "cells": cells})
    dataset = dataset if dataset is not None else load_mnist()
    threads = runs.saved_cpu_threads(record, device)
    with environment.cpu_threads(threads):  # the saved run's own computation
        history, stacks, live = run_sequential_mnist(config, dataset, device, progress, grouped=saved_grouping(record))
    column = saved["seeds"].index(seed)
    agreement = kept_networks.agreement(history.test_error, record["curves"]["test_error"], column, cells)
    about = {
        "kind": "kept networks",
        "experiment": "rnn",
        "profile": profile,
        "part": name,
        "seed": seed,
        "config": asdict(config),
        "agreement_with_saved_run": agreement,
        "threads": threads,
        "provenance": live["provenance"] | {"commit": environment.git_commit()},
    }
    networks = {cell: stacks[cell].networks[0] for cell in cells}
    path = kept_networks.path_of(kept_networks_name(profile, seed), results_dir)

    def kept_so_far():
        return load_kept_networks(profile, seed, results_dir=results_dir, device="cpu")

    return kept_networks.keep(path, networks, about, "cells", kept_so_far)


def load_kept_networks(profile: str = "cpu", seed: int = 0, device="cpu", results_dir=None) -> tuple[dict, dict]:
    """The networks :func:`keep_networks` kept ({cell: SequenceModel} in eval mode, on ``device``) and
    their record; ({}, None) where none are kept."""

    def build(record: dict) -> dict:
        config = SequentialMNISTConfig(**record["config"])
        inputs = 784 // config.steps
        return {
            cell: SequenceModel(cell, inputs, config.hidden_size, 10, max_steps=config.steps).to(device)
            for cell in record["networks"]
        }

    return kept_networks.load_built(kept_networks_name(profile, seed), build, results_dir)


def probe_networks(trained: dict, profile: str = "cpu", seed: int = 0) -> tuple[dict, dict]:
    """The networks the chapter's probes read: the kept networks of the saved ``profile`` run's seed
    (:func:`keep_networks`, trained to the end) where they exist, else this build's batch-64 networks
    (``trained``, from :func:`chapter_run`); and what they are, for the page to say."""
    kept, record = load_kept_networks(profile, seed)
    live = {cell for cell in trained.get("batch 64", {})}
    if kept and (not live or live <= set(kept)):  # the kept networks stand in for every cell probed
        agreement = record["agreement_with_saved_run"]
        errors = {cell: a["final_test_error"] for cell, a in agreement.items()}
        saved = {cell: a["saved_final_test_error"] for cell, a in agreement.items()}
        epochs = record["config"]["epochs"]
        about = {"source": "kept", "profile": profile, "seed": seed, "epochs": epochs}
        return kept, about | {"test_error": errors, "saved_test_error": saved}
    networks = {cell: stack.networks[0] for cell, stack in trained.get("batch 64", {}).items()}
    return networks, {"source": "this build", "seed": 0}


# ----------------------------------------------------------------------------- the live check


def retrace(result: dict, cell: str = "LN-LSTM", seed: int = 0, dataset=None, device="cpu", progress=False):
    """Train one network of the saved run's row-by-row part again, for its first epoch, and compare its
    test error with the saved one: the check that this code still produces the saved numbers (a live
    quick run checks this; it ranks nothing).  None when no such part is saved."""
    record = next((r for setting, r, _ in result_parts(result) if setting == "batch 64"), None)
    if record is None or seed not in record["config"]["seeds"] or cell not in record["config"]["cells"]:
        return None
    saved = record["config"]
    config = SequentialMNISTConfig(**{**saved, **first_epoch_only(saved), "seeds": [seed], "cells": [cell]})
    started = time.perf_counter()
    dataset = dataset if dataset is not None else load_mnist()
    threads = runs.saved_cpu_threads(record, device)
    with environment.cpu_threads(threads):  # the saved run's own computation
        history, _, _ = run_sequential_mnist(config, dataset, device, progress, grouped=saved_grouping(record))
    saved = record["curves"]["test_error"][cell][0][record["config"]["seeds"].index(seed)]
    data = ((runs.part_data(record) or (None, None))[1], dataset.provenance.checksum)
    live = history.test_error[cell][0][0]
    comparison = retrace_comparison(live, saved, seed, time.perf_counter() - started, data)
    return {"setting": "batch 64", "cell": cell, "threads": threads} | comparison
