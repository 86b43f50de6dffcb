"""Words from numbers: the Markdown tables and verdict sentences the chapters display.

Every sentence here that compares numbers is computed from them, with the book's
seed-noise rule (:func:`lnutils.compare.is_lower`): a difference smaller than two
standard errors over seeds is "within seed noise", and with one seed the sentence says
so.  Nothing here trains; the modules of :mod:`lnutils.experiments` return the numbers,
and every table goes through :func:`markdown_table`.
"""

from __future__ import annotations

import numpy as np

from lnutils import runs
from lnutils.compare import LAST_EPOCHS, curves_array, geometric_mean, is_lower
from lnutils.experiments import mnist
from lnutils.experiments.rnn import adding_results


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """A pipe table; cells are written with ``str``."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _percent(values) -> str:
    """Mean ± sample standard deviation over seeds, in %; the mean alone for one seed."""
    return _mean_spread(100 * np.asarray(values, dtype=float)) + "%"


def _mean_spread(values) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) > 1:
        return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"
    return f"{values.mean():.2f}"


def _nll_cell(values: np.ndarray) -> str:
    """Training NLLs of several seeds span orders of magnitude: their geometric mean and range."""
    values = np.asarray(values, dtype=float)
    geometric = float(geometric_mean(values))
    return f"{geometric:.1e} [{values.min():.0e}, {values.max():.0e}]" if len(values) > 1 else f"{geometric:.1e}"


def partial_notes(saved: dict[int, dict]) -> dict[int, str]:
    """{batch size: "partial run: 8 of 65 epochs"} for each saved run that did not finish."""
    return {
        batch_size: f"partial run: {result['epochs_done']} of {result['config']['epochs']} epochs"
        for batch_size, result in saved.items()
        if not result.get("complete")
    }


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


def selection_settle_epochs(selection: dict) -> int:
    """How many final epochs a selection's rule averages: its recorded number; for files written before it
    was recorded, a full-length selection (its config names a rule) averaged mnist.SETTLE_EPOCHS."""
    if "settle_epochs" in selection:
        return int(selection["settle_epochs"])
    return mnist.SETTLE_EPOCHS if selection.get("config", {}).get("rule") else 1


def selection_markdown(selection: dict | None, names=None, what: str = "method") -> str:
    """Validation error per name and learning rate at the end of a selection run (for a
    full-length run: the mean of its last 5 epochs), the chosen rate, and the rule."""
    if selection is None:
        return "No learning-rate selection is recorded for this setting."
    grid = selection["grid"]
    curves = selection["curves"]["val_error"]
    names = names or list(selection["chosen"])
    settle = selection_settle_epochs(selection)
    rows, margins = [], []
    validation_images = selection.get("validation", mnist.RunConfig.validation)
    for name in names:
        scores = {rate: 100 * np.mean(np.asarray(curves[runs.grid_label(name, rate)])[-settle:, 0]) for rate in grid}
        rows.append([name, *(f"{scores[rate]:.2f}%" for rate in grid), f"{selection['chosen'][name]:g}"])
        ordered = sorted(scores.values())
        margin = ordered[1] - ordered[0] if len(ordered) > 1 else float("nan")
        edge = selection["chosen"][name] in (min(grid), max(grid))
        margins.append(
            f"{name}: chosen by {margin:.2f} points over the next rate (about {margin / 100 * validation_images:.1f} "
            f"of {validation_images:,} validation images)" + ("; **at the edge of the grid**" if edge else "")
        )
    table = markdown_table([what, *(f"lr {rate:g}" for rate in grid), "chosen"], rows)
    seeds = len(np.asarray(next(iter(curves.values())))[0])
    table += (
        "\n\nMargins: "
        + "; ".join(margins)
        + (
            f". With {seeds} seed there is no estimate of seed noise: a margin of a few images is a tie that "
            "another seed could reverse, and a rate at the edge of the grid may be beaten by one beyond it."
            if seeds == 1
            else "."
        )
    )
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


def mnist_results_rows(curves: dict, batch_size: int) -> list[dict]:
    """Final and best test error (mean ± sample standard deviation over seeds, in %) per method."""
    rows = []
    for method in curves["test_error"]:
        test = 100 * curves_array(curves, "test_error", method)
        rows.append(
            {
                "method": method,
                "batch size": batch_size,
                "seeds": test.shape[1],
                "epochs": test.shape[0],
                "final test error %": _mean_spread(test[-1]),
                "best test error %": _mean_spread(test.min(axis=0)),
                "final train NLL (geometric mean [min, max])": _nll_cell(curves_array(curves, "train_nll", method)[-1]),
                "paper (Fig. 6, read off)": mnist.PAPER_FIGURE_6.get(batch_size, {}).get(method, "–"),
            }
        )
    return rows


def mnist_results_markdown(curves_by_batch: dict[int, dict], label: str, notes: dict[int, str] | None = None) -> str:
    """The results table of chapter 2, one row per (batch size, method), partial runs marked."""
    rows = [row for bs in sorted(curves_by_batch, reverse=True) for row in mnist_results_rows(curves_by_batch[bs], bs)]
    for row in rows:
        if (notes or {}).get(row["batch size"]):
            row["epochs"] = f"{row['epochs']} ({notes[row['batch size']]})"
    headers = list(rows[0])
    return f"**{label}**\n\n" + markdown_table(headers, [[row[h] for h in headers] for row in rows])


def verdict(claim: dict) -> str:
    """yes, **no** or within seed noise, marked when one seed decided; on a partial saved run or a live
    quick run, no yes or no at all: what the numbers lean to, and why it is not decided."""
    evidence = claim.get("evidence", "complete")
    if evidence != "complete":
        lean = {True: "leans yes", False: "leans no", None: "within seed noise"}[claim["holds"]]
        why = "a live quick run ranks nothing" if evidence == "live quick run" else evidence
        return f"not decided: {why} ({lean})"
    word = {True: "yes", False: "**no**", None: "within seed noise"}[claim["holds"]]
    return word + (" (1 seed)" if claim["seeds"] == 1 else "")


def claim_evidence(claim: dict) -> str:
    """The numbers a claim compared: test error in % (± spread over seeds), or the training NLL
    as a geometric mean over seeds; the epoch when one epoch (or the window ending there) is compared."""
    at = f" at epoch {claim['epoch']}" if claim.get("epoch") else ""
    if claim["metric"] == "test error":
        text = ", ".join(f"{name} {_percent(values)}" for name, values in claim["values"].items()) + at
        if "bn_below_ln_epochs" in claim:
            text += (
                f"; BN's mean test error is below LN's in {claim['bn_below_ln_epochs']} of the first "
                f"{claim['window']} epochs"
            )
        return text
    text = "train NLL " + ", ".join(f"{name} {10 ** values.mean():.1e}" for name, values in claim["values"].items())
    return text + at


def claims_markdown(
    curves_by_batch: dict[int, dict], label: str, notes: dict[int, str] | None = None, live: bool = False
) -> str:
    """The paper's claims for Figure 6 with this run's verdicts (:func:`lnutils.experiments.mnist.claims`);
    ``live``: a live quick run, which decides no claim."""
    rows = [
        [claim["claim"] + (f" ({claim['note']})" if claim["note"] else ""), verdict(claim), claim_evidence(claim)]
        for claim in mnist.claims(curves_by_batch, notes, live=live)
    ]
    return markdown_table(
        [
            f"claim of the paper ({label})",
            "holds here?",
            f"evidence (mean of the last {LAST_EPOCHS} epochs, or the last quarter of a shorter run, and over seeds; "
            "± the spread over seeds; NLL as a geometric mean)",
        ],
        rows,
    )


def mnist_saved_markdown(saved: dict[int, dict]) -> str:
    """Where the saved paper-profile results came from."""
    if not saved:
        return "No saved paper-profile results are in this build; the figure shows the live run only."
    rows = []
    for batch_size, result in sorted(saved.items(), reverse=True):
        p = result["provenance"]
        done = f"{result['epochs_done']} of {result['config']['epochs']}" + (
            "" if result.get("complete") else " (partial)"
        )
        rows.append(
            [
                batch_size,
                done,
                result["config"]["seeds"],
                p["device"],
                f"{p['wall_seconds'] / 60:.0f} min",
                f"`{p['commit']}`",
                f"`{p['data']['checksum'][:12]}`",
                p["written"],
            ]
        )
    return markdown_table(
        ["batch size", "epochs done", "seeds", "device", "wall time", "commit", "data checksum", "written"], rows
    )


def saved_rates_sentence(configs: dict, saved: dict[int, dict]) -> str:
    """Which selection's rates this build uses, and whether each saved run was trained at them."""
    sentences = []
    for batch_size, config in configs.items():
        selection = mnist.selection_in_use(batch_size)
        which = "full-length" if selection["config"].get("rule") else "first, short"
        rates = ", ".join(f"{m} {r:g}" for m, r in config.learning_rates.items())
        chosen = {m: float(r) for m, r in selection["chosen"].items()}
        source = f"the {which} selection's" if chosen == dict(config.learning_rates) else "its own"
        text = f"Batch {batch_size}: this build uses {source} learning rates ({rates})"
        if batch_size in saved:
            used = saved[batch_size]["config"]["learning_rates"]
            if {m: float(r) for m, r in used.items()} == {m: float(r) for m, r in config.learning_rates.items()}:
                text += "; the saved paper run was trained at the same rates"
            else:
                text += (
                    "; the saved paper run was trained at other rates ("
                    + ", ".join(f"{m} {r:g}" for m, r in used.items())
                    + "), so its curves are not yet those of the selection in use"
                )
        sentences.append(text + ".")
    return " ".join(sentences)


