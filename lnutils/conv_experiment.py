"""Layer norm in convolutional networks: the comparison and the border-hypothesis probe.

Command line (the options of :mod:`lnutils.cli`)::

    python -m lnutils.conv_experiment select              # learning-rate grid, Fashion-MNIST, batch 128
    python -m lnutils.conv_experiment run --profile paper # the full grid, part by part, resumable

Training reuses :func:`lnutils.train.train_lockstep`: every normalization variant is
one "stack" of networks (one per seed), and all of them step together.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lnutils import environment, runs
from lnutils.cnn import NORMALIZATIONS, SmallCNN
from lnutils.data import load_dataset
from lnutils.runs import provenance, save_results
from lnutils.train import History, SeededStack, make_split, train_lockstep

RESULTS_DIR = runs.PACKAGE_RESULTS  # the book's saved runs (read-only when installed)

LEARNING_RATE_GRID = (3e-4, 1e-3, 3e-3)
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


class CNNStack(SeededStack):
    """K copies of :class:`SmallCNN` with one normalization, one per seed (:class:`lnutils.train.Stack`).

    Takes flattened images of shape (K, B, 784) (network k gets its own batch) and
    returns logits of shape (K, B, 10).
    """

    def __init__(self, normalization: str, seeds: list[int]):
        super().__init__(normalization, seeds, lambda: SmallCNN(normalization))
        self.normalization = normalization

    def prepare(self, batch: Tensor) -> Tensor:
        side = int(round(batch.shape[-1] ** 0.5))
        return batch.reshape(-1, 1, side, side)


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


def profile_configs(
    profile: str,
    learning_rates: dict[str, float] | None = None,
    epochs: int | None = None,
    train_subset: int | None = None,
) -> list[ConvConfig]:
    """quick: Fashion-MNIST only, one seed, 2 epochs of 4,000 training images at batch 128
    and 1 epoch of 1,000 at batch 4, a 2,000-image validation split (under 3 minutes on 2
    cores).  paper: MNIST and Fashion-MNIST, the full 55,000 images, 15 epochs, 3 seeds,
    batch 128, 4 and 2.  ``epochs`` and ``train_subset`` override the profile's values."""
    rates = learning_rates or selected_learning_rates()
    if profile == "quick":
        configs = [
            ConvConfig(["fashion-mnist"], 128, 2, [0], rates, train_subset=4000, validation=2000),
            ConvConfig(["fashion-mnist"], 4, 1, [0], rates, train_subset=1000, validation=2000),
        ]
    elif profile == "paper":
        configs = [ConvConfig(list(DATASETS), batch, 15, [0, 1, 2], rates) for batch in (128, 4, 2)]
    else:
        raise ValueError(f"unknown profile {profile!r}; choose 'quick' or 'paper'")
    for config in configs:
        config.epochs = epochs or config.epochs
        config.train_subset = train_subset or config.train_subset
    return configs


def load_selection(results_dir: Path | None = None) -> dict:
    """The learning-rate selection run's result (``conv_lr_b128.json``)."""
    selection = runs.read_results("conv_lr_b128.json", results_dir)
    if selection is None:
        raise FileNotFoundError(
            "no learning-rate selection conv_lr_b128.json; run `python -m lnutils.conv_experiment select`."
        )
    return selection


def selected_learning_rates(results_dir: Path | None = None) -> dict[str, float]:
    return {name: float(rate) for name, rate in load_selection(results_dir)["chosen"].items()}


def run_config(
    config: ConvConfig,
    dataset_name: str,
    device="cpu",
    progress=True,
    checkpoint=None,
    on_epoch_end=None,
    time_budget_seconds=None,
) -> tuple[History, dict[str, CNNStack], object]:
    dataset = load_dataset(dataset_name)
    split = make_split(dataset, config.validation, config.train_subset)
    stacks = {name: CNNStack(name, config.seeds) for name in config.normalizations}
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
        fingerprint_extra={"data": dataset.provenance.checksum},
        time_budget_seconds=time_budget_seconds,
    )
    return history, stacks, dataset


