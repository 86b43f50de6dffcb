"""Layer norm in convolutional networks: the comparison and the border-hypothesis probe, as numbers.

Command line (:mod:`lnutils.experiments`)::

    python -m lnutils.experiments conv select              # learning-rate grid, Fashion-MNIST, batch 128
    python -m lnutils.experiments conv run --profile paper # the full grid, part by part, resumable

Training reuses :func:`lnutils.train.train_lockstep`: every normalization variant is
one "stack" of networks (one per seed), and all of them step together.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lnutils import environment, parts, runs
from lnutils.cnn import GROUPED_UP_TO_BATCH, NORMALIZATIONS, CNNStack, SmallCNN, grouped_forward  # noqa: F401
from lnutils.compare import (
    convergence,
    convergence_rule,
    first_epoch_only,
    merged_seed_groups,
    retrace_comparison,
)
from lnutils.data import load_dataset
from lnutils.experiments.conv_probes import (  # noqa: F401  (the chapter reads them here)
    PROBED,
    activity_maps,
    activity_maps_by_name,
    border_mask,
    border_probe,
    border_statistics,
)
from lnutils.experiments.conv_verdicts import (  # noqa: F401  (the chapter reads them here)
    ANNEALED_METRIC,
    BATCH_CLAIMS,
    BATCH_NORM,
    CLAIMS,
    GROUP_NORM,
    LARGE_BATCH,
    LAYER_NORM,
    MARGIN_POINTS,
    METRIC,
    SMALL_BATCH,
    live_result,
    part_key,
    settled_test_error,
    verdicts,
)
from lnutils.progress import say
from lnutils.runs import provenance, result_parts, save_results
from lnutils.train import History, make_split, train_lockstep

LEARNING_RATE_GRID = (3e-4, 1e-3, 3e-3)
PROFILES = ("quick", "cpu", "paper")
DATASETS = ("mnist", "fashion-mnist")

# Published numbers the chapter compares with (top-1 error %, from the papers' tables).
PUBLISHED = {
    "Wu & He 2018, ResNet-50 ImageNet, batch 32/GPU": {
        "batch norm": 23.6,
        "layer norm (C,H,W)": 25.3,
        "instance norm": 28.4,
        "group norm (G=32)": 24.1,
    },
    "Wu & He 2018, BN at batch 4 / 2 per GPU": {
        "batch norm, batch 4": 27.3,
        "batch norm, batch 2": 34.7,
        "group norm, any batch": 24.1,
    },
    "Zhang & Sennrich 2019, CIFAR-10 ConvPool-CNN-C": {
        "none": 8.96,
        "batch norm": 8.25,
        "layer norm": 10.49,
        "rms norm": 8.83,
    },
}


@dataclass
class ConvConfig:
    datasets: list[str]
    batch_size: int
    epochs: int
    seeds: list[int]
    learning_rates: dict[str, float]
    normalizations: list[str] = field(default_factory=lambda: list(NORMALIZATIONS))
    train_subset: int | None = None
    validation: int = 5000
    decay_epochs: int = 0  # the last epochs bring the learning rate linearly to zero (0: a constant rate)


def profile_configs(
    profile: str,
    learning_rates: dict[str, float] | None = None,
    epochs: int | None = None,
    train_subset: int | None = None,
) -> list[ConvConfig]:
    """quick: Fashion-MNIST only, one seed, 2 epochs of 3,000 training images at batch 128 (the second
    a cooldown) and 1 epoch of 600 at batch 4, a 1,000-image validation split (about two minutes on 2
    cores).  paper: MNIST and Fashion-MNIST, the full 55,000 images, 15 epochs (the last 5 a cooldown,
    as in the cpu profile), 3 seeds, batch 128, 4 and 2.  ``epochs`` and ``train_subset`` override the
    profile's values (a cooldown longer than the epochs asked for is cut to them)."""
    if profile == "cpu":
        return cpu_profile_configs(epochs, train_subset)
    rates = learning_rates or selected_learning_rates()
    if profile == "quick":
        configs = [
            ConvConfig(["fashion-mnist"], 128, 2, [0], rates, train_subset=3000, validation=1000, decay_epochs=1),
            ConvConfig(["fashion-mnist"], 4, 1, [0], rates, train_subset=600, validation=1000),
        ]
    elif profile == "paper":
        configs = [ConvConfig(list(DATASETS), batch, 15, [0, 1, 2], rates, decay_epochs=5) for batch in (128, 4, 2)]
    else:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    for config in configs:
        config.epochs = epochs or config.epochs
        config.train_subset = train_subset or config.train_subset
        config.decay_epochs = min(config.decay_epochs, config.epochs)
    return configs


