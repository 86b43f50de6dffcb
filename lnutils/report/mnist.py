"""Chapter 2's words: Figure 6 of Ba et al. 2016, its claims, ledger and overfitting rule,
rendered from :mod:`lnutils.experiments.mnist`'s numbers."""

from __future__ import annotations

import numpy as np

from lnutils.compare import curves_array
from lnutils.experiments import mnist
from lnutils.report.cells import (
    answer_words,
    budget_check_table,
    key_answers,
    markdown_table,
    mean_spread,
    nll_cell,
    percent,
    verdict_summary,
    verdict_table,
)
from lnutils.report.cells import probe_networks_sentence as probe_networks_sentence  # the chapter uses it too
from lnutils.report.cells import selection_markdown as selection_markdown  # the chapter uses it too


def partial_notes(saved: dict[int, dict]) -> dict[int, str]:
    """{batch size: "partial run: 8 of 65 epochs"} for each saved run that did not finish."""
    return {
        batch_size: f"partial run: {result['epochs_done']} of {result['config']['epochs']} epochs"
        for batch_size, result in saved.items()
        if not result.get("complete")
    }


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
                "final test error %": mean_spread(test[-1]),
                "best test error %": mean_spread(test.min(axis=0)),
                "final train NLL (geometric mean [min, max])": nll_cell(curves_array(curves, "train_nll", method)[-1]),
                "paper (Fig. 6, read off)": mnist.PUBLISHED.get(batch_size, {}).get(method, "–"),
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


CLAIMS = {
    "layer_norm_vs_batch_norm": "LN vs BN: which ends with the lower test error?",
    "layer_norm_vs_baseline": "LN vs no normalization",
    "batch_norm_vs_baseline": "BN vs no normalization",
    "layer_norm_beats_batch_norm_at_batch_4": "At batch 4, LN ends below BN (Ba et al. 2016, Sec. 6.6, Fig. 6)",
    "layer_norm_converges_faster_nll": "LN converges faster than BN: lower training NLL (Ba et al. 2016, Sec. 6.6)",
    "layer_norm_converges_faster_test_error": "LN converges faster than BN: lower test error (Sec. 6.6)",
    "layer_norm_robust_to_batch_size": "LN is robust to the batch size: batch 4 ≈ batch 128 (Ba et al. 2016, Sec. 6.6)",
    "layer_norm_robust_to_batch_size_equal_steps": "LN is robust to the batch size, at about equal steps",
    "batch_norm_robust_to_batch_size": "BN at batch 4 vs batch 128",
    "batch_norm_robust_to_batch_size_equal_steps": "BN at batch 4 vs batch 128, at about equal steps",
}
NAMES = {"layer norm": "LN", "batch norm": "BN", "baseline": "none"}


def _where(verdict: dict) -> str:
    planned = verdict.get("epochs_planned")
    of = f" of {planned}" if planned and planned != verdict["epoch"] else ""
    if "large_batch_epoch" in verdict:
        return f"batch 4 epoch {verdict['epoch']} vs batch 128 epoch {verdict['large_batch_epoch']}"
    if verdict["roles"][0].endswith("at batch 4"):
        return f"batch 4 vs 128, epoch {verdict['epoch']}{of}"
    return f"batch {verdict['batch_size']}, epoch {verdict['epoch']}{of}"


def _names(verdicts: list[dict]) -> dict:
    found = dict(NAMES)
    for v in verdicts:
        for role in v["roles"]:
            method, _, batch = role.partition(" at ")
            if batch:
                found[role] = f"{NAMES.get(method, method)} at {batch}"
    return found


def verdicts_markdown(verdicts: list[dict], unit: str = "test error %, or log10 NLL") -> str:
    """Chapter 2's questions answered (:func:`lnutils.experiments.mnist.verdicts`): one row each."""
    if not verdicts:
        return "No run to compare."
    return verdict_table(verdicts, CLAIMS, _where, unit, names=_names(verdicts))


def budget_check_markdown(checks: list[dict]) -> str:
    """The budget check (:func:`lnutils.experiments.mnist.budget_check`): each batch-128 test-error answer at
    the paper run's 65 epochs and at 130, on seeds 0 and 1, or that it has not run."""
    if not checks:
        return (
            "The budget check has not been trained on this machine yet: `python -m lnutils.experiments mnist run "
            "--profile budget` trains it (batch 128, seeds 0 and 1, the constant rate held for 130 epochs). "
            "Until it finishes, it confirms nothing."
        )
    return budget_check_table(checks, CLAIMS, "Test error % at batch 128 (the mean of the last epochs)", names=NAMES)


