"""Why the BN-LSTM fails on row-by-row MNIST: one trained network read in several ways.

A BN-LSTM (Cooijmans et al. 2016) normalizes each summed input with the statistics of its time
step: in training the batch's own mean and variance, at test time population statistics, the
running averages kept per step while training (Ioffe & Szegedy 2015, Alg. 2).  The saved runs
show a BN-LSTM whose test error swings from epoch to epoch.  This module reads the kept network
(:func:`lnutils.experiments.rnn.keep_networks`, seed 0 of the saved cpu run) with

* population statistics (what a test uses) and the batch's own statistics, on the test set and
  on training images (the training NLL the eval-mode curve reports, and the one training saw);
* batch statistics for the first k steps only, and for all but the first k steps: which steps
  carry the gap;
* per step and per normalization, how far the population statistics sit from the batches'
  (the batch mean's shift and the scale ratio, both in population standard deviations);
* the remedies that need no training: population statistics recomputed with the final weights
  (:func:`lnutils.experiments.rnn.recomputed_population_statistics`) and a larger ε at test time.

Command line: ``python -m lnutils.experiments rnn bn-study`` (a few minutes on one core).

The remedies that need training (:func:`run_remedies`): the same BN-LSTM trained again with a larger ε in
every per-step batch norm (``python -m lnutils.experiments rnn bn-remedies``: 20 epochs of 3 minutes on one
core, resumable from its checkpoint).
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lnutils import environment, runs
from lnutils.data import load_mnist
from lnutils.experiments import rnn
from lnutils.progress import say
from lnutils.rnn import REMEDY_CELLS, SequenceBatchNorm, SequenceModel
from lnutils.runs import provenance
from lnutils.train import make_split

STUDY_FILE = "rnn_bn_lstm_study.json"
SWAP_STEPS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 14, 20, 28)  # k: the first k of the 28 steps
TEST_EPSILONS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
TRAINING_IMAGES = 10000  # the first 10,000 training images: the training NLL read both ways
NORM_NAMES = ("norm_hh", "norm_ih", "norm_cell")  # W_hh h, W_ih x and c_t (Cooijmans et al. 2016, Eqs. 6-7)


def batch_norms(model: SequenceModel) -> dict[str, SequenceBatchNorm]:
    """The BN-LSTM's three per-step batch norms by name."""
    found = {name: getattr(model.cell, name, None) for name in NORM_NAMES}
    if not all(isinstance(module, SequenceBatchNorm) for module in found.values()):
        raise ValueError(f"a BN-LSTM is needed (a cell with {NORM_NAMES}), got {model.cell_name}")
    return found


def read(
    model: SequenceModel,
    sequences: Tensor,
    labels: Tensor,
    batch_steps=(),
    batch_size: int = 64,
    eps: float | None = None,
) -> dict:
    """Test error (%) and NLL of ``model`` on ``sequences`` (time first) read in batches of ``batch_size``:
    the steps in ``batch_steps`` normalize with the batch's own statistics, the others with the population
    statistics.  ``eps`` replaces ε in every normalization.  On a copy whose running averages stay as
    they are (momentum 0)."""
    probe = copy.deepcopy(model).eval()
    modules = list(batch_norms(probe).values())
    for module in modules:
        module.momentum = 0.0  # new = (1 − 0)·old + 0·batch: a batch-statistics step leaves them unchanged
        module.eps = module.eps if eps is None else eps
    batch_steps = set(batch_steps)
    wrong, nll = 0, 0.0
    with torch.no_grad():
        for start in range(0, sequences.shape[1], batch_size):
            chunk, target = sequences[:, start : start + batch_size], labels[start : start + batch_size]
            state = None
            for step, inputs in enumerate(chunk):
                for module in modules:
                    module.train(step in batch_steps)
                state = probe.cell(inputs, state, step)
            logits = probe.readout(state[0])
            wrong += int((logits.argmax(1) != target).sum())
            nll += float(F.cross_entropy(logits, target, reduction="sum"))
    count = sequences.shape[1]
    return {"error": 100 * wrong / count, "nll": nll / count}