def replaced_runs_markdown(batch_sizes=(128, 4)) -> str:
    """The paper-profile runs that a run of another configuration replaced (kept as
    ``mnist_paper_b<B>.replaced-<n>.json``): their rates and final test errors; "" if none."""
    rows = []
    for batch_size in batch_sizes:
        for old in runs.replaced_results(f"mnist_paper_b{batch_size}.json"):
            curves = old["curves"]
            rows.append(
                [
                    batch_size,
                    f"{old['epochs_done']} of {old['config']['epochs']}",
                    old["config"]["seeds"],
                    ", ".join(f"{m} {r:g}" for m, r in old["config"]["learning_rates"].items()),
                    ", ".join(
                        f"{m} {_percent(curves_array(curves, 'test_error', m)[-1])}" for m in curves["test_error"]
                    ),
                ]
            )
    if not rows:
        return ""
    table = markdown_table(["batch size", "epochs", "seeds", "learning rates", "final test error"], rows)
    return "Earlier paper-profile runs, replaced by the ones above and kept with their results:\n\n" + table


def full_length_status() -> str:
    """Where the full-length selections stand, per batch size, for the ledger."""
    parts = []
    for batch_size in (128, 4):
        found = mnist.load_results("lr_full", batch_size)
        if found is None:
            parts.append(f"batch {batch_size} not run")
            continue
        chosen = ", ".join(f"{m} {r:g}" for m, r in found["chosen"].items())
        done = "complete" if found.get("complete") else f"partial, {found['epochs_done']} of {found['epochs']} epochs"
        parts.append(f"batch {batch_size} {done}, choosing {chosen}")
    return "; ".join(parts) + "."