SHARED_LEARNING_RATE = 1e-3  # the cpu profile: one rate for every normalization (see cpu_profile_configs)
# (dataset, batch size, epochs, of which the last decay_epochs cool the learning rate down to zero)
CPU_PARTS = (("fashion-mnist", 128, 15, 5), ("mnist", 128, 15, 5), ("fashion-mnist", 4, 4, 2))
CPU_SEEDS = (0, 1, 2)


def cpu_profile_configs(epochs: int | None = None, train_subset: int | None = None) -> list[ConvConfig]:
    """The CPU evidence run, in the order the chapter's question needs it: Fashion-MNIST at batch 128,
    then MNIST at batch 128, then Fashion-MNIST at batch 4 (Wu & He 2018's small-batch regime); every
    normalization, 3 seeds, all 55,000 training images.  One shared learning rate, Adam's 1e-3, for every
    normalization: the earlier selection trained 2 epochs on 6,000 images, too short to choose by, and a
    full-length selection per normalization costs more CPU than the runs themselves.  A shared rate is not
    each normalization's best: that short selection chose 3e-3, the edge of its grid, for 7 of the 8
    (``conv_lr_b128.json``), so the comparison is at Adam's default rate, and the chapter says so.

    A fixed budget that ends in a cooldown: at batch 128, 10 epochs at the constant rate, then 5 in which
    it falls linearly to zero; at batch 4 (13,750 steps an epoch), 2 and 2.  At a constant rate 10 epochs
    left every normalization still improving by 0.15-0.53 points an epoch, with epoch-to-epoch noise of
    0.3-1 point; the cooldown ends each network annealed, where the comparison is made (its last epoch,
    :func:`lnutils.compare.settle_window`) and where the convergence check (:func:`lnutils.compare.
    convergence_rule`: the last 2 epochs) can tell a finished curve from a falling one.  The first 10
    epochs are those of the earlier constant-rate run, whose checkpoints this profile extends.

    Each seed is a part of its own (8 networks, an hour or more on one core at batch 128; the result file
    records each part's time, :func:`lnutils.parts.recorded_hours`): a part then
    ends within one working session, and a finished part is never trained again.  The chapter reads the
    seeds of one (dataset, batch size) together (:func:`seeds_merged`)."""
    rates = {name: SHARED_LEARNING_RATE for name in NORMALIZATIONS}
    configs = []
    for dataset, batch_size, planned, decay in CPU_PARTS:
        for seed in CPU_SEEDS:
            length = epochs or planned
            config = ConvConfig([dataset], batch_size, length, [seed], rates, train_subset=train_subset)
            config.decay_epochs = min(decay, length)
            configs.append(config)
    return configs


def load_selection(results_dir: Path | None = None) -> dict:
    """The learning-rate selection run's result (``conv_lr_b128.json``)."""
    selection = runs.read_results("conv_lr_b128.json", results_dir)
    if selection is None:
        raise FileNotFoundError(
            "no learning-rate selection conv_lr_b128.json; run `python -m lnutils.experiments conv select`."
        )
    return selection