def statistics_by_step(model: SequenceModel, sequences: Tensor, batch_size: int = 64) -> dict:
    """For each normalization and step t: how far the population statistics sit from the batches' own,
    measured with the batches' statistics in use (as in training) over ``sequences``:

    * ``population_variance``: the running variance of step t, mean over units;
    * ``batch_variance``: each batch's variance, mean over units, then over batches;
    * ``mean_shift``: |μ_B − μ_pop| / √(σ²_pop + ε), mean over units and batches: how far a test-time
      input moves in the normalized units the next layer sees;
    * ``scale_ratio``: √(σ²_B + ε) / √(σ²_pop + ε), the median over units and batches (1: the same scale);
    * ``degenerate_share``: the share of (batch, unit) pairs whose batch variance is below ε (every
      sequence of the batch gives that unit the same value, e.g. a row of blank pixels)."""
    probe = copy.deepcopy(model).train()
    modules = batch_norms(probe)
    collected = {name: {"mean": [[] for _ in range(model.cell.norm_hh.max_steps)]} for name in modules}
    for name, module in modules.items():
        module.momentum = 0.0
        collected[name]["var"] = [[] for _ in range(module.max_steps)]

        def hook(module, args, output, name=name):
            values, step = args
            collected[name]["mean"][step].append(values.mean(0))
            collected[name]["var"][step].append(values.var(0, unbiased=False))  # mean of squared deviations

        module.register_forward_hook(hook)
    with torch.no_grad():
        for start in range(0, sequences.shape[1], batch_size):
            probe(sequences[:, start : start + batch_size])
    by_norm = {}
    for name, module in modules.items():
        rows = {key: [] for key in ("population_variance", "batch_variance", "mean_shift", "scale_ratio")}
        rows["degenerate_share"] = []
        for step in range(len(collected[name]["var"])):
            if not collected[name]["var"][step]:
                continue
            means, variances = torch.stack(collected[name]["mean"][step]), torch.stack(collected[name]["var"][step])
            population_mean, population_variance = module.running_mean[step], module.running_var[step]
            population_scale = torch.sqrt(population_variance + module.eps)
            rows["population_variance"].append(float(population_variance.mean()))
            rows["batch_variance"].append(float(variances.mean()))
            rows["mean_shift"].append(float(((means - population_mean).abs() / population_scale).mean()))
            rows["scale_ratio"].append(float((torch.sqrt(variances + module.eps) / population_scale).median()))
            rows["degenerate_share"].append(float((variances < module.eps).float().mean()))
        by_norm[name] = rows
    return by_norm


def study(model: SequenceModel, split, batch_size: int = 64, progress: bool = True) -> dict:
    """Every reading of one trained BN-LSTM (see the module's docstring)."""
    as_sequences = rnn.RNNStack.as_sequences
    test_x, test_y = as_sequences(split.test_x), split.test_y
    train_x, train_y = as_sequences(split.train_x[:TRAINING_IMAGES]), split.train_y[:TRAINING_IMAGES]
    steps = test_x.shape[0]
    every_step = range(steps)
    started = time.perf_counter()

    def note(what):
        if progress:
            say(f"  {what} ({time.perf_counter() - started:.0f} s)")

    readings = {
        "test, population statistics": read(model, test_x, test_y, (), batch_size),
        "test, batch statistics": read(model, test_x, test_y, every_step, batch_size),
        "training images, population statistics": read(model, train_x, train_y, (), batch_size),
        "training images, batch statistics": read(model, train_x, train_y, every_step, batch_size),
    }
    note("population and batch statistics read")
    all_training = as_sequences(split.train_x)
    batches = [all_training[:, start : start + batch_size] for start in range(0, all_training.shape[1], batch_size)]
    recomputed = rnn.recomputed_population_statistics(model, batches)
    readings["test, population statistics recomputed with the final weights"] = read(
        recomputed, test_x, test_y, (), batch_size
    )
    note("statistics recomputed")
    first_k = {k: read(model, test_x, test_y, range(k), batch_size)["error"] for k in SWAP_STEPS}
    all_but_first_k = {k: read(model, test_x, test_y, range(k, steps), batch_size)["error"] for k in SWAP_STEPS}
    note("steps swapped")
    test_eps = {eps: read(model, test_x, test_y, (), batch_size, eps=eps)["error"] for eps in TEST_EPSILONS}
    note("ε varied")
    return {
        "readings": readings,
        "batch_statistics_for_the_first_k_steps": {str(k): v for k, v in first_k.items()},
        "batch_statistics_for_all_but_the_first_k_steps": {str(k): v for k, v in all_but_first_k.items()},
        "population_reading_by_test_eps": {f"{eps:g}": v for eps, v in test_eps.items()},
        "trained_eps": batch_norms(model)["norm_hh"].eps,
        "statistics_by_step": statistics_by_step(model, train_x, batch_size),
        "batch_size": batch_size,
        "test_images": int(test_x.shape[1]),
        "training_images": int(train_x.shape[1]),
    }


