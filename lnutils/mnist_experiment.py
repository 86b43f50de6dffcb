"""Ba, Kiros & Hinton 2016, Section 6.6 / Figure 6: the MNIST experiment, end to end.

Command line (resumable: a checkpoint every epoch, see ``--checkpoint-dir``)::

    python -m lnutils.mnist_experiment select --batch-size 128                 # learning-rate grid
    python -m lnutils.mnist_experiment run --profile paper --batch-size 128    # the paper-scale run

Both write result files (JSON) that record the configuration, seeds, data provenance,
versions, commit, device and wall time; the chapter plots them when they exist.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from lnutils import environment, runs
from lnutils.data import load_mnist
from lnutils.mlp import METHODS, MLPStack
from lnutils.runs import provenance, save_results
from lnutils.train import History, make_split, train_lockstep

RESULTS_DIR = runs.PACKAGE_RESULTS  # the book's saved runs (read-only when installed)
LEARNING_RATE_GRID = (1e-4, 3e-4, 1e-3, 3e-3)

# Read off the paper's Figure 6 by eye (approximate), final test error in %.
PAPER_FIGURE_6 = {
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


def profile_config(
    profile: str, batch_size: int, learning_rates: dict[str, float] | None = None, **overrides
) -> RunConfig:
    """The run for a profile: 'quick' (under 3 minutes on 2 cores) or 'paper' (65 epochs, 3 seeds).

    Learning rates default to the ones selected on the validation split (see
    :func:`selected_learning_rates`).  The paper uses the unbiased variance for BN at
    batch size 4; we follow it for every batch size below 16.
    """
    settings = {
        # quick: the first epochs of the paper run at batch 128 (same seeds and rates, so the
        # live curves can be compared with the saved ones), and a short small-batch check
        ("quick", 128): dict(epochs=2, seeds=[0, 1]),
        ("quick", 4): dict(epochs=1, seeds=[0], train_subset=10000),
        ("paper", 128): dict(epochs=65, seeds=[0, 1, 2]),
        ("paper", 4): dict(epochs=65, seeds=[0, 1, 2]),
    }
    if (profile, batch_size) not in settings:
        raise ValueError(
            f"no {profile!r} profile for batch size {batch_size}; profiles: quick, paper; batch sizes: 128, 4"
        )
    chosen = dict(settings[(profile, batch_size)])
    chosen.update({k: v for k, v in overrides.items() if v is not None})
    rates = learning_rates or selected_learning_rates(batch_size)
    return RunConfig(batch_size=batch_size, learning_rates=rates, bn_unbiased=batch_size < 16, **chosen)


# ----------------------------------------------------------------------------- provenance


def results_path(kind: str, batch_size: int, results_dir: Path | None = None) -> Path:
    """Where a result is written: ``results_dir``, else :func:`lnutils.runs.results_dir`."""
    return Path(results_dir if results_dir is not None else runs.results_dir()) / f"mnist_{kind}_b{batch_size}.json"


def load_results(kind: str, batch_size: int, results_dir: Path | None = None) -> dict | None:
    """A saved result: from ``results_dir`` if given, else the results folder, else the book's copy."""
    return runs.read_results(f"mnist_{kind}_b{batch_size}.json", results_dir)


# ----------------------------------------------------------------------------- learning rate selection


FULL_LENGTH_EPOCHS = 65
SETTLE_EPOCHS = 5  # the full-length rule averages validation error over the last 5 epochs