def selected_learning_rates(results_dir: Path | None = None) -> dict[str, float]:
    return {name: float(rate) for name, rate in load_selection(results_dir)["chosen"].items()}


def train_config(
    config: ConvConfig,
    dataset_name: str,
    device="cpu",
    progress=True,
    checkpoint=None,
    on_epoch_end=None,
    time_budget_seconds=None,
    branch_from=None,
) -> tuple[History, dict[str, CNNStack], object]:
    dataset = load_dataset(dataset_name)
    split = make_split(dataset, config.validation, config.train_subset)
    stacks = {name: CNNStack(name, config.seeds) for name in config.normalizations}
    if on_epoch_end is not None:  # the callback also gets the dataset (its provenance goes into the record)
        epoch_callback = on_epoch_end
        on_epoch_end = lambda history: epoch_callback(history, dataset)  # noqa: E731
    rates = {name: config.learning_rates[name] for name in config.normalizations}
    history = train_lockstep(
        stacks,
        rates,
        split,
        config.batch_size,
        config.epochs,
        checkpoint=checkpoint,
        progress=progress,
        device=device,
        on_epoch_end=on_epoch_end,
        time_budget_seconds=time_budget_seconds,
        decay_epochs=config.decay_epochs,
        branch_from=branch_from,
    )
    return history, stacks, dataset


def run_grid(configs: list[ConvConfig], device="cpu", progress=True) -> tuple[list[dict], dict]:
    """Train every (config, dataset); returns result records and the batch-128 models per dataset for the probes."""
    records, models = [], {}
    for config in configs:
        for dataset_name in config.datasets:
            say(
                f"{dataset_name}, batch {config.batch_size}: {len(config.normalizations)} normalizations × "
                f"{len(config.seeds)} seed(s), {config.epochs} epoch(s)"
            )
            start = time.perf_counter()
            history, stacks, dataset = train_config(config, dataset_name, device, progress)
            records.append(
                {
                    "dataset": dataset_name,
                    "batch_size": config.batch_size,
                    "config": asdict(config),
                    "curves": history.to_dict(),
                    "provenance": provenance(dataset, device, time.perf_counter() - start),
                }
            )
            if config.batch_size == max(c.batch_size for c in configs):
                models[dataset_name] = stacks
    return records, models


# ----------------------------------------------------------------------------- selection and the resumable run


def select(
    device="cpu", epochs=2, train_subset=6000, grid=LEARNING_RATE_GRID, results_dir=None, progress=True, overwrite=False
) -> dict:
    """Same rule as the MNIST chapter: lowest validation error per normalization, one seed, Fashion-MNIST, batch 128."""
    path = Path(results_dir or runs.results_dir()) / "conv_lr_b128.json"
    selection_config = {
        "dataset": "fashion-mnist",
        "batch_size": 128,
        "epochs": epochs,
        "seed": 0,
        "grid": list(grid),
        "train_subset": train_subset,
    }
    runs.check_replaceable(path, selection_config, overwrite)
    dataset = load_dataset("fashion-mnist")
    split = make_split(dataset, train_subset=train_subset)
    stacks, rates = runs.grid_stacks(NORMALIZATIONS, grid, lambda name: CNNStack(name, [0]))
    start = time.perf_counter()
    history = train_lockstep(stacks, rates, split, 128, epochs, device=device, progress=progress)
    chosen = runs.choose_learning_rates(history.val_error, NORMALIZATIONS, grid)
    payload = {
        "kind": "learning-rate selection",
        "config": selection_config,
        "rule": f"lowest validation error after {epochs} epochs, seed 0, Fashion-MNIST, "
        f"first {train_subset} training images, batch 128",
        "grid": list(grid),
        "epochs": epochs,
        "train_subset": train_subset,
        "chosen": chosen,
        "curves": history.to_dict(),
        "provenance": provenance(dataset, device, time.perf_counter() - start),
    }
    save_results(path, payload, overwrite=True)
    return payload