def _orders(value: float) -> str:
    """An NLL change in words: 'fell 1.4 orders', 'rose 0.3 orders' (log10 of the ratio, sign spelt out)."""
    return f"{'fell' if value >= 0 else 'rose'} {abs(value):.1f} orders"


def overfitting_markdown(rows: list[dict], note: str = "") -> str:
    """The epoch of lowest validation error per method, and what training did after it;
    ``note`` (e.g. "partial run: 40 of 65 epochs") is said under the table."""
    table = []
    for row in rows:
        after_best = np.log10(max(row["train NLL at best"], 1e-300) / max(row["final train NLL"], 1e-300))
        table.append(
            [
                row["method"],
                f"{row['best validation epoch']} of {row['epochs']}",
                f"{row['train NLL at best']:.1e} → {row['final train NLL']:.1e} ({_orders(after_best)})",
                f"{row['test error at best %']:.2f}% → {row['final test error %']:.2f}%",
            ]
        )
    headers = [
        "method",
        "best validation epoch",
        "train NLL: at best → final (geometric mean over seeds; orders of magnitude = log10 of the ratio)",
        "test error: at best → final",
    ]
    return markdown_table(headers, table) + (
        f"\n\n**{note[0].upper() + note[1:]}**: later epochs may change it." if note else ""
    )


def overfitting_sentence(rows: list[dict]) -> str:
    """Which methods keep fitting the training set without generalizing better: over the last quarter of
    training the training NLL falls by at least ``rule orders`` orders of magnitude while the test error
    moves by less than ``rule flat points`` points (both carried by the rows)."""
    if not rows:
        return ""
    first = rows[0]
    rule = (
        f"The rule: over the last quarter of training (epochs {first['last quarter from epoch']}-{first['epochs']}), "
        f"the training NLL falls by at least {first['rule orders']:g} order of magnitude while the test error moves "
        f"by less than {first['rule flat points']:g} points."
    )
    sentences = []
    for row in rows:
        if (
            row["NLL fell by orders"] >= row["rule orders"]
            and abs(row["test error moved points"]) < row["rule flat points"]
        ):
            sentences.append(
                f"{row['method']}: over epochs {row['last quarter from epoch']}-{row['epochs']} its training NLL "
                f"{_orders(row['NLL fell by orders'])} while the test error moves by "
                f"{row['test error moved points']:+.2f} points, so it keeps fitting the training set without "
                "generalizing better (overfitting in the NLL, not in the error)."
            )
    return " ".join([rule, *sentences]) if sentences else rule + " No method does so in this run."


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