def summary_markdown(verdicts: list[dict]) -> str:
    """The Summary's answers (:func:`lnutils.report.cells.verdict_summary`)."""
    return verdict_summary(verdicts, CLAIMS, where=_where, names=_names(verdicts))


def early_test_error_sentence(below: tuple[int, int]) -> str:
    """How often BN's mean test error is below LN's early on (:func:`lnutils.experiments.mnist.bn_below_ln_epochs`)."""
    count, window = below
    return f"BN's seed-mean test error is below LN's in {count} of the first {window} epochs at batch 128."


def mnist_saved_markdown(saved: dict[int, dict]) -> str:
    """Where the saved paper-profile results came from."""
    if not saved:
        return "No saved paper-profile results are in this build; the figure shows the live run only."
    rows, sources = [], []
    for batch_size, result in sorted(saved.items(), reverse=True):
        p = result["provenance"]
        done = f"{result['epochs_done']} of {result['config']['epochs']}" + (
            "" if result.get("complete") else " (partial)"
        )
        rows.append([batch_size, done, result["config"]["seeds"], f"{p['wall_seconds'] / 60:.0f} min"])
        commit, checksum = (p["commit"] or "")[:10], p["data"]["checksum"][:12]
        where = f"{p['device']}, commit `{commit}`, data checksum `{checksum}`"
        sources.append(f"- batch {batch_size}: {where}, written {p['written']}")
    table = markdown_table(["batch size", "epochs done", "seeds", "training time"], rows)
    return table + "\n\n" + "\n".join(sources)


def saved_rates_sentence(configs: dict, saved: dict[int, dict], in_use: dict[int, dict | None]) -> str:
    """Which selection's rates this build uses, and whether each saved run was trained at them
    (``in_use``: :func:`lnutils.experiments.mnist.selections_in_use`)."""
    sentences = []
    for batch_size, config in configs.items():
        selection = in_use.get(batch_size) or {"config": {}, "chosen": {}}
        which = "full-length" if selection["config"].get("rule") else "short"
        rates = ", ".join(f"{m} {r:g}" for m, r in config.learning_rates.items())
        chosen = {m: float(r) for m, r in selection["chosen"].items()}
        source = f"the {which} selection's" if chosen == dict(config.learning_rates) else "its own"
        text = f"Batch {batch_size}: this build uses {source} learning rates ({rates})"
        if "superseded_by" in selection:
            new = selection["superseded_by"]
            text += (
                f" (a new selection is still training, {new['epochs_done']} of its {new['epochs']} epochs done; "
                "until it finishes, the one it replaces stays in use)"
            )
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


def baseline_gap_sentence(comparison: dict | None) -> str:
    """The baseline's gap to the paper, in words (:func:`lnutils.experiments.mnist.baseline_against_paper`)."""
    if comparison is None:
        return "No complete saved batch-128 run is in this build, so the baseline is not compared with the paper."
    c = comparison
    text = (
        f"At batch 128 the saved baseline (learning rate {c['learning_rate']:g}) ends epoch {c['epoch']} at "
        f"{percent(np.asarray(c['values']) / 100)}, {abs(c['gap_points']):.2f} points "
        f"{'above' if c['gap_points'] > 0 else 'below'} the ≈{c['paper']:g} % read off the paper's Figure 6"
    )
    if c["seed_spread_points"]:
        text += f" ({abs(c['gap_points']) / c['seed_spread_points']:.1f} times its standard deviation over seeds)"
    text += "."
    for other in c["other_rates"]:
        words = {
            "undecided": "undecided against it (the interval is too wide), so the runs cannot say how much of the gap "
            "the rate makes",
            "equivalent": "equivalent to it within ±0.2 points: the rate does not explain the gap",
            "first lower": "lower by the comparison rule: the rate accounts for part of the gap",
            "second lower": "higher by the comparison rule: another rate does not close the gap",
        }[other["outcome"]]
        text += (
            f" The replaced run at rate {other['learning_rate']:g} (listed with its results above) ended at "
            f"{percent(np.asarray(other['values']) / 100)}, {words}."
        )
    return (
        text + " No other measurement here explains the gap. The paper does not state the weight initialisation, "
        "the nonlinearity or the input scaling (the ledger above gives ours), and our training images are a rebuilt "
        "copy within 1/255 of the original: each is a candidate, none is tested."
    )