def results_file(profile: str, results_dir: Path | None = None) -> Path:
    return Path(results_dir or runs.results_dir()) / f"conv_{profile}.json"


def saved_results(profile: str = "paper", results_dir: Path | None = None) -> dict | None:
    """The result file written by ``python -m lnutils.experiments conv run --profile <profile>``, if any,
    as the chapter reads it: one part per (dataset, batch size), its seeds together (:func:`seeds_merged`)."""
    saved = runs.read_results(f"conv_{profile}.json", results_dir)
    return seeds_merged(saved) if saved is not None else None


def part_name(dataset: str, config: ConvConfig, by_seed: bool) -> str:
    """A part's key in a result file: dataset and batch size, and its seed where the profile trains each
    seed as a part of its own (``by_seed``: the cpu profile)."""
    key = part_key(dataset, config.batch_size)
    return f"{key}, seed {config.seeds[0]}" if by_seed else key


def split_by_seed(configs: list[dict]) -> bool:
    """Does a profile (its configs, as saved) train each seed of a (dataset, batch size) as a part of its own?"""
    keys = [(dataset, config.get("batch_size")) for config in configs for dataset in config.get("datasets", [])]
    return len(keys) != len(set(keys))


def checkpoint_path(profile: str, dataset: str, config: ConvConfig, checkpoint_dir=None, by_seed=False) -> Path:
    seed = f"_s{config.seeds[0]}" if by_seed else ""
    name = f"conv_{profile}_{dataset}_b{config.batch_size}{seed}.pt"
    return Path(checkpoint_dir or runs.checkpoint_dir()) / name


def seeds_merged(result: dict) -> dict:
    """A result whose parts are single seeds (the cpu profile) read as one part per (dataset, batch
    size) with all its seeds: the shape :func:`verdicts` and the chapter read.  Such a part is finished
    when every seed the profile plans for it is; until then it is in progress, its seeds compared at the
    epoch all of them reached.  A result whose parts already hold all their seeds comes back as it is."""
    if not split_by_seed((result.get("config") or {}).get("parts", [])):
        return result
    planned: dict[tuple, dict] = {}
    for config in result["config"]["parts"]:
        for dataset in config["datasets"]:
            merged = planned.setdefault((dataset, config["batch_size"]), {**config, "datasets": [dataset], "seeds": []})
            merged["seeds"] = merged["seeds"] + list(config["seeds"])
    groups: dict[tuple, list] = {}
    for _, record, finished in result_parts(result):
        groups.setdefault((record["dataset"], record["batch_size"]), []).append((record, finished))
    finished, training = merged_seed_groups(planned, groups)
    merged_parts = {part_key(*key): record for key, record in finished.items()}
    in_progress = {part_key(*key): record for key, record in training.items()}
    merged = {
        **result,
        "config": {**result["config"], "parts": list(planned.values())},
        "parts": merged_parts,
        "complete": len(merged_parts) == len(planned),
    }
    merged.pop("in_progress", None)
    if in_progress:
        merged["in_progress"] = in_progress
    return merged


