"""Chapter 2's learning rates: the selections on the validation split, and the sensitivity of the answers.

Each method trains at the rate its selection chose: a short selection for a batch size, or a full-length
one (:data:`FULL_LENGTH_EPOCHS`) when it has run, each rule written down before its run
(:func:`selection_rule`).  Seeds 1 and 2 of the full-length selection at batch 128 give every rate an
interval, so that the methods can be compared at each one's best rate and at one shared rate
(:func:`sensitivity`).  :mod:`lnutils.experiments.mnist` runs the paper's experiment at the chosen rates.
Command line (:mod:`lnutils.experiments`)::

    python -m lnutils.experiments mnist select --batch-size 128 [--full-length] [--seeds 1]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lnutils import environment, parts, runs
from lnutils.compare import COMPLETE, FIRST_LOWER, make_verdict, settled, verdict_family
from lnutils.data import load_mnist
from lnutils.mlp import METHODS, MLPStack
from lnutils.progress import say
from lnutils.runs import provenance, save_results
from lnutils.train import History, make_split, train_lockstep

LEARNING_RATE_GRID = (1e-4, 3e-4, 1e-3, 3e-3)
BATCH_SIZES = (128, 4)  # Figure 6's two panels

# Each question compares two methods on one number per seed, answered by the comparison rule
# (lnutils.compare.answer): test error in points, the mean of the last LAST_EPOCHS epochs of a
# constant-rate run (one epoch's test error moves by about 0.1 points), or log10 of the training NLL.
# Methods of one batch size share each seed's initialisation and data order, so they pair by seed; across
# batch sizes the data orders differ, so those are compared unpaired (Welch).  The margins were fixed on
# 2026-12-07, after the batch-128 runs had been read and before the batch-4 runs at the rates of the new
# selection: a fifth of a point of test error (20 of 10,000 test images; Figure 6's curves sit near
# 1.2-1.8 %), and 0.1 in log10 of the training NLL (a factor 1.26).
MARGIN_POINTS = 0.2
MARGIN_LOG10_NLL = 0.1
LN, BN, NONE = "layer norm", "batch norm", "baseline"


def selection_name(kind: str, batch_size: int, seed: int = 0) -> str:
    """A learning-rate selection's file name (``kind`` "lr" or "lr_full"); a full-length selection of a
    seed other than 0 (the sensitivity runs) has a file of its own."""
    return f"mnist_{kind}_b{batch_size}" + (f"_s{seed}" if kind == "lr_full" and seed else "") + ".json"


def selection_file(kind: str, batch_size: int, results_dir: Path | None = None, seed: int = 0) -> Path:
    """Where a learning-rate selection is written (:func:`selection_name`)."""
    return Path(results_dir if results_dir is not None else runs.results_dir()) / selection_name(kind, batch_size, seed)


def saved_selection(kind: str, batch_size: int, results_dir: Path | None = None, seed: int = 0) -> dict | None:
    """A saved learning-rate selection ("lr": a few epochs; "lr_full": full length, of one seed)."""
    return runs.read_results(selection_name(kind, batch_size, seed), results_dir)


def full_length_selections(results_dir: Path | None = None) -> dict[int, dict | None]:
    """{batch size: the full-length learning-rate selection's result, or None where it has not run}."""
    return {bs: saved_selection("lr_full", bs, results_dir) for bs in BATCH_SIZES}


# ----------------------------------------------------------------------------- learning rate selection


FULL_LENGTH_EPOCHS = 65
SETTLE_EPOCHS = 5  # the full-length rule averages validation error over the last 5 epochs

# The short selections, each written down before its run.  Batch 128's (the first): seed 0, 3 epochs,
# the 4-rate grid.  Batch 4's (registered before its run, replacing a 1-epoch selection on 20,000
# images whose batch-norm rate sat at the grid's edge): seeds 0 and 1, 3 epochs on all 55,000 training
# images, rates 3e-5 to 3e-3 in half-decade steps; each method takes the rate of lowest validation error
# at the end of epoch 3, averaged over the two seeds; a rate chosen at the edge of a method's grid adds
# the next half-decade rate beyond it for that method (trained the same way), until the choice is interior.
SHORT_SELECTIONS = {
    128: dict(seeds=(0,), epochs=3, grid=LEARNING_RATE_GRID, extend_edges=False),
    4: dict(seeds=(0, 1), epochs=3, grid=(3e-5, 1e-4, 3e-4, 1e-3, 3e-3), extend_edges=True),
}


def short_selection(batch_size: int) -> dict:
    """The registered short selection for a batch size (:data:`SHORT_SELECTIONS`); another batch size
    takes batch 128's rule."""
    return dict(SHORT_SELECTIONS.get(batch_size, SHORT_SELECTIONS[128]))


def edge_extensions(chosen: dict[str, float], grids: dict[str, list]) -> dict[str, float]:
    """{method: the rate to add} for each method whose chosen rate is the smallest or largest of its grid."""
    added = {}
    for method, rate in chosen.items():
        if rate == min(grids[method]):
            added[method] = runs.neighbour_rate(rate, -1)
        elif rate == max(grids[method]):
            added[method] = runs.neighbour_rate(rate, +1)
    return added


def merged_curves(first: dict, second: dict) -> dict:
    """Two selection runs' curves (disjoint labels, same epochs) as one; their epoch times add."""
    merged = {key: {**first[key], **second[key]} for key in ("train_nll", "val_error", "test_error")}
    seconds = [a + b for a, b in zip(first["epoch_seconds"], second["epoch_seconds"])]
    return {**merged, "epoch_seconds": seconds}


def selection_rule(full_length: bool, seeds, epochs: int, done: int, extend_edges: bool) -> str:
    seed_words = f"seed {seeds[0]}" if len(seeds) == 1 else f"mean of seeds {', '.join(map(str, seeds))}"
    if full_length:
        return (
            "lowest validation error (5,000 held-out training images) averaged over the last "
            f"{SETTLE_EPOCHS} of {epochs} epochs, {seed_words}; no early stopping"
        )
    rule = f"lowest validation error (5,000 held-out training images) after {done} epoch(s), {seed_words}"
    if extend_edges:
        rule += "; a rate chosen at the edge of its grid adds the next half-decade rate beyond it"
    if done < epochs:
        rule += f" (cut short: {done} of the {epochs} asked for)"
    return rule


def selection_configuration(
    batch_size: int, epochs: int, seeds: list[int], grid, train_subset, full_length: bool, extend_edges: bool
) -> dict:
    """What defines a selection run (its file refuses another), after checking the arguments."""
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if train_subset is not None and train_subset < batch_size:
        raise ValueError(
            f"train_subset={train_subset} holds less than one batch of {batch_size}; pass at least {batch_size} "
            "(or none: all 55,000)"
        )
    if full_length and len(seeds) != 1:
        raise ValueError(f"a full-length selection trains one seed (one file per seed); got seeds {seeds}")
    selection_config = {"batch_size": batch_size, "epochs": epochs}
    # a one-seed selection keeps the configuration its saved files were written with
    selection_config.update({"seed": seeds[0]} if len(seeds) == 1 else {"seeds": seeds})
    selection_config.update({"grid": list(grid), "train_subset": train_subset})
    if full_length:
        selection_config["rule"] = f"mean validation error of the last {SETTLE_EPOCHS} epochs"
    if extend_edges:
        selection_config["extend_edges"] = True
    return selection_config


def selection_payload(record: dict, curves: dict, complete: bool, settle: int, made: dict) -> dict:
    """A selection's result file: ``record`` (its configuration, rule, validation size and grids), the
    curves so far, the rates they choose (:func:`lnutils.runs.choose_learning_rates`) and ``made``, its
    provenance (:func:`lnutils.runs.provenance`)."""
    config, grids = record["config"], record["grids"]
    return {
        "kind": "learning-rate selection",
        "config": config,
        "rule": record["rule"],
        "settle_epochs": settle,  # the rule's window, as a number
        "validation": record["validation"],
        "batch_size": config["batch_size"],
        "seeds": config.get("seeds", [config.get("seed")]),
        "epochs": config["epochs"],
        "epochs_done": len(curves["epoch_seconds"]),
        "complete": complete,
        "grid": sorted({rate for rates in grids.values() for rate in rates}),
        "grids": grids,
        "train_subset": config["train_subset"],
        "chosen": runs.choose_learning_rates(curves["val_error"], METHODS, grids, settle=settle),
        "curves": curves,
        "provenance": made,
    }


def train_grid(
    labels: dict[str, tuple[str, float]],
    seeds,
    split,
    batch_size,
    epochs,
    checkpoint,
    device,
    progress,
    on_epoch_end,
    budget,
) -> History:
    """Train one MLP stack per label ({label: (method, rate)}) in lockstep, batch norm with the unbiased
    variance below batch 16 (as in the paper runs)."""
    stacks = {label: MLPStack(m, seeds, bn_unbiased=batch_size < 16) for label, (m, _) in labels.items()}
    rates = {label: rate for label, (_, rate) in labels.items()}
    return train_lockstep(
        stacks,
        rates,
        split,
        batch_size,
        epochs,
        checkpoint=checkpoint,
        progress=progress,
        device=device,
        on_epoch_end=on_epoch_end,
        time_budget_seconds=budget,
    )


def select_learning_rates_run(
    batch_size: int,
    epochs: int,
    seeds=(0,),
    grid=LEARNING_RATE_GRID,
    train_subset=None,
    device="cpu",
    progress=True,
    results_dir=None,
    checkpoint_dir=None,
    overwrite=False,
    full_length: bool = False,
    time_budget_seconds=None,
    extend_edges: bool = False,
) -> dict:
    """Train each method at each grid learning rate (``seeds``, one stack each) and choose by validation
    error, averaged over the seeds.

    Short selection (``full_length=False``, written to ``mnist_lr_b<B>.json``): the lowest
    validation error at the last of a few epochs.  Full-length selection (``full_length=True``,
    ``mnist_lr_full_b<B>.json``): every method × rate trained as long as the paper run, and
    the lowest validation error averaged over the last 5 epochs (no early stopping).  With
    ``extend_edges`` a method whose chosen rate is at the edge of its grid is trained at the next rate
    beyond it (:func:`edge_extensions`), until its choice is interior.  The file is written after every
    epoch (``complete`` says whether it finished) and resumes from its checkpoints.
    """
    seeds = [int(s) for s in seeds]
    selection_config = selection_configuration(batch_size, epochs, seeds, grid, train_subset, full_length, extend_edges)
    kind = "lr_full" if full_length else "lr"
    path = selection_file(kind, batch_size, results_dir, seed=seeds[0])
    if (done := runs.finished(path, selection_config)) is not None:
        say(f"{path.name} is already a complete run of this configuration")
        return done
    runs.check_replaceable(path, selection_config, overwrite)
    dataset = load_mnist()
    split = make_split(dataset, train_subset=train_subset)
    commit = environment.git_commit()
    settle = SETTLE_EPOCHS if full_length else 1
    grids = {m: list(grid) for m in METHODS}
    seed_tag = seeds[0] if len(seeds) == 1 else "-".join(map(str, seeds))
    stem = f"mnist_{kind}_b{batch_size}_e{epochs}_s{seed_tag}_n{train_subset}"
    folder = Path(checkpoint_dir or runs.checkpoint_dir())

    def payload_for(curves: dict, complete: bool) -> dict:
        rule = selection_rule(full_length, seeds, epochs, len(curves["epoch_seconds"]), extend_edges)
        record = {"config": selection_config, "rule": rule, "validation": len(split.val_x), "grids": grids}
        made = provenance(dataset, device, sum(curves["epoch_seconds"]), commit=commit)
        return selection_payload(record, curves, complete, settle, made)

    def train(labels: dict[str, tuple[str, float]], checkpoint: Path, earlier: dict | None):
        """Train the stacks ``labels`` ({label: (method, rate)}), saving what is done after every epoch."""

        def save_partial(history: History) -> None:
            # the first run is saved after every epoch but its last (then the rule may extend the grid);
            # an extension is saved when it ends
            if earlier is None and len(history.epoch_seconds) < epochs:
                save_results(path, payload_for(history.to_dict(), complete=False), overwrite=overwrite)

        history = train_grid(
            labels, seeds, split, batch_size, epochs, checkpoint, device, progress, save_partial, time_budget_seconds
        )
        curves = merged_curves(earlier, history.to_dict()) if earlier else history.to_dict()
        return curves, len(history.epoch_seconds) == epochs

    labels = {runs.grid_label(m, rate): (m, rate) for m in METHODS for rate in grid}
    # a second process waits for a short selection (the runs need its rates) and skips a full-length one
    with parts.claim(folder / f"{stem}.pt", wait=not full_length):
        if (done := runs.finished(path, selection_config)) is not None:
            return done  # the other process finished it while this one waited
        return _train_selection(train, labels, folder, stem, grids, extend_edges, settle, path, payload_for, overwrite)


def _train_selection(train, labels, folder, stem, grids, extend_edges, settle, path, payload_for, overwrite) -> dict:
    """The selection's training: the grid, then one rate beyond each edge choice until every one is interior."""
    curves, finished_all = train(labels, folder / f"{stem}.pt", None)
    while finished_all and extend_edges:
        chosen = runs.choose_learning_rates(curves["val_error"], METHODS, grids, settle=settle)
        added = edge_extensions(chosen, grids)
        if not added:
            break
        for method, rate in added.items():
            grids[method].append(rate)
            say(f"{method}: chose {chosen[method]:g}, the edge of its grid; adding {rate:g}")
        extra = {runs.grid_label(m, rate): (m, rate) for m, rate in added.items()}
        tag = "_".join(f"{m.replace(' ', '-')}{rate:g}" for m, rate in added.items())
        curves, finished_all = train(extra, folder / f"{stem}_add_{tag}.pt", curves)
    payload = payload_for(curves, complete=finished_all)
    save_results(path, payload, overwrite=overwrite)
    return payload


# ----------------------------------------------------------------------------- learning-rate sensitivity
#
# Does the ranking of the methods at batch 128 depend on the learning rates?  The full-length selection
# trains every method at every rate of LEARNING_RATE_GRID for 65 epochs; SENSITIVITY_SEEDS of them (seed 0
# is the selection itself, seeds 1 and 2 its repeats, each a file of its own) give each (method, rate) a
# final test error per seed.  Registered before seeds 1 and 2 ran: each method's best rate is the one of
# lowest mean validation error over the seeds held (the selection's own rule), and the methods are compared
# by the comparison rule at each one's best rate and at one shared rate, SHARED_RATE (Adam's default rate,
# which no method's selection chose at batch 128).
SENSITIVITY_SEEDS = (0, 1, 2)
SHARED_RATE = 1e-3
# "Faster training convergence" (Ba et al. 2016, Sec. 6.6) at matched rates: the epochs each method needs to
# reach a validation error, LN against BN and against no normalization, both at one shared rate and each at
# its best rate, paired over the sensitivity seeds (margin: one epoch).  Registered on 2026-12-08, after seed
# 0's full-length curves had been read and before seeds 1 and 2 ran.
SPEED_THRESHOLDS = (3.0, 2.0)  # validation error %
SPEED_MARGIN_EPOCHS = 1.0


def sensitivity(batch_size: int = 128, results_dir: Path | None = None) -> dict | None:
    """The full-length selections of :data:`SENSITIVITY_SEEDS` at ``batch_size`` read together: per method
    and rate, the final test error (% , mean of the last SETTLE_EPOCHS epochs) and validation error per
    seed, each method's best rate, and the answers at the best rates and at :data:`SHARED_RATE`.  None
    without any complete full-length selection."""
    found = {seed: saved_selection("lr_full", batch_size, results_dir, seed) for seed in SENSITIVITY_SEEDS}
    found = {seed: r for seed, r in found.items() if r is not None and r.get("complete")}
    if not found:
        return None
    seeds = sorted(found)
    grid = sorted({float(rate) for r in found.values() for rate in r["grid"]})
    table = {}
    for method in METHODS:
        for rate in grid:
            label = runs.grid_label(method, rate)
            if not all(label in r["curves"]["test_error"] for r in found.values()):
                continue
            per_seed = {
                key: [100 * float(settled(found[s]["curves"], key, label, window=SETTLE_EPOCHS)[0]) for s in seeds]
                for key in ("test_error", "val_error")
            }
            table.setdefault(method, {})[rate] = per_seed
    best = {m: min(rates, key=lambda r: np.mean(rates[r]["val_error"])) for m, rates in table.items()}
    evidence = COMPLETE if seeds == list(SENSITIVITY_SEEDS) else "partial"
    answers = []
    for first, second in ((LN, BN), (LN, NONE), (BN, NONE)):
        for where, rates in (("best", (best[first], best[second])), ("shared", (SHARED_RATE, SHARED_RATE))):
            if rates[0] not in table[first] or rates[1] not in table[second]:
                continue
            answers.append(
                make_verdict(
                    f"{first} vs {second}",
                    (first, second),
                    None,
                    table[first][rates[0]]["test_error"],
                    table[second][rates[1]]["test_error"],
                    evidence,
                    MARGIN_POINTS,
                    metric="test_error_last_epochs",
                    settle_epochs=SETTLE_EPOCHS,
                    rates=rates,
                    at=where,
                )
            )
    speed = matched_rate_speed(found, best, evidence)
    return {
        "batch_size": batch_size,
        "seeds": seeds,
        "planned_seeds": list(SENSITIVITY_SEEDS),
        "speed": speed,
        "grid": grid,
        "test_error": {m: {r: v["test_error"] for r, v in rates.items()} for m, rates in table.items()},
        "best": best,
        "shared_rate": SHARED_RATE,
        "verdicts": verdict_family(answers),
    }


def epochs_to_reach(errors_percent, threshold: float) -> int | None:
    """The first epoch (1-based) whose validation error (%) is at or below ``threshold``; None if none is."""
    return next((epoch + 1 for epoch, value in enumerate(errors_percent) if value <= threshold), None)


def matched_rate_speed(found: dict[int, dict], best: dict[str, float], evidence: str) -> list[dict]:
    """The speed questions (:data:`SPEED_THRESHOLDS`) on the full-length selections ``found`` (seed -> its
    file): per pair, kind of rate ("shared": :data:`SHARED_RATE`; "best": each method's ``best``) and
    threshold, the epochs each seed needed, answered by the comparison rule where every seed got there
    (``never``: how many seeds of each method did not)."""
    seeds = sorted(found)
    out = []
    for first, second in ((LN, BN), (LN, NONE)):
        for where, rates in (("shared", (SHARED_RATE, SHARED_RATE)), ("best", (best[first], best[second]))):
            labels = runs.grid_label(first, rates[0]), runs.grid_label(second, rates[1])
            if not all(label in found[s]["curves"]["val_error"] for label in labels for s in seeds):
                continue
            for threshold in SPEED_THRESHOLDS:
                epochs = [
                    [
                        epochs_to_reach(100 * np.asarray(found[s]["curves"]["val_error"][label])[:, 0], threshold)
                        for s in seeds
                    ]
                    for label in labels
                ]
                never = [sum(e is None for e in side) for side in epochs]
                verdict = make_verdict(
                    f"{first} reaches {threshold:g} % first",
                    (first, second),
                    FIRST_LOWER,
                    *(epochs if not any(never) else ([], [])),
                    evidence,
                    SPEED_MARGIN_EPOCHS,
                    metric="epochs_to_validation_error",
                    threshold=threshold,
                    rates=rates,
                    at=where,
                )
                out.append({**verdict, "epochs": epochs, "never": never})
    return verdict_family(out)


def selection_in_use(batch_size: int, results_dir: Path | None = None) -> dict:
    """The learning-rate selection the runs use: the full-length one once it is complete (the fair rule),
    else the short one; while a new short selection is still training, the newest complete one it
    replaced (``superseded_by`` then says how far the new one got)."""
    full = saved_selection("lr_full", batch_size, results_dir)
    if full is not None and full.get("complete"):
        return full
    short = saved_selection("lr", batch_size, results_dir)
    if short is not None and short.get("complete") is False:
        replaced = runs.replaced_results(f"mnist_lr_b{batch_size}.json", results_dir)
        earlier = [r for r in replaced if r.get("complete") is not False]  # files before "complete" were complete
        if earlier:
            progress = {"epochs_done": short.get("epochs_done"), "epochs": short.get("epochs")}
            return {**earlier[-1], "superseded_by": progress}
        raise FileNotFoundError(
            f"the learning-rate selection for batch size {batch_size} stopped after {short.get('epochs_done')} of "
            f"{short.get('epochs')} epochs (a time budget); run `python -m lnutils.experiments mnist select "
            f"--batch-size {batch_size}` again to finish it, or pass learning_rates=..."
        )
    if short is None:
        raise FileNotFoundError(
            f"no learning-rate selection for batch size {batch_size} in "
            f"{selection_file('lr', batch_size, results_dir)}; "
            f"run `python -m lnutils.experiments mnist select --batch-size {batch_size}` or pass learning_rates=..."
        )
    return short


def selections_in_use(batch_sizes=BATCH_SIZES, results_dir: Path | None = None) -> dict[int, dict | None]:
    """{batch size: the selection its runs use (:func:`selection_in_use`), or None where there is none}."""
    found = {}
    for batch_size in batch_sizes:
        try:
            found[batch_size] = selection_in_use(batch_size, results_dir)
        except FileNotFoundError:
            found[batch_size] = None
    return found


def selection_still_training(batch_sizes=BATCH_SIZES) -> str | None:
    """Why a paper run should wait: a new selection for one of ``batch_sizes`` is still training, so the
    rates its runs would use are the old ones; None when no new selection is waiting."""
    for batch_size, found in selections_in_use(batch_sizes).items():
        if found is not None and "superseded_by" in found:
            new = found["superseded_by"]
            return (
                f"a new learning-rate selection for batch size {batch_size} is still training ({new['epochs_done']} "
                f"of {new['epochs']} epochs); its rates are not known yet: run this again when `mnist select "
                f"--batch-size {batch_size}` has finished"
            )
    return None


def selected_learning_rates(batch_size: int, results_dir: Path | None = None) -> dict[str, float]:
    """The learning rates chosen by the selection in use for this batch size (:func:`selection_in_use`)."""
    return {method: float(rate) for method, rate in selection_in_use(batch_size, results_dir)["chosen"].items()}