def replaced_runs_markdown(replaced: dict[int, list[dict]]) -> str:
    """The paper-profile runs that a run of another configuration replaced
    (:func:`lnutils.experiments.mnist.replaced_paper_runs`): their rates and final test errors; "" if none."""
    rows = []
    for batch_size, olds in replaced.items():
        for old in olds:
            curves = old["curves"]
            rows.append(
                [
                    batch_size,
                    f"{old['epochs_done']} of {old['config']['epochs']}",
                    old["config"]["seeds"],
                    ", ".join(f"{m} {r:g}" for m, r in old["config"]["learning_rates"].items()),
                    ", ".join(
                        f"{m} {percent(curves_array(curves, 'test_error', m)[-1])}" for m in curves["test_error"]
                    ),
                ]
            )
    if not rows:
        return ""
    table = markdown_table(["batch size", "epochs", "seeds", "learning rates", "final test error"], rows)
    return "Earlier paper-profile runs, replaced by the ones above and kept with their results:\n\n" + table


def full_length_status(selections: dict[int, dict | None]) -> str:
    """Where the full-length selections stand, per batch size, for the ledger
    (:func:`lnutils.experiments.mnist.full_length_selections`)."""
    parts = []
    for batch_size, found in selections.items():
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
                "its test error improving (no test NLL is measured, so this says nothing about a test loss)."
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
    conclusion = (
        "That is within the spread between seeds, which is what rounding in another order (another stack size or "
        "thread count) grows into during training: the code still produces the saved curves."
        if consistent
        else "That is more than the spread between seeds: the code or its environment no longer reproduces "
        "the saved run, and the saved run should be checked."
    )
    return "The live quick run retrains the first epochs of the saved run with the same seeds and rates: " + (
        "; ".join(parts) + ". " + conclusion
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


# What chapter 2 does where the paper is silent or says something: (detail, paper says, we do, why).
SETUP_ROWS = (
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
        "Adam (β = 0.9, 0.999, Adam's ε = 1e-8), PyTorch's fused kernel",
        "PyTorch defaults; the paper states neither β nor Adam's ε",
    ),
)
BATCH_NORM_ROWS = (
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
)
MEASUREMENT_ROWS = (
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
)


def selection_rule_words(in_use: dict | None, bs: int) -> str:
    """How batch size ``bs``'s learning rates were chosen, in words."""
    sel = (in_use or {}).get(bs)
    if sel is None:
        return "no selection file"
    subset = f", first {sel['train_subset']:,} training images" if sel.get("train_subset") else ""
    which = "full-length rule" if sel["config"].get("rule") else "short selection"
    grid = ", ".join(f"{rate:g}" for rate in sel["grid"])
    waiting = (
        " (a new selection is still training; this one is used until it finishes)" if ("superseded_by" in sel) else ""
    )
    return f"{which}: grid {grid}{subset}; {sel['rule']}{waiting}"


def fidelity_ledger(
    configs: dict[int, mnist.RunConfig],
    saved: dict[int, dict] | None = None,
    selections: dict | None = None,
    in_use: dict[int, dict | None] | None = None,
) -> str:
    """Markdown: each detail of the setup, what the paper says, what we do, and why.  ``saved``: the saved
    paper runs, which the figure shows (the epochs and seeds rows then describe them); ``selections``: the
    full-length selections; ``in_use``: the selection each batch size uses
    (:func:`lnutils.experiments.mnist.selections_in_use`)."""
    rates = {bs: ", ".join(f"{m} {c.learning_rates[m]:g}" for m in c.methods) for bs, c in configs.items()}

    return markdown_table(
        ["detail", "paper says", "we do", "why"],
        [
            *SETUP_ROWS,
            (
                "learning rate (batch 128)",
                "not stated",
                rates.get(128, "–"),
                selection_rule_words(in_use, 128) if 128 in configs else "–",
            ),
            (
                "learning rate (batch 4)",
                "not stated",
                rates.get(4, "–"),
                selection_rule_words(in_use, 4) if 4 in configs else "–",
            ),
            (
                "learning-rate rule",
                "not stated",
                "short selection: a few epochs per rate, lowest final validation error (batch 4: 2 seeds, 3 epochs, "
                "its grid widened until every choice is interior); "
                "fair rule: every method × rate for 65 epochs, lowest mean validation error of the last 5 "
                "(no early stopping), then 3 seeds at the chosen rates. The fair rule's choice is used once it is "
                f"complete. Fair rule so far: {full_length_status(selections or {})}",
                "a short horizon favours fast early progress; the fair rule gives every method the same "
                "full-length search",
            ),
            *BATCH_NORM_ROWS,
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
            *MEASUREMENT_ROWS,
        ],
    )


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