def profile_part(
    profile: str,
    config: ConvConfig,
    dataset_name: str,
    device="cpu",
    progress=True,
    checkpoint_dir=None,
    by_seed=False,
    commit=None,
    branch_from=None,
):
    """``train(seconds_left, save_progress)`` for one (dataset) part of a profile (:func:`lnutils.runs.
    run_parts`): it claims the part, trains it from its checkpoint (or, with none, from ``branch_from``'s
    kept constant phase) and returns its record, or None when the time ran out."""
    single = ConvConfig(**{**asdict(config), "datasets": [dataset_name]})
    checkpoint = checkpoint_path(profile, dataset_name, single, checkpoint_dir, by_seed)

    def record(history, dataset) -> dict:
        return {
            "dataset": dataset_name,
            "batch_size": single.batch_size,
            "config": asdict(single),
            "epochs_done": len(history.epoch_seconds),
            "curves": history.to_dict(),
            "convergence": convergence(history.to_dict(), **convergence_rule(asdict(single))),
            "provenance": provenance(dataset, device, sum(history.epoch_seconds), commit=commit),
        }

    def train(seconds_left, save_progress=None):
        with parts.claim(checkpoint):  # a second process on this profile takes another part
            return train_claimed(seconds_left, save_progress)

    def train_claimed(seconds_left, save_progress):
        say(
            f"{dataset_name}, batch {single.batch_size}: {len(single.normalizations)} normalizations × "
            f"{len(single.seeds)} seed(s), {single.epochs} epoch(s)"
        )

        def progress_saved(history, dataset):  # every epoch: the result file shows the part in progress
            if save_progress is not None:
                save_progress(record(history, dataset))

        history, _, dataset = train_config(
            single,
            dataset_name,
            device,
            progress,
            checkpoint=checkpoint,
            time_budget_seconds=seconds_left,
            on_epoch_end=progress_saved,
            branch_from=branch_from,
        )
        if parts.ran_out_of_time(history, single.epochs):
            return None
        return record(history, dataset)

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
    batch_sizes=None,
) -> dict:
    """Every (dataset, batch size) part of a profile, each resumable from its checkpoint
    (:func:`lnutils.parts.run_parts`: the result file keeps finished parts).  In a profile split by seed
    (the cpu profile) ``seeds`` trains only those seeds' parts (``--seeds 0 1`` in one process, ``--seeds
    2`` in another), though two processes started alike also share the parts (each part is claimed while
    it trains); elsewhere it makes a run of only those seeds.  ``batch_sizes`` trains only the parts of
    those batch sizes now (the file keeps the others)."""
    configs = profile_configs(profile, epochs=epochs)
    by_seed = split_by_seed([asdict(config) for config in configs])
    only = None
    if batch_sizes:
        if unknown := sorted(set(batch_sizes) - {c.batch_size for c in configs}):
            raise ValueError(
                f"the {profile} profile has no batch size {unknown}; it has {sorted({c.batch_size for c in configs})}"
            )
        only = [part_name(n, c, by_seed) for c in configs for n in c.datasets if c.batch_size in batch_sizes]
    if seeds and by_seed:  # train only these seeds' parts now (another process may train the others)
        chosen = [part_name(name, c, by_seed) for c in configs for name in c.datasets if c.seeds[0] in seeds]
        only = chosen if only is None else [name for name in only if name in chosen]
    elif seeds:  # a run of only these seeds of each part (another configuration); a part left with none is not run
        for config in configs:
            config.seeds = [seed for seed in config.seeds if seed in seeds]
        configs = [config for config in configs if config.seeds]
    commit = environment.git_commit()

    where = dict(device=device, progress=progress, checkpoint_dir=checkpoint_dir, by_seed=by_seed, commit=commit)
    trainers = {
        part_name(name, c, by_seed): profile_part(profile, c, name, **where) for c in configs for name in c.datasets
    }
    return parts.run_parts(
        results_file(profile, results_dir),
        {"profile": profile, "parts": [asdict(c) for c in configs]},
        trainers,
        overwrite=overwrite,
        time_budget_seconds=time_budget_seconds,
        kind="conv comparison",
        only=only,
        data=lambda: data_copies(n for c in configs for n in c.datasets),
    )


def saved_records(profile: str = "paper", results_dir: Path | None = None) -> list[dict]:
    """The finished parts of a saved run, in the profile's order ([] when there is none)."""
    saved = saved_results(profile, results_dir)
    return list(saved["parts"].values()) if saved else []


def data_copies(names) -> dict[str, str]:
    """{dataset: checksum} of the copies this machine loads: the parts of one result file are all trained
    on the same copy (:func:`lnutils.runs.refuse_mixed_data`)."""
    return runs.data_copy(*(load_dataset(name) for name in sorted(set(names))))