def run_study(profile: str = "cpu", seed: int = 0, results_dir=None, progress=True, overwrite=False) -> dict:
    """:func:`study` of the kept BN-LSTM of ``profile``'s seed ``seed``, saved as :data:`STUDY_FILE`."""
    networks, kept = rnn.load_kept_networks(profile, seed, results_dir=results_dir)
    if "BN-LSTM" not in networks:
        raise ValueError(
            f"no kept BN-LSTM for the {profile} profile, seed {seed}: run `python -m lnutils.experiments rnn keep "
            f"--profile {profile} --seed {seed}` first"
        )
    started = time.perf_counter()
    dataset = load_mnist()
    config = kept["config"]
    split = make_split(dataset, config["validation"], config["train_subset"])
    with environment.cpu_threads(1):
        found = study(networks["BN-LSTM"], split, config["batch_size"], progress)
    payload = {
        "kind": "bn-lstm study",
        "config": {"profile": profile, "seed": seed, "kept_networks": kept["file"], "sha256": kept["sha256"]},
        "kept_network_agreement": kept["agreement_with_saved_run"]["BN-LSTM"],
        **found,
        "provenance": provenance(dataset, "cpu", time.perf_counter() - started, commit=environment.git_commit()),
    }
    path = Path(results_dir or runs.results_dir()) / STUDY_FILE
    runs.save_results(path, payload, overwrite=overwrite)
    return payload


def saved_study(results_dir=None) -> dict | None:
    return runs.read_results(STUDY_FILE, results_dir)


GAP_MARGIN_POINTS = 0.2  # "closes the gap": within a fifth of a point of the batch-statistics reading
MOST_OF_THE_GAP = 0.8  # the fewest first steps whose batch statistics close this share of the gap


def summary_numbers(found: dict) -> dict:
    """The numbers the chapter's sentence is computed from: the three test readings, and the fewest first
    steps k whose batch statistics alone close at least :data:`MOST_OF_THE_GAP` of the gap between the
    population and the batch readings (with the share they close)."""
    readings = found["readings"]
    population = readings["test, population statistics"]["error"]
    batch = readings["test, batch statistics"]["error"]
    gap = population - batch
    first_k = {int(k): error for k, error in found["batch_statistics_for_the_first_k_steps"].items()}
    closed = {k: (population - error) / gap if gap > 0 else 1.0 for k, error in first_k.items()}
    k = min((k for k, share in closed.items() if share >= MOST_OF_THE_GAP), default=max(first_k))
    recomputed = readings["test, population statistics recomputed with the final weights"]["error"]
    best_k = min(first_k, key=first_k.get)
    hh = found["statistics_by_step"]["norm_hh"]
    narrow = min(range(1, len(hh["scale_ratio"])), key=lambda t: hh["scale_ratio"][t])  # h_0 = 0: step 0 is exact
    eps_errors = {float(eps): error for eps, error in found["population_reading_by_test_eps"].items()}
    best_eps = min(eps_errors, key=eps_errors.get)
    return {
        "population": population,
        "batch": batch,
        "recomputed": recomputed,
        "recomputed_closes_the_gap": recomputed <= batch + GAP_MARGIN_POINTS,
        "first_k": k,
        "first_k_error": first_k[k],
        "share_closed_by_first_k": closed[k],
        "margin": GAP_MARGIN_POINTS,
        "best_first_k": best_k,
        "best_first_k_error": first_k[best_k],
        "narrowest_step": narrow,
        "narrowest_scale_ratio": hh["scale_ratio"][narrow],
        "narrowest_degenerate_share": hh["degenerate_share"][narrow],
        "best_test_eps": best_eps,
        "best_test_eps_error": eps_errors[best_eps],
        "trained_eps": found["trained_eps"],
        "largest_mean_shift_step": {
            name: int(np.argmax(rows["mean_shift"])) for name, rows in found["statistics_by_step"].items()
        },
    }


