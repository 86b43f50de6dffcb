"""Chapter 3's probe networks, kept: the border probe reads trained networks, not a quick run's.

:func:`keep_networks` trains one seed of the saved cpu run's batch-128 part again, as the saved run did
(its configuration, its CPU thread count), for the normalizations the probe reads
(:data:`lnutils.experiments.conv_probes.PROBED`), checks every epoch's test error against the saved
curve, and keeps the final weights in ``lnutils/results/networks/`` (:mod:`lnutils.kept_networks`).
It resumes from its checkpoint, so it can be run in pieces::

    python -m lnutils.experiments conv keep --seed 0 --dataset fashion-mnist

:func:`probe_networks` gives the chapter the kept networks where they exist, else this build's own.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from lnutils import environment, kept_networks, runs
from lnutils.cnn import SmallCNN
from lnutils.experiments.conv import LARGE_BATCH, ConvConfig, part_name, results_file, train_config
from lnutils.experiments.conv_probes import PROBED


def kept_networks_name(profile: str, dataset: str, seed: int) -> str:
    return f"conv_{profile}_{dataset}_b{LARGE_BATCH}_seed{seed}.npz"


def keep_networks(
    profile: str = "cpu",
    dataset: str = "fashion-mnist",
    seed: int = 0,
    normalizations=PROBED,
    device="cpu",
    progress=True,
    results_dir=None,
    checkpoint_dir=None,
) -> dict:
    """Train ``seed``'s networks of the saved ``profile`` run's batch-128 ``dataset`` part again, for
    ``normalizations``, check them against the saved curves and keep them.  Returns the kept file's record."""
    result = runs.read_results(results_file(profile).name, results_dir)
    saved_parts = (result or {}).get("parts", {})
    candidates = [name for name in saved_parts if name.startswith(f"{dataset}, batch {LARGE_BATCH}")]
    record = next(
        (saved_parts[name] for name in candidates if seed in saved_parts[name]["config"]["seeds"]),
        None,
    )
    if record is None:
        raise ValueError(
            f"no finished batch-{LARGE_BATCH} {dataset} part with seed {seed} in the saved {profile} result "
            f"(it has {sorted(saved_parts)}): nothing to train again"
        )
    saved = record["config"]
    unknown = [name for name in normalizations if name not in saved["normalizations"]]
    if unknown:
        raise ValueError(f"the saved part has no {unknown}; it has {saved['normalizations']}")
    config = ConvConfig(**{**saved, "seeds": [seed], "normalizations": list(normalizations)})
    tag = runs.config_tag(asdict(config))
    checkpoint = Path(checkpoint_dir or runs.checkpoint_dir()) / f"conv_keep_{profile}_{dataset}_{tag}.pt"
    threads = runs.saved_cpu_threads(record, device)
    with environment.cpu_threads(threads):  # the saved run's own computation
        history, stacks, data = train_config(config, dataset, device, progress, checkpoint=checkpoint)
    column = saved["seeds"].index(seed)
    agreement = kept_networks.agreement(history.test_error, record["curves"]["test_error"], column, normalizations)
    about = {
        "kind": "kept networks",
        "experiment": "conv",
        "profile": profile,
        "part": part_name(dataset, config, by_seed=len(saved["seeds"]) == 1),
        "dataset": dataset,
        "seed": seed,
        "config": asdict(config),
        "agreement_with_saved_run": agreement,
        "threads": threads,
        "provenance": runs.provenance(data, device, sum(history.epoch_seconds), commit=environment.git_commit()),
    }
    networks = {name: stacks[name].networks[0] for name in normalizations}
    path = kept_networks.path_of(kept_networks_name(profile, dataset, seed), results_dir)

    def kept_so_far():
        return load_kept_networks(profile, dataset, seed, results_dir=results_dir)

    kept = kept_networks.keep(path, networks, about, "normalizations", kept_so_far)
    if checkpoint.exists():
        checkpoint.unlink()  # the kept file holds what the checkpoint was for
    return kept


def load_kept_networks(
    profile: str = "cpu", dataset: str = "fashion-mnist", seed: int = 0, device="cpu", results_dir=None
) -> tuple[dict, dict | None]:
    """The networks :func:`keep_networks` kept ({normalization: SmallCNN} in eval mode, on ``device``) and
    their record; ({}, None) where none are kept."""

    def build(record: dict) -> dict:
        return {name: SmallCNN(name).to(device) for name in record["networks"]}

    return kept_networks.load_built(kept_networks_name(profile, dataset, seed), build, results_dir)


def probe_networks(
    live_stacks: dict, profile: str = "cpu", dataset: str = "fashion-mnist", seed: int = 0, names=PROBED
) -> tuple[dict, dict]:
    """The networks the border probe reads ({normalization: SmallCNN}): the kept networks of the saved run's
    seed (:func:`keep_networks`, trained to the end) where they cover ``names``, else the first network
    of this build's stacks (``live_stacks``); and what they are, for the page to say."""
    kept, record = load_kept_networks(profile, dataset, seed)
    wanted = [name for name in names if name in live_stacks] or list(names)
    if kept and set(wanted) <= set(kept):
        agreement = record["agreement_with_saved_run"]
        about = {"source": "kept", "profile": profile, "seed": seed, "epochs": record["config"]["epochs"]}
        about |= {
            "test_error": {name: agreement[name]["final_test_error"] for name in wanted},
            "saved_test_error": {name: agreement[name]["saved_final_test_error"] for name in wanted},
        }
        return {name: kept[name] for name in wanted}, about
    live = {name: live_stacks[name].networks[0] for name in wanted if name in live_stacks}
    return live, {"source": "this build", "seed": 0}