# ----------------------------------------------------------------------------- the chapter's run


def chapter_run(profile: str, device="cpu", progress=True, epochs=None, train_subset=None) -> tuple[dict, dict]:
    """The chapter's results for a profile, and the batch-128 networks per dataset for the probes.

    quick: trains live in minutes and writes no file (a check of the code: it ranks nothing).
    cpu and paper: :func:`run_profile`, which loads the saved result, resumes any unfinished part from
    its checkpoint and saves as it goes; the networks are rebuilt from the checkpoints where this
    machine has them (none in a fresh clone or in Colab: the probes then say so)."""
    if profile == "quick":
        configs = profile_configs(profile, epochs=epochs, train_subset=train_subset)
        records, models = run_grid(configs, device, progress)
        return live_result(records, profile), models
    if train_subset is not None:
        raise ValueError(f"train_subset applies to the quick profile only; the {profile} profile trains on all images")
    result = seeds_merged(run_profile(profile, device, progress, epochs=epochs))
    return result, trained_models(result, profile, device)


def trained_models(result: dict, profile: str, device="cpu") -> dict[str, CNNStack]:
    """The finished batch-128 parts' networks, loaded from their checkpoints (missing ones are skipped)."""
    models = {}
    for _, record, finished in result_parts(result):
        if not finished or record["batch_size"] != LARGE_BATCH:
            continue
        config = ConvConfig(**record["config"])
        if "seed_parts" not in record:  # one part holds every seed
            path = checkpoint_path(profile, record["dataset"], config)
            if path.exists():
                models[record["dataset"]] = train_config(config, record["dataset"], device, False, checkpoint=path)[1]
            continue
        per_seed = [ConvConfig(**{**record["config"], "seeds": [seed]}) for seed in config.seeds]
        paths = [checkpoint_path(profile, record["dataset"], single, by_seed=True) for single in per_seed]
        if not all(path.exists() for path in paths):
            continue
        stacks = {name: CNNStack(name, config.seeds) for name in config.normalizations}
        for k, (single, path) in enumerate(zip(per_seed, paths)):
            loaded = train_config(single, record["dataset"], device, False, checkpoint=path)[1]
            for name, stack in stacks.items():
                stack.networks[k].load_state_dict(loaded[name].networks[0].state_dict())
        models[record["dataset"]] = {name: stack.to(device) for name, stack in stacks.items()}
    return models


# ----------------------------------------------------------------------------- the live check


def retrace(result: dict, normalization: str = LAYER_NORM, seed: int = 0, device="cpu", progress=False) -> dict | None:
    """Train one network of the saved run's first batch-128 part again, for its first epoch, and
    compare its test error with the saved one: the check that this code still produces the saved
    numbers (a live quick run checks this; it ranks nothing).  None when no such part is saved."""
    found = [
        record
        for _, record, _ in result_parts(result)
        if record["batch_size"] == LARGE_BATCH and seed in record["config"]["seeds"]
    ]
    if not found:
        return None
    record = found[0]
    saved = record["config"]
    config = ConvConfig(**{**saved, **first_epoch_only(saved), "seeds": [seed], "normalizations": [normalization]})
    started = time.perf_counter()
    threads = runs.saved_cpu_threads(record, device)
    with environment.cpu_threads(threads):  # the saved run's own summation order
        history, _, dataset = train_config(config, record["dataset"], device, progress)
    saved = record["curves"]["test_error"][normalization][0][record["config"]["seeds"].index(seed)]
    data = ((runs.part_data(record) or (None, None))[1], dataset.provenance.checksum)
    live = history.test_error[normalization][0][0]
    comparison = retrace_comparison(live, saved, seed, time.perf_counter() - started, data)
    return {
        "dataset": record["dataset"],
        "batch_size": record["batch_size"],
        "normalization": normalization,
        "threads": threads,
    } | comparison
