"""Words from numbers: the Markdown tables and verdict sentences the chapters display.

Every sentence here that compares numbers is computed from them, with the book's
seed-noise rule (:func:`lnutils.mnist_experiment.is_lower`): a difference smaller than
two standard errors over seeds is "within seed noise", and with one seed the sentence
says so.  Nothing here trains; the experiment modules return the numbers.
"""

from __future__ import annotations

import numpy as np

from lnutils import runs
from lnutils.mnist_experiment import is_lower


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """A pipe table; cells are written with ``str``."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _percent(values) -> str:
    values = 100 * np.asarray(values, dtype=float)
    if len(values) > 1:
        return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}%"
    return f"{values.mean():.2f}%"


# ----------------------------------------------------------------------------- set-up and selection


def mnist_setup(configs: dict) -> str:
    """One line per batch size: epochs, seeds, learning rates, training images."""
    lines = []
    for batch_size, config in configs.items():
        rates = ", ".join(f"{m} {r:g}" for m, r in config.learning_rates.items())
        images = f"{config.train_subset or 55000:,}"
        lines.append(
            f"batch {batch_size}: {config.epochs} epoch(s), seeds {config.seeds}, {images} training images; "
            f"learning rates {rates}"
        )
    return "\n".join(lines)


def selection_markdown(selection: dict | None, names=None, what: str = "method") -> str:
    """Validation error per name and learning rate at the end of a selection run (for a
    full-length run: the mean of its last 5 epochs), the chosen rate, and the rule."""
    if selection is None:
        return "No learning-rate selection is recorded for this setting."
    grid = selection["grid"]
    curves = selection["curves"]["val_error"]
    names = names or list(selection["chosen"])
    settle = 5 if "last 5" in selection.get("rule", "") else 1
    rows = []
    for name in names:
        cells = [f"{100 * np.mean(np.asarray(curves[runs.grid_label(name, rate)])[-settle:, 0]):.2f}%" for rate in grid]
        rows.append([name, *cells, f"{selection['chosen'][name]:g}"])
    table = markdown_table([what, *(f"lr {rate:g}" for rate in grid), "chosen"], rows)
    done = selection.get("epochs_done", selection.get("epochs"))
    status = (
        ""
        if selection.get("complete", True)
        else f" **Partial: {done} of {selection['epochs']} epochs so far; the choice may still change.**"
    )
    provenance = selection["provenance"]
    return (
        f"{table}\n\nRule: {selection['rule']}.{status} Run on {provenance['device']}, "
        f"{provenance['wall_seconds'] / 60:.0f} min, commit `{provenance['commit']}`."
    )


# ----------------------------------------------------------------------------- MNIST


def overfitting_markdown(rows: list[dict]) -> str:
    """The epoch of lowest validation error per method, and what training did after it."""
    table = []
    for row in rows:
        orders = np.log10(row["train NLL at best"] / max(row["final train NLL"], 1e-300))
        table.append(
            [
                row["method"],
                f"{row['best validation epoch']} of {row['epochs']}",
                f"{row['train NLL at best']:.1e} → {row['final train NLL']:.1e} ({orders:.1f} orders)",
                f"{row['test error at best %']:.2f}% → {row['final test error %']:.2f}%",
            ]
        )
    return markdown_table(
        [
            "method",
            "best validation epoch",
            "train NLL: at best → final (geometric mean over seeds)",
            "test error: at best → final",
        ],
        table,
    )


def overfitting_sentence(rows: list[dict]) -> str:
    """Which methods keep fitting the training set after their validation error stopped improving."""
    sentences = []
    for row in rows:
        orders = np.log10(row["train NLL at best"] / max(row["final train NLL"], 1e-300))
        change = row["final test error %"] - row["test error at best %"]
        if row["epochs"] - row["best validation epoch"] >= max(2, row["epochs"] // 5) and orders >= 1:
            sentences.append(
                f"{row['method']}'s validation error is lowest at epoch {row['best validation epoch']} of "
                f"{row['epochs']}; "
                f"after it the training NLL falls by {orders:.1f} orders of magnitude while the test error moves "
                f"by {change:+.2f} points: "
                "it keeps fitting the training set without generalizing better (overfitting in the NLL)."
            )
    return (
        " ".join(sentences)
        or "No method keeps driving its training NLL down long after its best validation epoch in this run."
    )


def live_check_sentence(matches: dict[int, dict]) -> str:
    """What the live quick run checked against the saved paper run.

    The same seeds and rates do not give the same bits: a stack of another size or another
    thread count adds in another order, and training amplifies the rounding.  So the live
    run counts as reproducing the saved one when its largest difference is within the spread
    between the saved run's own seeds at the same epochs (or 0.2 points, if that is larger).
    """
    if not matches:
        return (
            "The live run's configuration differs from the saved run's (other images or rates), so it is not "
            "compared epoch by epoch; it checks that the code runs and learns."
        )
    parts, consistent = [], True
    for batch_size, match in sorted(matches.items(), reverse=True):
        allowed = max(match["seed range points"], 0.2)
        consistent &= match["test error points"] <= allowed
        parts.append(
            f"at batch {batch_size}, over {match['epochs']} epoch(s) and seeds {match['seeds']}, the largest "
            f"difference from the saved run is {match['test error points']:.2f} points of test error "
            f"(the saved run's seeds span up to {match['seed range points']:.2f} points at those epochs) and "
            f"{match['log10 NLL']:.2f} in log10 training NLL"
        )
    verdict = (
        "That is within the spread between seeds, which is what rounding in another order (another stack size or "
        "thread count) grows into during training: the code still produces the saved curves."
        if consistent
        else "That is more than the spread between seeds: the code or its environment no longer reproduces "
        "the saved run, and the saved run should be checked."
    )
    return "The live quick run retrains the first epochs of the saved run with the same seeds and rates: " + (
        "; ".join(parts) + ". " + verdict
    )


# ----------------------------------------------------------------------------- conv


def _final(record: dict, name: str) -> np.ndarray:
    return np.asarray(record["curves"]["test_error"][name], dtype=float)[-1]


def conv_ranking_sentences(records: list[dict], label: str) -> str:
    """Per (dataset, batch size): the best normalization, where BN, LN(C,H,W), LN(C) and RMS
    norm rank, and whether the best beats LN(C,H,W) beyond seed noise."""
    sentences = []
    for record in records:
        names = list(record["curves"]["test_error"])
        finals = {name: _final(record, name) for name in names}
        order = sorted(names, key=lambda name: finals[name].mean())
        seeds = len(finals[order[0]])
        rank = {name: order.index(name) + 1 for name in names}
        where = f"{record['dataset']}, batch {record['batch_size']}"
        places = ", ".join(
            f"{name} {rank[name]}"
            for name in ("batch norm", "layer norm (C,H,W)", "layer norm (C)", "rms norm")
            if name in rank
        )
        ln = "layer norm (C,H,W)"
        best = order[0]
        if best == ln:
            gap = "LN(C,H,W) is itself the best"
        elif seeds == 1:
            points = 100 * (finals[ln].mean() - finals[best].mean())
            gap = f"{best} is {points:.2f} points below LN(C,H,W)"
        else:
            verdict = is_lower(finals[best], finals[ln])
            gap = {
                True: f"{best} beats LN(C,H,W) beyond seed noise",
                False: f"LN(C,H,W) beats {best}",
                None: f"{best} and LN(C,H,W) are within seed noise",
            }[verdict]
        one_seed = " (one seed: no noise estimate, so read only large gaps)" if seeds == 1 else ""
        sentences.append(
            f"{label}, {where}: the lowest test error is {best}'s ({_percent(finals[best])}); "
            f"places out of {len(names)}: {places}; {gap}{one_seed}."
        )
    return "\n\n".join(sentences)


def conv_batch_sentence(records: list[dict], label: str) -> str:
    """Does batch norm lose more than LN(C,H,W) when the batch shrinks from 128 to 4?"""
    by_key = {(r["dataset"], r["batch_size"]): r for r in records}
    sentences = []
    for (dataset, batch_size), small in sorted(by_key.items()):
        large = by_key.get((dataset, 128))
        if batch_size == 128 or large is None:
            continue
        change = {
            name: 100 * (_final(small, name).mean() - _final(large, name).mean())
            for name in ("batch norm", "layer norm (C,H,W)")
        }
        bigger = "batch norm" if change["batch norm"] > change["layer norm (C,H,W)"] else "LN(C,H,W)"
        sentences.append(
            f"{label}, {dataset}: from batch 128 to batch {batch_size}, batch norm's test error changes by "
            f"{change['batch norm']:+.2f} points and LN(C,H,W)'s by {change['layer norm (C,H,W)']:+.2f}; {bigger} "
            "changes more. "
            "(The two batch sizes also differ in epochs and images in the quick profile, so only the paper profile "
            "isolates the batch size.)"
        )
    return "\n\n".join(sentences)


# ----------------------------------------------------------------------------- RNN


def adding_sentences(results: dict, lengths) -> str:
    """Which cells beat predicting the mean (MSE 1/6) at each test length, and which is best."""
    chance = 1 / 6
    sentences = []
    for length in lengths:
        mse = {cell: result["test_mse"][length] for cell, result in results.items()}
        better = [cell for cell, value in mse.items() if value < chance]
        worse = [cell for cell, value in mse.items() if value >= chance]
        best = min(mse, key=mse.get)
        text = f"At length {length}: lowest MSE {best} ({mse[best]:.3f}); "
        text += (
            f"worse than predicting the mean (0.167): {', '.join(f'{c} ({mse[c]:.3f})' for c in worse)}"
            if worse
            else "every cell beats predicting the mean (0.167)"
        )
        if better and worse:
            text += f"; better: {', '.join(better)}"
        sentences.append(text + ".")
    return " ".join(sentences) + " One seed: a single training run per cell."


def sequential_sentences(records: dict) -> str:
    """BN-LSTM and LN-LSTM against the plain LSTM, per setting, with the seed-noise rule."""
    sentences = []
    for setting, record in records.items():
        finals = {cell: np.asarray(values, dtype=float)[-1] for cell, values in record["curves"]["test_error"].items()}
        if "LSTM" not in finals:
            continue
        parts = []
        for cell in ("LN-LSTM", "BN-LSTM"):
            if cell in finals:
                verdict = is_lower(finals[cell], finals["LSTM"])
                word = {True: "lower than", False: "higher than", None: "within seed noise of"}[verdict]
                parts.append(f"{cell} {_percent(finals[cell])} is {word} the LSTM's {_percent(finals['LSTM'])}")
        seeds = len(finals["LSTM"])
        sentences.append(
            f"{setting}: " + "; ".join(parts) + (" (one seed)" if seeds == 1 else f" ({seeds} seeds)") + "."
        )
    return " ".join(sentences)


def gradient_spike_sentence(gradients: dict[str, np.ndarray]) -> str:
    """How the gradient at the first step compares with the median over steps, per cell."""
    parts = []
    for cell, values in gradients.items():
        ratio = float(values[0] / np.median(values))
        parts.append(f"{cell} {ratio:.2g}×")
    return (
        "‖∂L/∂h_1‖ relative to the median over all steps: "
        + ", ".join(parts)
        + ". A ratio far above 1 is a spike at the "
        "first step. One candidate cause, not tested here: h_1 is small, so the next step's batch norm divides "
        "W_h h_1 by a small batch spread, and its backward multiplies by the same large 1/σ."
    )


def shared_scale_sentence(records: list[dict]) -> str:
    """Where RMS norm over (C,H,W), which also shares one scale across an image's channels,
    places against LN(C,H,W): a check on the 'quiet channels squashed by one σ' story."""
    sentences = []
    for record in records:
        names = list(record["curves"]["test_error"])
        if "rms norm" not in names or "layer norm (C,H,W)" not in names:
            continue
        order = sorted(names, key=lambda name: _final(record, name).mean())
        rms, ln = order.index("rms norm") + 1, order.index("layer norm (C,H,W)") + 1
        text = (
            f"{record['dataset']}, batch {record['batch_size']}: RMS norm over (C,H,W) places {rms}, LN(C,H,W) "
            f"places {ln} of {len(names)}"
        )
        if rms <= 2:
            text += (
                "; a layer that also divides all channels of an image by one scale is among the best here, "
                "so a shared scale alone does not explain where LN(C,H,W) places"
            )
        sentences.append(text + ".")
    return " ".join(sentences)


def published_markdown(published: dict, unit: str) -> str:
    """A table of published numbers, one row per source."""
    rows = [
        [source, ", ".join(f"{name} {value}" for name, value in numbers.items())]
        for source, numbers in published.items()
    ]
    return markdown_table(["source", f"numbers ({unit})"], rows)


def gains_sentence(layers: dict[str, tuple], method: str, epochs: int) -> str:
    """How far training moved g from 1 and b from 0, per layer."""
    parts = []
    for layer, (gain, bias) in layers.items():
        parts.append(
            f"{layer}: g has median {np.median(gain):.2f} (5-95%: {np.percentile(gain, 5):.2f} to "
            f"{np.percentile(gain, 95):.2f}), {100 * np.mean(gain < 1):.0f}% of units below 1; b has median "
            f"{np.median(bias):+.3f} (5-95%: {np.percentile(bias, 5):+.2f} to {np.percentile(bias, 95):+.2f})"
        )
    return f"{method}, after {epochs} epoch(s): " + "; ".join(parts) + "."