def run_grid(configs: list[ConvConfig], device="cpu", progress=True) -> tuple[list[dict], dict]:
    """Train every (config, dataset); returns result records and the batch-128 models per dataset for the probes."""
    records, models = [], {}
    for config in configs:
        for dataset_name in config.datasets:
            print(
                f"{dataset_name}, batch {config.batch_size}: {len(config.normalizations)} normalizations × "
                f"{len(config.seeds)} seed(s), {config.epochs} epoch(s)"
            )
            start = time.perf_counter()
            history, stacks, dataset = run_config(config, dataset_name, device, progress)
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


def results_markdown(records: list[dict]) -> str:
    """Final test error (%) per dataset, batch size and normalization, mean ± std over seeds."""
    columns = [(r["dataset"], r["batch_size"]) for r in records]
    header = "| normalization | " + " | ".join(f"{d}, batch {b}" for d, b in columns) + " |"
    lines = [header, "|---|" + "---|" * len(columns)]
    names = records[0]["curves"]["test_error"].keys()
    for name in names:
        cells = []
        for r in records:
            final = 100 * np.asarray(r["curves"]["test_error"][name])[-1]
            cells.append(f"{final.mean():.2f}" + (f" ± {final.std(ddof=1):.2f}" if len(final) > 1 else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def published_markdown() -> str:
    lines = ["| source | numbers (top-1 error %) |", "|---|---|"]
    for source, numbers in PUBLISHED.items():
        lines.append(f"| {source} | " + ", ".join(f"{k} {v}" for k, v in numbers.items()) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the border probe


def _on_device_of(network: torch.nn.Module, images: Tensor) -> Tensor:
    return images.to(next(network.parameters()).device)


@torch.no_grad()
def activity_maps(network: SmallCNN, images: Tensor) -> list[np.ndarray]:
    """Per block, the fraction of (image, channel) units that are active (ReLU input > 0) at each position."""
    network.eval()
    images = _on_device_of(network, images)
    return [(pre > 0).float().mean(dim=(0, 1)).cpu().numpy() for pre in network.pre_activations(images)]


def border_mask(height: int, width: int, ring: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[:ring, :], mask[-ring:, :], mask[:, :ring], mask[:, -ring:] = True, True, True, True
    return mask


@torch.no_grad()
def border_statistics(network: SmallCNN, images: Tensor) -> list[dict]:
    """Per block: activity rate at the border ring vs the centre, and how the conv outputs'
    statistics differ from position to position and from channel to channel.

    ``position spread``: std over positions of the per-position mean of the conv output,
    divided by its overall std (0 = every position alike).  ``channel scale ratio``:
    largest / smallest per-channel std of the conv output (1 = every channel alike).
    Both are measured on what the normalization layer receives.
    """
    network.eval()
    images = _on_device_of(network, images)
    rows = []
    for block, (pre, conv) in enumerate(zip(network.pre_activations(images), network.conv_outputs(images))):
        active = (pre > 0).float().mean(dim=(0, 1)).cpu().numpy()
        ring = max(1, pre.shape[-1] // 7)
        mask = border_mask(*active.shape, ring)
        per_position_mean = conv.mean(dim=(0, 1))
        per_channel_std = conv.transpose(0, 1).flatten(1).std(dim=1)
        rows.append(
            {
                "block": block + 1,
                "size": f"{pre.shape[-2]}×{pre.shape[-1]}",
                "active at border": float(active[mask].mean()),
                "active in centre": float(active[~mask].mean()),
                "position spread": float(per_position_mean.std() / conv.std()),
                "channel scale ratio": float(per_channel_std.max() / per_channel_std.min().clamp_min(1e-12)),
            }
        )
    return rows


def border_markdown(
    models: dict[str, CNNStack],
    images: Tensor,
    names=("none", "batch norm", "layer norm (C,H,W)", "layer norm (C)", "group norm (G=8)"),
) -> str:
    lines = [
        "| normalization | block | size | active at border | active in centre | position spread | channel scale "
        "ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        if name not in models:
            continue
        for row in border_statistics(models[name].networks[0], images):
            lines.append(
                f"| {name} | {row['block']} | {row['size']} | {100 * row['active at border']:.0f}% | "
                f"{100 * row['active in centre']:.0f}% | {row['position spread']:.2f} | "
                f"{row['channel scale ratio']:.1f} |"
            )
    return "\n".join(lines)


def plot_activity_maps(
    models: dict[str, CNNStack], images: Tensor, names=("none", "batch norm", "layer norm (C,H,W)", "layer norm (C)")
):
    """Rows: normalizations; columns: blocks; each map the fraction of active units per position."""
    import matplotlib.pyplot as plt

    names = [n for n in names if n in models]
    fig, axes = plt.subplots(len(names), 3, figsize=(8, 2.4 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        for block, active in enumerate(activity_maps(models[name].networks[0], images)):
            ax = axes[row, block]
            shown = ax.imshow(active, vmin=0, vmax=1, cmap="viridis")
            ax.set_xticks([]), ax.set_yticks([])
            ax.grid(False)
            if block == 0:
                ax.set_ylabel(name, fontsize=9)
            if row == 0:
                ax.set_title(f"block {block + 1}")
        fig.colorbar(shown, ax=axes[row].tolist(), label="fraction active", shrink=0.8)
    return fig


# ----------------------------------------------------------------------------- command line


def select(
    device="cpu", epochs=2, train_subset=6000, grid=LEARNING_RATE_GRID, results_dir=None, progress=True, overwrite=False
) -> dict:
    """Same rule as the MNIST chapter: lowest validation error per normalization, one seed, Fashion-MNIST, batch 128."""
    path = Path(results_dir or runs.results_dir()) / "conv_lr_b128.json"
    run_config = {
        "dataset": "fashion-mnist",
        "batch_size": 128,
        "epochs": epochs,
        "seed": 0,
        "grid": list(grid),
        "train_subset": train_subset,
    }
    runs.check_replaceable(path, run_config, overwrite)
    dataset = load_dataset("fashion-mnist")
    split = make_split(dataset, train_subset=train_subset)
    labels = [runs.grid_label(name, rate) for name in NORMALIZATIONS for rate in grid]
    stacks = {runs.grid_label(name, rate): CNNStack(name, [0]) for name in NORMALIZATIONS for rate in grid}
    rates = {runs.grid_label(name, rate): rate for name in NORMALIZATIONS for rate in grid}
    assert list(stacks) == labels
    start = time.perf_counter()
    history = train_lockstep(stacks, rates, split, 128, epochs, device=device, progress=progress)
    chosen = runs.choose_learning_rates(history.val_error, NORMALIZATIONS, grid)
    payload = {
        "kind": "learning-rate selection",
        "config": run_config,
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
    """The result file written by ``python -m lnutils.conv_experiment run --profile paper``, if any."""
    return runs.read_results(f"conv_{profile}.json", results_dir)


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
) -> dict:
    """Every (batch size, dataset) part of a profile, each resumable from its checkpoint.

    The result file holds one record per finished part and is written after each part;
    parts already in it are not trained again, and it is never replaced by one that
    holds fewer parts or another configuration (unless ``overwrite``).
    """
    configs = profile_configs(profile, epochs=epochs)
    for config in configs:
        config.seeds = list(seeds) if seeds else config.seeds
    path = results_file(profile, results_dir)
    profile_config = {"profile": profile, "parts": [asdict(c) for c in configs]}
    runs.check_replaceable(path, profile_config, overwrite)
    previous = None if overwrite else runs.read_json(path)
    records = list(previous["records"]) if previous else []
    commit = environment.git_commit()
    started = time.perf_counter()
    for config in configs:
        for dataset_name in config.datasets:
            if any(r["dataset"] == dataset_name and r["batch_size"] == config.batch_size for r in records):
                continue
            part = ConvConfig(**{**asdict(config), "datasets": [dataset_name]})
            print(
                f"{dataset_name}, batch {part.batch_size}: {len(part.normalizations)} normalizations × "
                f"{len(part.seeds)} seed(s), {part.epochs} epoch(s)"
            )
            checkpoint = (
                Path(checkpoint_dir or runs.checkpoint_dir()) / f"conv_{profile}_{dataset_name}_b{part.batch_size}.pt"
            )
            budget_left = runs.seconds_left(time_budget_seconds, started)
            history, _, dataset = run_config(
                part, dataset_name, device, progress, checkpoint=checkpoint, time_budget_seconds=budget_left
            )
            if runs.ran_out_of_time(history, part.epochs):
                return {"config": profile_config, "records": records}
            records.append(
                {
                    "dataset": dataset_name,
                    "batch_size": part.batch_size,
                    "config": asdict(part),
                    "curves": history.to_dict(),
                    "provenance": provenance(dataset, device, sum(history.epoch_seconds), commit=commit),
                }
            )
            save_results(
                path, {"kind": "conv comparison", "config": profile_config, "records": records}, overwrite=overwrite
            )
    return {"config": profile_config, "records": records}


def saved_markdown(saved: dict | None) -> str:
    if not saved or not saved.get("records"):
        return "No saved paper-profile results are in this build; the tables show the live quick run only."
    lines = [
        "| dataset | batch size | seeds | epochs | device | wall time | commit | data checksum |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in saved["records"]:
        p = r["provenance"]
        lines.append(
            f"| {r['dataset']} | {r['batch_size']} | {r['config']['seeds']} | {r['config']['epochs']} | "
            f"{p['device']} | {p['wall_seconds'] / 60:.0f} min | `{p['commit']}` | `{p['data']['checksum'][:12]}` |"
        )
    return "Saved paper-profile run:\n\n" + "\n".join(lines) + "\n\n" + results_markdown(saved["records"])


def border_verdict(models: dict[str, CNNStack], images: Tensor) -> str:
    """Plain sentences from the probe: does LN(C,H,W) show the border effect the paper guessed, or a channel effect?"""
    stats = {
        name: border_statistics(models[name].networks[0], images)
        for name in ("batch norm", "layer norm (C,H,W)", "layer norm (C)")
        if name in models
    }
    if "layer norm (C,H,W)" not in stats or "batch norm" not in stats:
        return "The probe needs the batch-norm and LN(C,H,W) networks."
    ln, bn = stats["layer norm (C,H,W)"], stats["batch norm"]
    sentences = []
    for block in range(len(ln)):
        ln_gap = ln[block]["active in centre"] - ln[block]["active at border"]
        bn_gap = bn[block]["active in centre"] - bn[block]["active at border"]
        sentences.append(
            f"Block {block + 1}: under LN(C,H,W) border units are active "
            f"{100 * ln[block]['active at border']:.0f}% of the time against "
            f"{100 * ln[block]['active in centre']:.0f}% in the centre (gap {100 * ln_gap:+.0f} points); under "
            f"batch norm the gap is {100 * bn_gap:+.0f} points."
        )
    larger_gap = sum(
        (l["active in centre"] - l["active at border"]) > (b["active in centre"] - b["active at border"])
        for l, b in zip(ln, bn)
    )
    channel = ln[0]["channel scale ratio"], bn[0]["channel scale ratio"]
    verdict = (
        f"In {larger_gap} of {len(ln)} blocks LN(C,H,W) has the larger centre-minus-border gap, "
        + (
            "which is what the border hypothesis predicts."
            if larger_gap > len(ln) / 2
            else "so this probe does not support the border hypothesis in this network."
        )
        + " The conv outputs entering LN(C,H,W) in block 1 differ in scale between channels by a factor "
        f"{channel[0]:.1f}"
        f" (those entering batch norm: {channel[1]:.1f}). LN(C,H,W) divides all channels of an image by one σ, so "
        + (
            "channels that much quieter than the rest come out small: a second mechanism, independent of the "
            "border, that can matter here."
            if channel[0] > 2
            else "with scales this similar, that second mechanism (quiet channels squashed by a shared σ) matters "
            "little here."
        )
    )
    return "\n\n".join(sentences + [verdict])


def main(argv=None) -> int:
    from lnutils.cli import add_common_arguments, resolve_common

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["select", "run"])
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    device = resolve_common(parser, args)
    environment.describe()
    if args.command == "select":
        print("chosen:", select(device, epochs=args.epochs or 2, overwrite=args.overwrite)["chosen"])
    else:
        result = run_profile(
            args.profile,
            device,
            epochs=args.epochs,
            seeds=args.seeds,
            overwrite=args.overwrite,
            time_budget_seconds=args.time_budget,
        )
        print(f"{len(result['records'])} part(s) done; results in {results_file(args.profile)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