def _run_sizes(configs: dict[int, mnist.RunConfig], saved: dict[int, dict] | None, what: str) -> str:
    """The epochs or seeds of the runs the figure shows: the saved runs (done of asked, partial marked),
    then this build's live run for the batch sizes without one."""
    parts = []
    for bs, config in configs.items():
        run = (saved or {}).get(bs)
        if run is not None and what == "epochs":
            partial = "" if run.get("complete") else ", partial"
            parts.append(f"batch {bs}: {run['epochs_done']} of {run['config']['epochs']} (saved run{partial})")
        elif run is not None:
            parts.append(f"batch {bs}: {len(run['config']['seeds'])} (saved run)")
        else:
            parts.append(
                f"batch {bs}: {config.epochs if what == 'epochs' else len(config.seeds)} (this build's live run)"
            )
    return ", ".join(parts)


def fidelity_ledger(configs: dict[int, mnist.RunConfig], saved: dict[int, dict] | None = None) -> str:
    """Markdown: each detail of the setup, what the paper says, what we do, and why.  ``saved``: the saved
    paper runs, which the figure shows (the epochs and seeds rows then describe them)."""
    rates = {bs: ", ".join(f"{m} {c.learning_rates[m]:g}" for m in c.methods) for bs, c in configs.items()}

    def rule(bs):
        try:
            sel = mnist.selection_in_use(bs)
        except FileNotFoundError:
            return "no selection file"
        subset = f", first {sel['train_subset']:,} training images" if sel.get("train_subset") else ""
        which = "full-length rule" if sel["config"].get("rule") else "first attempt"
        return f"{which}: grid {sel['grid']}{subset}; {sel['rule']}"

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
            "first attempt: a few epochs per rate, lowest final validation error; "
            "fair rule: every method × rate for 65 epochs, lowest mean validation error of the last 5 "
            "(no early stopping), then 3 seeds at the chosen rates. The fair rule's choice is used once it is "
            f"complete. Fair rule so far: {full_length_status()}",
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
            _run_sizes(configs, saved, "epochs"),
            "the run the figure shows: the saved run where there is one",
        ),
        (
            "seeds",
            "not stated (bands suggest several)",
            _run_sizes(configs, saved, "seeds"),
            "the run the figure shows: the saved run where there is one",
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
    return markdown_table(["detail", "paper says", "we do", "why"], rows)


# ----------------------------------------------------------------------------- conv


def _final(record: dict, name: str) -> np.ndarray:
    return np.asarray(record["curves"]["test_error"][name], dtype=float)[-1]


def conv_results_markdown(records: list[dict]) -> str:
    """Final test error (%) per dataset, batch size and normalization, mean ± std over seeds."""
    names = list(records[0]["curves"]["test_error"])
    rows = [[name, *(_mean_spread(100 * _final(record, name)) for record in records)] for name in names]
    headers = ["normalization", *(f"{r['dataset']}, batch {r['batch_size']}" for r in records)]
    return markdown_table(headers, rows)


def conv_saved_markdown(saved: dict | None) -> str:
    """Where the saved paper-profile conv run came from, and its results."""
    if not saved or not saved.get("parts"):
        return "No saved paper-profile results are in this build; the tables show the live quick run only."
    records = list(saved["parts"].values())
    rows = []
    for record in records:
        p = record["provenance"]
        rows.append(
            [
                record["dataset"],
                record["batch_size"],
                record["config"]["seeds"],
                record["config"]["epochs"],
                p["device"],
                f"{p['wall_seconds'] / 60:.0f} min",
                f"`{p['commit']}`",
                f"`{p['data']['checksum'][:12]}`",
            ]
        )
    table = markdown_table(
        ["dataset", "batch size", "seeds", "epochs", "device", "wall time", "commit", "data checksum"], rows
    )
    status = "" if saved.get("complete") else f" (**partial**: {len(records)} of {len(saved['config']['parts'])} parts)"
    return f"Saved paper-profile run{status}:\n\n" + table + "\n\n" + conv_results_markdown(records)


def border_markdown(probe: dict[str, list[dict]]) -> str:
    """The border probe (:func:`lnutils.experiments.conv.border_probe`) as a table."""
    rows = [
        [
            name,
            row["block"],
            row["size"],
            f"{100 * row['active at border']:.0f}%",
            f"{100 * row['active in centre']:.0f}%",
            f"{row['position spread']:.2f}",
            f"{row['channel scale ratio']:.1f}",
        ]
        for name, blocks in probe.items()
        for row in blocks
    ]
    headers = [
        "normalization",
        "block",
        "size",
        "active at border",
        "active in centre",
        "position spread",
        "channel scale ratio",
    ]
    return markdown_table(headers, rows)


def border_sentences(probe: dict[str, list[dict]]) -> str:
    """Plain sentences from the probe: does LN(C,H,W) show the border effect the paper guessed, or a channel effect?"""
    if "layer norm (C,H,W)" not in probe or "batch norm" not in probe:
        return "The probe needs the batch-norm and LN(C,H,W) networks."
    ln, bn = probe["layer norm (C,H,W)"], probe["batch norm"]
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

    def gap(row):
        return row["active in centre"] - row["active at border"]

    larger_gap = sum(gap(ln_row) > gap(bn_row) for ln_row, bn_row in zip(ln, bn))
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


def sequential_markdown(records: dict[str, dict], target_error: float = 0.10) -> str:
    """Final test error and the first epoch whose validation error is below ``target_error``."""
    rows = []
    for setting, record in records.items():
        for cell, values in record["curves"]["test_error"].items():
            validation = np.asarray(record["curves"]["val_error"][cell]).mean(axis=1)
            reached = np.nonzero(validation < target_error)[0]
            first = str(reached[0] + 1) if len(reached) else f"not within {len(validation)}"
            nll = np.asarray(record["curves"]["train_nll"][cell])[-1].mean()
            rows.append([setting, cell, _mean_spread(100 * np.asarray(values)[-1]), f"{nll:.3f}", first])
    headers = [
        "setting",
        "cell",
        "final test error %",
        "final train NLL",
        f"first epoch with validation error < {100 * target_error:g}%",
    ]
    return markdown_table(headers, rows)


def adding_markdown(results: dict) -> str:
    """The adding problem: final training MSE and test MSE at each test length."""
    lengths = list(next(iter(results.values()))["test_mse"])
    rows = [
        [
            name,
            f"{np.mean(result['train_loss'][-100:]):.4f}",
            *(f"{result['test_mse'][n]:.4f}" for n in lengths),
        ]
        for name, result in results.items()
    ]
    headers = ["cell", "final train MSE (mean of last 100 steps)", *(f"test MSE, length {n}" for n in lengths)]
    return markdown_table(headers, rows) + "\n\nFor reference, always predicting the mean (1.0) gives MSE 0.167."


def rnn_saved_markdown(saved: dict | None) -> str:
    """Where the saved paper-profile RNN run came from, and its results."""
    parts = dict(saved["parts"]) if saved else {}
    adding = parts.pop("adding", None)
    if not parts and not adding:
        return "No saved paper-profile results are in this build; the tables show the live quick run only."
    status = "" if saved.get("complete") else " (**partial**: the parts not listed have not finished)"
    out = [f"Saved paper-profile run{status}:", ""]
    for setting, record in parts.items():
        p = record["provenance"]
        out.append(
            f"- {setting}: seeds {record['config']['seeds']}, {record['config']['epochs']} epochs, {p['device']}, "
            f"{p['wall_seconds'] / 60:.0f} min, commit `{p['commit']}`, data checksum `{p['data']['checksum'][:12]}`"
        )
    if parts:
        out += ["", sequential_markdown(parts)]
    if adding:
        out += ["", adding_markdown(adding_results(adding))]
    return "\n".join(out)


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
    constant = [
        f"{cell} (spread of its outputs {max(result['prediction_std'].values()):.3f})"
        for cell, result in results.items()
        if "prediction_std" in result and max(result["prediction_std"].values()) < CONSTANT_OUTPUT_STD
    ]
    if constant:
        sentences.append(
            "Giving nearly one output whatever the sequence: " + ", ".join(constant) + ". Such a model has not "
            "learned the task, and its MSE is the same at every length, because the targets' distribution "
            "(a sum of two uniform values) does not depend on the length."
        )
    return " ".join(sentences) + " One seed: a single training run per cell."


CONSTANT_OUTPUT_STD = 0.05  # the targets' own spread is sqrt(1/6) ≈ 0.41: a model below this ignores its input


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