def select_learning_rates_run(
    batch_size: int,
    epochs: int,
    seed: int = 0,
    grid=LEARNING_RATE_GRID,
    train_subset=None,
    device="cpu",
    progress=True,
    results_dir=None,
    checkpoint_dir=None,
    overwrite=False,
    full_length: bool = False,
    time_budget_seconds=None,
) -> dict:
    """Train each method at each grid learning rate (one seed) and choose by validation error.

    Short selection (``full_length=False``, written to ``mnist_lr_b<B>.json``): the lowest
    validation error at the last of a few epochs.  Full-length selection (``full_length=True``,
    ``mnist_lr_full_b<B>.json``): every method × rate trained as long as the paper run, and
    the lowest validation error averaged over the last 5 epochs (no early stopping).  The
    full-length file is written after every epoch (``complete`` says whether it finished)
    and resumes from its checkpoint.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if train_subset is not None and train_subset < batch_size:
        raise ValueError(
            f"train_subset={train_subset} holds less than one batch of {batch_size}; pass at least {batch_size} "
            "(or none: all 55,000)"
        )
    kind = "lr_full" if full_length else "lr"
    path = results_path(kind, batch_size, results_dir)
    run_config = {
        "batch_size": batch_size,
        "epochs": epochs,
        "seed": seed,
        "grid": list(grid),
        "train_subset": train_subset,
    }
    if full_length:
        run_config["rule"] = f"mean validation error of the last {SETTLE_EPOCHS} epochs"
    runs.check_replaceable(path, run_config, overwrite)
    dataset = load_mnist()
    split = make_split(dataset, train_subset=train_subset)
    stacks = {
        runs.grid_label(m, rate): MLPStack(m, [seed], bn_unbiased=batch_size < 16) for m in METHODS for rate in grid
    }
    rates = {runs.grid_label(m, rate): rate for m in METHODS for rate in grid}
    commit = environment.git_commit()
    checkpoint = (
        Path(checkpoint_dir or runs.checkpoint_dir())
        / f"mnist_{kind}_b{batch_size}_e{epochs}_s{seed}_n{train_subset}.pt"
    )

    def payload_for(history: History) -> dict:
        done = len(history.epoch_seconds)
        if full_length:
            settled = {
                label: float(np.mean(np.asarray(values)[-SETTLE_EPOCHS:, 0]))
                for label, values in history.val_error.items()
            }
            chosen = {m: min(grid, key=lambda rate: settled[runs.grid_label(m, rate)]) for m in METHODS}
            rule = (
                "lowest validation error (5,000 held-out training images) averaged over the last "
                f"{SETTLE_EPOCHS} of {epochs} epochs, seed {seed}; no early stopping"
            )
        else:
            chosen = runs.choose_learning_rates(history.val_error, METHODS, grid)
            rule = f"lowest validation error (5,000 held-out training images) after {epochs} epoch(s), seed {seed}"
        return {
            "kind": "learning-rate selection",
            "config": run_config,
            "rule": rule,
            "batch_size": batch_size,
            "epochs": epochs,
            "epochs_done": done,
            "complete": done == epochs,
            "grid": list(grid),
            "train_subset": train_subset,
            "chosen": chosen,
            "curves": history.to_dict(),
            "provenance": provenance(dataset, device, sum(history.epoch_seconds), commit=commit),
        }

    def save_partial(history: History) -> None:
        if full_length:
            save_results(path, payload_for(history), overwrite=overwrite)

    history = train_lockstep(
        stacks,
        rates,
        split,
        batch_size,
        epochs,
        checkpoint=checkpoint,
        progress=progress,
        device=device,
        fingerprint_extra={"data": dataset.provenance.checksum},
        on_epoch_end=save_partial,
        time_budget_seconds=time_budget_seconds,
    )
    payload = payload_for(history)
    save_results(path, payload, overwrite=overwrite or not full_length)
    return payload


def selected_learning_rates(batch_size: int, results_dir: Path | None = None) -> dict[str, float]:
    """The learning rates recorded by the selection run for this batch size."""
    recorded = load_results("lr", batch_size, results_dir)
    if recorded is None:
        raise FileNotFoundError(
            f"no learning-rate selection for batch size {batch_size} in {results_path('lr', batch_size, results_dir)}; "
            f"run `python -m lnutils.mnist_experiment select --batch-size {batch_size}` or pass learning_rates=..."
        )
    return {method: float(rate) for method, rate in recorded["chosen"].items()}


# ----------------------------------------------------------------------------- runs


def run(
    config: RunConfig,
    dataset=None,
    device="cpu",
    progress=True,
    checkpoint: Path | None = None,
    results_file: Path | None = None,
    time_budget_seconds=None,
    overwrite=False,
    trained: dict | None = None,
) -> tuple[History, dict]:
    """Train config.methods × config.seeds in lockstep; optionally resumable and saved.

    A results file is never replaced by a shorter run of the same configuration, nor by
    a run of another configuration unless ``overwrite`` (checked before training starts).
    ``trained``, a dict, receives the trained stacks by method (to inspect g and b).
    """
    if results_file is not None:
        runs.check_replaceable(Path(results_file), asdict(config), overwrite)
    dataset = dataset if dataset is not None else load_mnist()
    split = make_split(dataset, config.validation, config.train_subset)
    torch.manual_seed(config.seeds[0])
    stacks = {method: MLPStack(method, config.seeds, bn_unbiased=config.bn_unbiased) for method in config.methods}
    rates = {method: config.learning_rates[method] for method in config.methods}
    start_commit = environment.git_commit()
    if trained is not None:
        trained.update(stacks)

    def results_payload(history: History) -> dict:
        return {
            "kind": "figure 6 run",
            "config": asdict(config),
            "epochs_done": len(next(iter(history.train_nll.values()))),
            "complete": len(next(iter(history.train_nll.values()))) == config.epochs,
            "curves": history.to_dict(),
            # wall time of all epochs, including those of earlier, resumed sessions
            "provenance": provenance(dataset, torch.device(device), sum(history.epoch_seconds), commit=start_commit),
        }

    def save_partial(history: History) -> None:
        """Results on disk after every epoch; never replaces a longer run of the same config
        (a new session without the checkpoint restarts from epoch 0)."""
        if results_file is not None:
            save_results(results_file, results_payload(history), overwrite=overwrite)

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
        on_epoch_end=save_partial,
        fingerprint_extra={"data": dataset.provenance.checksum, "bn_unbiased": config.bn_unbiased},
    )
    payload = results_payload(history)
    save_partial(history)
    return history, payload


def run_paper(
    batch_size: int,
    device="cpu",
    progress=True,
    epochs=None,
    seeds=None,
    results_dir=None,
    checkpoint_dir=None,
    time_budget_seconds=None,
    overwrite=False,
    profile="paper",
) -> dict:
    """A profile's run (the paper-scale one by default), saved and resumable: run it again
    after an interruption and it continues from its checkpoint."""
    config = profile_config(profile, batch_size, epochs=epochs, seeds=seeds)
    checkpoint = (
        Path(checkpoint_dir or runs.checkpoint_dir())
        / f"mnist_{profile}_b{batch_size}_{'-'.join(map(str, config.seeds))}.pt"
    )
    _, payload = run(
        config,
        device=device,
        progress=progress,
        checkpoint=checkpoint,
        results_file=results_path(profile, batch_size, results_dir),
        time_budget_seconds=time_budget_seconds,
        overwrite=overwrite,
    )
    return payload


# ----------------------------------------------------------------------------- summaries


def curves_array(curves: dict, metric: str, method: str) -> np.ndarray:
    """(epochs, seeds) array of one metric for one method."""
    return np.asarray(curves[metric][method], dtype=float)


def _nll_cell(values: np.ndarray) -> str:
    """Training NLLs of several seeds span orders of magnitude: their geometric mean and range."""
    geometric = float(np.exp(np.log(np.maximum(values, 1e-300)).mean()))
    return f"{geometric:.1e} [{values.min():.0e}, {values.max():.0e}]" if len(values) > 1 else f"{geometric:.1e}"


def results_rows(curves: dict, batch_size: int) -> list[dict]:
    """Final and best test error (mean ± sample standard deviation over seeds, in %) per method."""
    rows = []
    for method in curves["test_error"]:
        test = 100 * curves_array(curves, "test_error", method)
        final, best = test[-1], test.min(axis=0)
        rows.append(
            {
                "method": method,
                "batch size": batch_size,
                "seeds": test.shape[1],
                "epochs": test.shape[0],
                "final test error %": f"{final.mean():.2f} ± {final.std(ddof=1):.2f}"
                if len(final) > 1
                else f"{final.mean():.2f}",
                "best test error %": f"{best.mean():.2f} ± {best.std(ddof=1):.2f}"
                if len(best) > 1
                else f"{best.mean():.2f}",
                "final train NLL (geometric mean [min, max])": _nll_cell(curves_array(curves, "train_nll", method)[-1]),
                "paper (Fig. 6, read off)": PAPER_FIGURE_6.get(batch_size, {}).get(method, "–"),
            }
        )
    return rows


# ----------------------------------------------------------------------------- the chapter's tables


def full_length_status() -> str:
    """Where the full-length selections stand, per batch size, for the ledger."""
    parts = []
    for batch_size in (128, 4):
        found = load_results("lr_full", batch_size)
        if found is None:
            parts.append(f"batch {batch_size} not run")
            continue
        chosen = ", ".join(f"{m} {r:g}" for m, r in found["chosen"].items())
        done = "complete" if found.get("complete") else f"partial, {found['epochs_done']} of {found['epochs']} epochs"
        parts.append(f"batch {batch_size} {done}, choosing {chosen}")
    return "; ".join(parts) + "."


def fidelity_ledger(configs: dict[int, RunConfig]) -> str:
    """Markdown: each detail of the setup, what the paper says, what we do, and why."""
    rates = {bs: ", ".join(f"{m} {c.learning_rates[m]:g}" for m in c.methods) for bs, c in configs.items()}
    selection = {bs: load_results("lr", bs) for bs in configs}

    def rule(bs):
        sel = selection[bs]
        if sel is None:
            return "no selection file"
        subset = f", first {sel['train_subset']:,} training images" if sel.get("train_subset") else ""
        return f"grid {sel['grid']}, {sel['epochs']} epoch(s), seed 0{subset}; lowest validation error"

    rows = [
        ("network", "784-1000-1000-10, fully connected", "the same", "stated"),
        (
            "where LN goes",
            "hidden layers, not the softmax layer",
            "the same: LN before the ReLU of both hidden layers",
            "stated",
        ),
        (
            "where BN goes",
            "all layers",
            "all three layers, the output layer included, before the nonlinearity",
            "stated",
        ),
        (
            "summed-input bias",
            "not stated",
            "none before a normalization (it would be removed by μ or mix into LN's statistics); b after it",
            "the paper's equations: a = Wx, then g, b",
        ),
        ("gains and biases", "start at 1 and 0", "the same", "stated"),
        ("nonlinearity", "not stated", "ReLU", "the common choice in 2016 for this network"),
        (
            "weight initialisation",
            "not stated",
            "PyTorch's nn.Linear default, U(−1/√fan_in, 1/√fan_in)",
            "what a reader's own code would get",
        ),
        (
            "training data",
            "55,000 images",
            "the training set minus its first 5,000 images (the validation split)",
            "TensorFlow's MNIST reader of the time split the same way",
        ),
        ("input scaling", "not stated", "pixels / 255, no mean subtraction", "simplest; permutation-invariant"),
        (
            "optimizer",
            "Adam",
            "Adam (β = 0.9, 0.999, ε = 1e-8), PyTorch's fused kernel",
            "PyTorch defaults; β and ε are not stated",
        ),
        ("learning rate (batch 128)", "not stated", rates.get(128, "–"), rule(128) if 128 in configs else "–"),
        ("learning rate (batch 4)", "not stated", rates.get(4, "–"), rule(4) if 4 in configs else "–"),
        (
            "learning-rate rule",
            "not stated",
            "first attempt (in use above): a few epochs per rate, lowest final validation error; "
            f"fair rule: every method × rate for 65 epochs, lowest mean validation error of the last 5 "
            f"(no early stopping), then 3 seeds at the chosen rates. Fair rule so far: {full_length_status()}",
            "a short horizon favours fast early progress; the fair rule gives every method the same full-length search",
        ),
        (
            "BN variance at batch 4",
            "unbiased estimator",
            "unbiased σ²·m/(m−1) when normalizing at batch < 16; running averages always unbiased",
            "stated",
        ),
        (
            "BN at test time",
            "not stated",
            "running averages, momentum 0.1 (PyTorch's default)",
            "the standard inference rule",
        ),
        (
            "epochs",
            "≈65 (figure's x-axis)",
            ", ".join(f"batch {bs}: {c.epochs}" for bs, c in configs.items()),
            "the profile's budget",
        ),
        (
            "seeds",
            "not stated (bands suggest several)",
            ", ".join(f"batch {bs}: {len(c.seeds)}" for bs, c in configs.items()),
            "the profile's budget",
        ),
        (
            "train NLL",
            "per epoch",
            "mean NLL over the whole training split (55,000 images unless a subset is asked for), eval mode, after "
            "each epoch",
            "comparable across batch sizes",
        ),
        (
            "data order",
            "not stated",
            "a fresh shuffle per epoch and per network; the last partial batch is dropped",
            "—",
        ),
    ]
    lines = ["| detail | paper says | we do | why |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def selection_table(batch_size: int) -> str:
    """Markdown: validation error at the end of the selection run, per method and learning rate."""
    sel = load_results("lr", batch_size)
    if sel is None:
        return f"No learning-rate selection recorded for batch size {batch_size}."
    lines = [
        "| method | " + " | ".join(f"lr {r:g}" for r in sel["grid"]) + " | chosen |",
        "|---|" + "---|" * (len(sel["grid"]) + 1),
    ]
    for method, chosen in sel["chosen"].items():
        cells = [f"{100 * sel['curves']['val_error'][f'{method}@{r:g}'][-1][0]:.2f}%" for r in sel["grid"]]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {chosen:g} |")
    p = sel["provenance"]
    return (
        "\n".join(lines)
        + f"\n\nValidation error after {sel['epochs']} epoch(s); run on {p['device']}, {p['wall_seconds']:.0f} s, "
        f"commit `{p['commit']}`."
    )


LAST_EPOCHS = 5  # a claim compares the mean of the last 5 epochs: one epoch's test error moves by ~0.1 points


def settled(curves: dict, metric: str, method: str, log: bool = False) -> np.ndarray:
    """One value per seed: the metric averaged over the last LAST_EPOCHS epochs, or over the last
    quarter of a shorter run (at least one epoch), of log10 for the NLL."""
    values = curves_array(curves, metric, method)
    values = values[-max(1, min(LAST_EPOCHS, len(values) // 4)) :]
    return (np.log10(np.maximum(values, 1e-300)) if log else values).mean(axis=0)


def is_lower(lower: np.ndarray, higher: np.ndarray) -> bool | None:
    """Is the first method's mean below the second's?  True or False when the difference of the means
    is larger than twice its standard error over seeds; None ("within seed noise") when it is not.
    With one seed on either side there is no noise estimate, and the sign decides."""
    difference = float(higher.mean() - lower.mean())
    if len(lower) < 2 or len(higher) < 2:
        return difference > 0
    standard_error = float(np.sqrt(lower.var(ddof=1) / len(lower) + higher.var(ddof=1) / len(higher)))
    if abs(difference) <= 2 * standard_error:
        return None
    return difference > 0


def at_epoch(curves: dict, metric: str, method: str, epoch: int, log: bool = False) -> np.ndarray:
    """One value per seed at ``epoch`` (1-based), of log10 for the NLL."""
    values = curves_array(curves, metric, method)[epoch - 1]
    return np.log10(np.maximum(values, 1e-300)) if log else values


def claims(curves_by_batch: dict[int, dict], notes: dict[int, str] | None = None) -> list[dict]:
    """The paper's qualitative claims for Figure 6, checked on our curves.

    Each compares per-seed means of the last LAST_EPOCHS epochs (training NLL: of log10, so
    one seed's 1e-3 does not outweigh another's 1e-6); ``holds`` is True, False, or None
    when the difference is within the seeds' noise (see :func:`is_lower`).  ``notes`` marks
    the claims of a batch size, e.g. {4: "partial run: 8 of 65 epochs"}."""

    def error_evidence(errors):
        return ", ".join(
            f"{m} {100 * e.mean():.2f}" + (f" ± {100 * e.std(ddof=1):.2f}%" if len(e) > 1 else "%")
            for m, e in errors.items()
        )

    def nll_evidence(nll):
        return "train NLL " + ", ".join(f"{m} {10 ** v.mean():.1e}" for m, v in nll.items())

    found = []
    c128 = curves_by_batch.get(128)
    if c128:
        nll = {m: settled(c128, "train_nll", m, log=True) for m in ("layer norm", "batch norm", "baseline")}
        found.append(
            {
                "batch": 128,
                "claim": "batch 128: LN reaches a lower training NLL than BN",
                "holds": is_lower(nll["layer norm"], nll["batch norm"]),
                "seeds": len(nll["layer norm"]),
                "evidence": nll_evidence(nll),
            }
        )
        quarter = max(1, len(curves_array(c128, "train_nll", "layer norm")) // 4)
        early = {m: at_epoch(c128, "train_nll", m, quarter, log=True) for m in ("layer norm", "batch norm")}
        found.append(
            {
                "batch": 128,
                "claim": f"batch 128: LN converges faster: lower training NLL than BN at epoch {quarter}",
                "holds": is_lower(early["layer norm"], early["batch norm"]),
                "seeds": len(early["layer norm"]),
                "evidence": nll_evidence(early) + f" at epoch {quarter}",
            }
        )
        errors = {m: settled(c128, "test_error", m) for m in ("layer norm", "batch norm", "baseline")}
        for short, method in (("LN", "layer norm"), ("BN", "batch norm")):
            found.append(
                {
                    "batch": 128,
                    "claim": f"batch 128: {short} beats the baseline on test error",
                    "seeds": len(errors[method]),
                    "holds": is_lower(errors[method], errors["baseline"]),
                    "evidence": error_evidence({m: errors[m] for m in (method, "baseline")}),
                }
            )
        found.append(
            {
                "batch": 128,
                "claim": "batch 128: LN beats BN on test error",
                "seeds": len(errors["layer norm"]),
                "holds": is_lower(errors["layer norm"], errors["batch norm"]),
                "evidence": error_evidence({m: errors[m] for m in ("layer norm", "batch norm")}),
            }
        )
    c4 = curves_by_batch.get(4)
    if c4:
        errors = {m: settled(c4, "test_error", m) for m in ("layer norm", "batch norm", "baseline")}
        found.append(
            {
                "batch": 4,
                "claim": "batch 4: LN beats BN on test error",
                "holds": is_lower(errors["layer norm"], errors["batch norm"]),
                "seeds": len(errors["layer norm"]),
                "evidence": error_evidence(errors),
            }
        )
        found.append(
            {
                "batch": 4,
                "claim": "batch 4: BN is worse than no normalization",
                "holds": is_lower(errors["baseline"], errors["batch norm"]),
                "seeds": len(errors["layer norm"]),
                "evidence": error_evidence({m: errors[m] for m in ("batch norm", "baseline")}),
            }
        )
    if c128 and c4:
        small, large = settled(c4, "test_error", "layer norm"), settled(c128, "test_error", "layer norm")
        worse_at_4 = is_lower(large, small)  # the claim holds unless batch 4 is worse beyond seed noise
        found.append(
            {
                "batch": 4,
                "claim": "LN is robust to batch size: no worse at batch 4 than at 128 (beyond seed noise)",
                "holds": worse_at_4 is not True,
                "seeds": min(len(small), len(large)),
                "evidence": f"LN test error: batch 4 {100 * small.mean():.2f}%, batch 128 {100 * large.mean():.2f}%",
            }
        )
    for claim in found:
        claim["note"] = (notes or {}).get(claim.pop("batch"), "")
    return found


def overfitting(curves: dict) -> list[dict]:
    """Per method: the epoch of lowest mean validation error, and how much the training NLL
    (geometric mean over seeds) and the test error moved after it."""
    rows = []
    for method in curves["val_error"]:
        validation = curves_array(curves, "val_error", method).mean(axis=1)
        best = int(np.argmin(validation))
        nll = np.exp(np.log(np.maximum(curves_array(curves, "train_nll", method), 1e-300)).mean(axis=1))
        test = 100 * curves_array(curves, "test_error", method).mean(axis=1)
        rows.append(
            {
                "method": method,
                "best validation epoch": best + 1,
                "epochs": len(validation),
                "train NLL at best": float(nll[best]),
                "final train NLL": float(nll[-1]),
                "test error at best %": float(test[best]),
                "final test error %": float(test[-1]),
            }
        )
    return rows


def live_matches_saved(
    live: dict[int, dict], configs: dict[int, "RunConfig"], saved: dict[int, dict]
) -> dict[int, dict]:
    """How closely the live run reproduces the saved run over the epochs and seeds both have,
    for each batch size whose live configuration differs from the saved one only in epochs
    and seeds: largest |difference| of test error (points) and of log10 training NLL."""
    found = {}
    for batch_size, curves in live.items():
        if batch_size not in saved:
            continue
        recorded = saved[batch_size]["config"]
        config = configs[batch_size]
        same = (
            config.train_subset == recorded.get("train_subset")
            and config.learning_rates == recorded.get("learning_rates")
            and set(config.seeds) <= set(recorded["seeds"])
        )
        if not same:
            continue
        columns = [recorded["seeds"].index(seed) for seed in config.seeds]
        worst_error = worst_nll = seed_range = 0.0
        for method in curves["test_error"]:
            a = curves_array(curves, "test_error", method)
            epochs = min(len(a), saved[batch_size]["epochs_done"])
            saved_errors = curves_array(saved[batch_size]["curves"], "test_error", method)[:epochs]
            b = saved_errors[:, columns]
            worst_error = max(worst_error, float(np.abs(a[:epochs] - b).max()) * 100)
            # how far apart the saved run's own seeds are at the same epochs
            seed_range = max(seed_range, float((saved_errors.max(axis=1) - saved_errors.min(axis=1)).max()) * 100)
            a = np.log10(curves_array(curves, "train_nll", method)[:epochs])
            b = np.log10(curves_array(saved[batch_size]["curves"], "train_nll", method)[:epochs, columns])
            worst_nll = max(worst_nll, float(np.abs(a - b).max()))
        found[batch_size] = {
            "epochs": epochs,
            "seeds": list(config.seeds),
            "test error points": worst_error,
            "seed range points": seed_range,
            "log10 NLL": worst_nll,
        }
    return found


def verdict(claim: dict) -> str:
    word = {True: "yes", False: "**no**", None: "within seed noise"}[claim["holds"]]
    return word + (" (1 seed)" if claim["seeds"] == 1 else "")


def claims_markdown(curves_by_batch: dict[int, dict], label: str, notes: dict[int, str] | None = None) -> str:
    lines = [
        f"| claim of the paper ({label}) | holds here? | evidence (mean of the last {LAST_EPOCHS} epochs, or the "
        "last quarter of a shorter run, and over seeds; ± the spread over seeds; NLL as a geometric mean) |",
        "|---|---|---|",
    ]
    for c in claims(curves_by_batch, notes):
        note = f" ({c['note']})" if c["note"] else ""
        lines.append(f"| {c['claim']}{note} | {verdict(c)} | {c['evidence']} |")
    return "\n".join(lines)


def partial_notes(saved: dict[int, dict]) -> dict[int, str]:
    """{batch size: "partial run: 8 of 65 epochs"} for each saved run that did not finish."""
    return {
        bs: f"partial run: {r['epochs_done']} of {r['config']['epochs']} epochs"
        for bs, r in saved.items()
        if not r.get("complete")
    }


def results_markdown(curves_by_batch: dict[int, dict], label: str, notes: dict[int, str] | None = None) -> str:
    rows = [row for bs in sorted(curves_by_batch, reverse=True) for row in results_rows(curves_by_batch[bs], bs)]
    for row in rows:
        if (notes or {}).get(row["batch size"]):
            row["epochs"] = f"{row['epochs']} ({notes[row['batch size']]})"
    headers = list(rows[0])
    lines = [f"**{label}**", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(r[h]) for h in headers) + " |" for r in rows]
    return "\n".join(lines)


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
        for batch_size in configs:
            run_paper(batch_size, device=device, progress=progress)
    else:
        for batch_size, config in configs.items():
            print(
                f"batch size {batch_size}: {len(config.methods)} methods × {len(config.seeds)} seed(s), "
                f"{config.epochs} epochs"
            )
            stacks = trained.setdefault(batch_size, {}) if trained is not None else None
            live[batch_size] = run(config, dataset, device=device, progress=progress, trained=stacks)[1]["curves"]
    saved = {bs: result for bs in (128, 4) if (result := load_results("paper", bs)) is not None}
    return live, saved


def saved_results_markdown(saved: dict[int, dict]) -> str:
    """Where the saved paper-profile results came from."""
    if not saved:
        return "No saved paper-profile results are in this build; the figure shows the live run only."
    lines = [
        "| batch size | epochs done | seeds | device | wall time | commit | data checksum | written |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for bs, r in sorted(saved.items(), reverse=True):
        p = r["provenance"]
        done = f"{r['epochs_done']} of {r['config']['epochs']}" + ("" if r.get("complete") else " (partial)")
        lines.append(
            f"| {bs} | {done} | {r['config']['seeds']} | {p['device']} | {p['wall_seconds'] / 60:.0f} min | "
            f"`{p['commit']}` | `{p['data']['checksum'][:12]}` | {p['written']} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    from lnutils.cli import add_common_arguments, positive_int, resolve_common

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["select", "run"])
    parser.add_argument("--batch-size", type=positive_int, default=128, choices=[128, 4], metavar="{128,4}")
    parser.add_argument(
        "--train-subset", type=positive_int, default=None, help="select only: use the first n training images"
    )
    parser.add_argument(
        "--full-length",
        action="store_true",
        help=f"select only: train every rate {FULL_LENGTH_EPOCHS} epochs, choose by the last {SETTLE_EPOCHS} "
        "epochs' validation error",
    )
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    device = resolve_common(parser, args)
    environment.describe()
    if args.command == "select":
        epochs = args.epochs or (FULL_LENGTH_EPOCHS if args.full_length else 3 if args.batch_size >= 32 else 1)
        payload = select_learning_rates_run(
            args.batch_size,
            epochs,
            train_subset=args.train_subset,
            device=device,
            overwrite=args.overwrite,
            full_length=args.full_length,
            time_budget_seconds=args.time_budget,
        )
        print("chosen learning rates:", payload["chosen"])
    else:
        payload = run_paper(
            args.batch_size,
            device=device,
            epochs=args.epochs,
            seeds=args.seeds,
            time_budget_seconds=args.time_budget,
            overwrite=args.overwrite,
            profile=args.profile,
        )
        print(f"epochs done: {payload['epochs_done']}; results in {results_path(args.profile, args.batch_size)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