KEY_QUESTIONS = {
    "layer_norm_vs_batch_norm": "LN or BN, lower test error at batch 128?",
    "layer_norm_beats_batch_norm_at_batch_4": "LN or BN at batch 4?",
    "layer_norm_robust_to_batch_size": "LN as good at batch 4 as at 128 (equal epochs)?",
}


def key_answers_markdown(verdicts: list[dict]) -> str:
    """Chapter 2's key questions and answers (:func:`lnutils.report.cells.key_answers`)."""
    return key_answers(verdicts, KEY_QUESTIONS, names=_names(verdicts))


def sensitivity_markdown(found: dict | None) -> str:
    """The learning-rate sensitivity at batch 128 (:func:`lnutils.experiments.mnist.sensitivity`): final test
    error per method and rate (mean ± sd over the seeds held), each method's best rate, and the answers at
    the best rates and at the shared rate."""
    if found is None:
        return (
            "No complete full-length selection is saved: `python -m lnutils.experiments mnist select "
            "--full-length --batch-size 128 --seeds S` trains seed S (hours on a CPU, minutes on a GPU)."
        )
    grid = found["grid"]
    rows = []
    for method, rates in found["test_error"].items():
        cells = [mean_spread(rates[r]) if r in rates else "–" for r in grid]
        rows.append([NAMES.get(method, method), *cells, f"{found['best'][method]:g}"])
    table = markdown_table(["method", *(f"lr {r:g}" for r in grid), "best rate (validation)"], rows)
    held, planned = found["seeds"], found["planned_seeds"]
    status = f"Seeds {', '.join(map(str, held))} of the planned {', '.join(map(str, planned))}" + (
        "." if held == planned else ": **partial**, the answers below wait for the other seeds."
    )
    lines = []
    for v in found["verdicts"]:
        first, second = (NAMES.get(r, r) for r in v["roles"])
        rates = f"{first} at {v['rates'][0]:g}, {second} at {v['rates'][1]:g}"
        at = "each at its best rate" if v["at"] == "best" else f"both at the shared rate {v['rates'][0]:g}"
        lines.append(f"- {first} vs {second}, {at} ({rates}): {answer_words(v, names=NAMES)}.")
    return (
        f"{table}\n\nFinal test error %, mean of the last 5 epochs, ± sd over seeds. {status}\n\n"
        + "\n".join(lines)
        + matched_speed_markdown(found.get("speed") or [])
    )


def matched_speed_markdown(speed: list[dict]) -> str:
    """The speed questions at matched rates (:func:`lnutils.experiments.mnist_rates.matched_rate_speed`): the
    epochs to reach each validation error, per seed, and the comparison rule's answer."""
    if not speed:
        return ""
    rows = []
    for v in speed:
        first, second = (NAMES.get(r, r) for r in v["roles"])
        rates = (
            f"both {v['rates'][0]:g}"
            if v["at"] == "shared"
            else f"{first} {v['rates'][0]:g}, {second} {v['rates'][1]:g}"
        )
        per_seed = "; ".join(
            f"{name} {', '.join('never' if e is None else str(e) for e in side)}"
            for name, side in zip((first, second), v["epochs"])
        )
        answer = answer_words(v, 1, NAMES) if not any(v["never"]) else "not compared: a seed never got there"
        rows.append([f"{first} vs {second}", rates, f"{v['threshold']:g} %", per_seed, answer])
    table = markdown_table(["pair", "rates", "validation error", "epochs to reach it, per seed", "answer"], rows)
    return (
        "\n\n**Faster at the same rate?** The epochs each method needs to reach a validation error, at one "
        "shared rate and at each method's best rate (paired by seed; equivalent within ±1 epoch):\n\n" + table
    )