# ----------------------------------------------------------------------------- remedies that need training
#
# Registered on 2026-12-08, before the runs: each remedy trains the saved cpu profile's BN-LSTM of seed
# REMEDY_SEED again (its configuration, data order and thread count) with one thing changed (rnn.REMEDY_CELLS:
# a larger ε in every per-step batch norm), then reads its test error with population statistics and with
# each batch's own.  A remedy closes the gap when the two readings lie within GAP_MARGIN_POINTS.  One seed:
# the study describes; it answers none of the chapter's questions.

REMEDIES_FILE = "rnn_bn_remedies.json"
REMEDY_SEED = 0


def run_remedies(
    seed: int = REMEDY_SEED, device="cpu", progress=True, results_dir=None, checkpoint_dir=None, overwrite=False
) -> dict:
    """Train the BN-LSTMs of :data:`lnutils.rnn.REMEDY_CELLS` as seed ``seed`` of the saved cpu run trained
    its BN-LSTM, read each (:func:`read`) with population and with batch statistics, and save
    :data:`REMEDIES_FILE` beside the saved run's own BN-LSTM and LSTM final test errors for that seed."""
    result = runs.read_results(rnn.results_file("cpu").name, results_dir)
    name = rnn.part_name("batch 64", seed)
    record = (result or {}).get("parts", {}).get(name)
    if record is None:
        raise ValueError(f"no finished part {name!r} in the saved cpu result: nothing to train again")
    saved = record["config"]
    config = rnn.SequentialMNISTConfig(**{**saved, "seeds": [seed], "cells": list(REMEDY_CELLS)})
    done = saved_remedies(results_dir)
    if done is not None and done["config"] == asdict(config) and not overwrite:
        return done  # trained already: a second run would only repeat it
    tag = runs.config_tag(asdict(config))
    checkpoint = Path(checkpoint_dir or runs.checkpoint_dir()) / f"rnn_bn_remedies_seed{seed}_{tag}.pt"
    dataset = load_mnist()
    with environment.cpu_threads(runs.saved_cpu_threads(record, device)):  # the saved run's own computation
        _, stacks, trained = rnn.run_sequential_mnist(config, dataset, device, progress, checkpoint=checkpoint)
        split = make_split(dataset, config.validation, config.train_subset)
        test_x, test_y = rnn.RNNStack.as_sequences(split.test_x), split.test_y
        readings = {
            cell: {
                "population": read(stacks[cell].networks[0], test_x, test_y, (), config.batch_size)["error"],
                "batch": read(stacks[cell].networks[0], test_x, test_y, range(test_x.shape[0]), config.batch_size)[
                    "error"
                ],
            }
            for cell in config.cells
        }
    column = saved["seeds"].index(seed)
    payload = {
        "kind": "bn-lstm remedies",
        "config": asdict(config),
        "readings": readings,
        "curves": trained["curves"],
        "saved_final_test_error": {
            cell: 100 * record["curves"]["test_error"][cell][-1][column] for cell in ("BN-LSTM", "LSTM")
        },
        "provenance": trained["provenance"] | {"commit": environment.git_commit()},
    }
    runs.save_results(Path(results_dir or runs.results_dir()) / REMEDIES_FILE, payload, overwrite=overwrite)
    return payload


def saved_remedies(results_dir=None) -> dict | None:
    return runs.read_results(REMEDIES_FILE, results_dir)


def remedy_numbers(payload: dict) -> list[dict]:
    """Per remedy: its ε, the test error read with population and with batch statistics, the gap between
    them and whether it closes it (:data:`GAP_MARGIN_POINTS`), beside the saved run's BN-LSTM and LSTM."""
    out = []
    for cell, reading in payload["readings"].items():
        gap = reading["population"] - reading["batch"]
        out.append(
            {
                "cell": cell,
                "population": reading["population"],
                "batch": reading["batch"],
                "gap": gap,
                "closes_the_gap": gap <= GAP_MARGIN_POINTS,
                "saved_bn_lstm": payload["saved_final_test_error"]["BN-LSTM"],
                "saved_lstm": payload["saved_final_test_error"]["LSTM"],
            }
        )
    return out
