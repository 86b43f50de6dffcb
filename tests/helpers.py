"""Small builders several test modules share: tiny networks, splits, datasets and profiles."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch

from lnutils.data import Dataset, FileRecord, Provenance
from lnutils.experiments import conv
from lnutils.experiments import mnist as experiment
from lnutils.mlp import METHODS, MLPStack
from lnutils.train import Split

SIZES = (12, 16, 16, 10)


def small_split(n=64) -> Split:
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(n + 40, SIZES[0], generator=generator)
    y = torch.randint(0, 10, (n + 40,), generator=generator)
    return Split(x[:n], y[:n], x[n : n + 20], y[n : n + 20], x[n + 20 :], y[n + 20 :])


def small_stacks(seeds=(0,)):
    return {method: MLPStack(method, list(seeds), sizes=SIZES) for method in METHODS}


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def tiny_profile_split_by_seed(monkeypatch):
    """The conv cpu profile made tiny: two normalizations, seeds 0 and 1 each a part of its own, 2 epochs
    on :func:`tiny_dataset`; returns (normalizations, rates, the profile's configs function)."""

    names = ["none", "layer norm (C,H,W)"]
    rates = {name: 1e-3 for name in names}

    def split(epochs=None, train_subset=None):
        return [conv.ConvConfig(["fashion-mnist"], 128, epochs or 2, [seed], rates, names, 256, 128) for seed in (0, 1)]

    monkeypatch.setattr(conv, "cpu_profile_configs", split)
    monkeypatch.setattr(conv, "load_dataset", lambda name: tiny_dataset())
    return names, rates, split


RATES = {m: 1e-3 for m in METHODS}


def tiny_dataset(n_train=5100, n_test=50) -> Dataset:
    rng = np.random.default_rng(0)
    record = FileRecord("train_images", "/tmp/x", "0" * 64, "0" * 32, "0" * 32)
    return Dataset(
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test),
        Provenance("mnist", [record]),
    )


def tiny_profile(monkeypatch, batch_sizes=(50,), epochs=2, seeds=(0,), rates=None):
    """The paper profile made tiny: the given batch sizes, epochs and seeds on :func:`tiny_dataset`;
    ``rates``: {batch size: learning rates} where they are not :data:`RATES`."""

    def configs(profile, epochs=None, seeds=None, planned=(epochs, seeds)):
        epochs, seeds = epochs or planned[0], list(seeds or planned[1])
        return {
            experiment.part_name(b): experiment.RunConfig(
                batch_size=b, epochs=epochs, seeds=seeds, learning_rates=(rates or {}).get(b, RATES)
            )
            for b in batch_sizes
        }

    monkeypatch.setattr(experiment, "profile_configs", configs)
    monkeypatch.setattr(experiment, "load_mnist", lambda: tiny_dataset())
