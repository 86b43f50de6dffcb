"""The adding problem (Hochreiter & Schmidhuber 1997): chapter 4's question beyond the training length.

Each sequence holds random values in [0, 1] and two markers; the target is the sum of the two marked
values.  Every cell trains at one length and is tested at longer ones: the BN-LSTM keeps statistics
for the steps it trained on only, layer norm keeps none.  Predicting the mean scores
:data:`PREDICT_MEAN_MSE`, the number each cell's test MSE is read against.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lnutils import runs
from lnutils.progress import progress_bar, say
from lnutils.rnn import SequenceModel
from lnutils.runs import provenance

PROFILES = ("quick", "cpu", "paper")
PREDICT_MEAN_MSE = 1 / 6  # the adding problem: always predicting the targets' mean, 1, gives this MSE
# The adding problem's convergence check: the training MSE averaged over the last tenth of the steps moved
# by less than 1 % of PREDICT_MEAN_MSE from its average over the tenth before (every seed).
ADDING_WINDOW_FRACTION = 0.1
ADDING_CONVERGED_FRACTION = 0.01


def adding_problem(batch_size: int, length: int, generator: torch.Generator, device="cpu") -> tuple[Tensor, Tensor]:
    """Sequences (length, batch, 2): a random value in [0, 1] and a marker; two markers per
    sequence, one in each half.  The target is the sum of the two marked values.  Always
    predicting 1 gives a mean squared error of 1/6 ≈ 0.167.

    Drawn on the CPU from ``generator`` (the same numbers on every device), then moved
    to ``device``."""
    values = torch.rand(length, batch_size, generator=generator, device="cpu")
    markers = torch.zeros(length, batch_size, device="cpu")
    half = length // 2
    first = torch.randint(0, half, (batch_size,), generator=generator, device="cpu")
    second = torch.randint(half, length, (batch_size,), generator=generator, device="cpu")
    columns = torch.arange(batch_size, device="cpu")
    markers[first, columns] = 1.0
    markers[second, columns] = 1.0
    targets = values[first, columns] + values[second, columns]
    return torch.stack([values, markers], dim=-1).to(device), targets.to(device)


def train_adding(
    cell_names=("LSTM", "LN-LSTM", "BN-LSTM"),
    length: int = 30,
    steps: int = 1500,
    batch_size: int = 64,
    hidden_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    test_lengths=(30, 60, 120),
    progress=True,
    device="cpu",
) -> dict:
    """Train each cell on the adding problem at ``length``; test MSE at each of ``test_lengths``.

    The BN-LSTM has T_max = ``length``: beyond it, it reuses the statistics of the last trained step.
    The losses stay on ``device`` during training and come back once at the end.
    """
    device = torch.device(device)
    results = {}
    for name in cell_names:
        with torch.random.fork_rng(devices=[]), torch.device("cpu"):  # the same initial weights on every device
            torch.manual_seed(seed)
            model = SequenceModel(name, 2, hidden_size, 1, max_steps=length)
        model.to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
        generator = torch.Generator().manual_seed(seed)
        losses = torch.zeros(steps, device=device)
        for step in progress_bar(range(steps), progress, desc=f"adding problem, {name}"):
            inputs, targets = adding_problem(batch_size, length, generator, device)
            loss = F.mse_loss(model(inputs).squeeze(-1), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses[step] = loss.detach()
        model.eval()
        test_generator = torch.Generator().manual_seed(10_000 + seed)
        with torch.no_grad():
            test, spread = {}, {}
            for test_length in test_lengths:
                inputs, targets = adding_problem(1000, test_length, test_generator, device)
                predictions = model(inputs).squeeze(-1)
                test[test_length] = F.mse_loss(predictions, targets).item()
                spread[test_length] = predictions.std().item()  # ~0: one output whatever the sequence
        results[name] = {"train_loss": losses.cpu().tolist(), "test_mse": test, "prediction_std": spread}
    return results


def adding_settings(profile: str, steps: int | None = None) -> dict:
    """quick: length 30, 400 steps of batch 64 (a check of the code: too few to learn the task); cpu:
    length 50, 5,000 steps (minutes a seed on one core: the result records it); paper: length 50, 10,000
    steps (``steps`` overrides)."""
    settings = {
        "quick": dict(length=30, steps=400, test_lengths=(30, 60, 120)),
        "cpu": dict(length=50, steps=5000, test_lengths=(50, 100, 200)),
        "paper": dict(length=50, steps=10000, test_lengths=(50, 100, 200)),
    }
    if profile not in settings:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    return dict(settings[profile], steps=steps or settings[profile]["steps"])


def adding_convergence(
    by_seed: dict, window_fraction: float = ADDING_WINDOW_FRACTION, moved_fraction: float = ADDING_CONVERGED_FRACTION
) -> dict:
    """Per cell: did every seed's training MSE, averaged over the last ``window_fraction`` of the steps,
    move by less than ``moved_fraction`` × :data:`PREDICT_MEAN_MSE` from the window before it?  Recorded
    with the numbers it used (the largest move over seeds)."""
    result = {}
    for cell in next(iter(by_seed.values())):
        moves = []
        for results in by_seed.values():
            losses = np.asarray(results[cell]["train_loss"], dtype=float)
            window = max(1, int(len(losses) * window_fraction))
            last, before = losses[-window:], losses[-2 * window : -window]
            moves.append(abs(float(last.mean() - before.mean())) if len(before) else float("inf"))
        threshold = moved_fraction * PREDICT_MEAN_MSE
        result[cell] = {
            "converged": bool(max(moves) < threshold),
            "moved_mse": max(moves),
            "threshold_mse": threshold,
            "window_steps": window,
        }
    return result


def adding_part_convergence(part: dict) -> dict:
    """An adding-problem part's convergence check: as it recorded it, or (a saved run from before the
    check was recorded) the same rule applied to its saved training curves."""
    return part.get("convergence") or adding_convergence(part["results_by_seed"])


def adding_results(part: dict) -> dict:
    """An adding-problem part's results per cell, the mean over its seeds where it has several:
    training loss curve, test MSE and output spread per length, and the per-seed test MSEs."""
    by_seed = part.get("results_by_seed") or {"0": part["results"]}
    cells = next(iter(by_seed.values()))
    merged = {}
    for cell in cells:
        per_seed = [results[cell] for results in by_seed.values()]
        lengths = list(per_seed[0]["test_mse"])
        merged[cell] = {
            "train_loss": np.mean([r["train_loss"] for r in per_seed], axis=0).tolist(),
            "test_mse": {n: float(np.mean([r["test_mse"][n] for r in per_seed])) for n in lengths},
            "test_mse_by_seed": {n: [r["test_mse"][n] for r in per_seed] for n in lengths},
            "seeds": len(per_seed),
        }
        if all("prediction_std" in r for r in per_seed):  # the smallest spread of any seed's outputs
            merged[cell]["prediction_std"] = {
                n: float(np.min([r["prediction_std"][n] for r in per_seed])) for n in lengths
            }
    return merged


def train_adding_by_seed(
    settings: dict, seeds, folder: Path, stem: str, seconds_left, progress, device, commit, train=train_adding
) -> dict | None:
    """The adding-problem part of a profile: ``train(**settings, seed=...)`` (:func:`train_adding`) for one
    seed after another.  Each finished seed is kept in ``folder`` (``<stem>_adding_<tag>_seed<n>.json``), so
    a time budget (checked between seeds) or an interruption loses at most the seed in training; None when
    the budget ran out, else the part's record."""
    start = time.perf_counter()
    tag = runs.config_tag({"adding": settings, "seeds": list(seeds)})
    by_seed = {}
    for seed in seeds:
        kept = folder / f"{stem}_adding_{tag}_seed{seed}.json"
        if (found := runs.read_json(kept)) is not None:
            by_seed[str(seed)] = found["result"]
            continue
        if seconds_left is not None and time.perf_counter() - start >= seconds_left:
            say(f"adding problem: time budget spent before seed {seed}; run again to resume")
            return None
        result = json.loads(json.dumps(train(**settings, seed=seed, progress=progress, device=device)))
        folder.mkdir(parents=True, exist_ok=True)
        runs.write_json(kept, {"config": {"seed": seed}, "result": result})
        by_seed[str(seed)] = result
    for seed in seeds:
        (folder / f"{stem}_adding_{tag}_seed{seed}.json").unlink(missing_ok=True)
    return {
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
        "seeds": list(seeds),
        "results_by_seed": by_seed,
        "convergence": adding_convergence(by_seed),
        "provenance": provenance(None, device, time.perf_counter() - start, commit=commit),
    }
