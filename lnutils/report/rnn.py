"""Chapter 4's words: layer norm in recurrent networks, rendered from
:mod:`lnutils.experiments.rnn`'s numbers."""

from __future__ import annotations

import numpy as np

from lnutils.compare import epochs_done
from lnutils.experiments.rnn import PREDICT_MEAN_MSE, adding_part_convergence, adding_results
from lnutils.report.cells import (
    budget_check_table,
    key_answers,
    markdown_table,
    mean_spread,
    nll_cell,
    retrace_sentence,
    rule_words,
    schedule_words,
    seed_progress,
    signed,
    verdict_summary,
    verdict_table,
)
from lnutils.report.cells import probe_networks_sentence as probe_networks_sentence  # the chapter uses it too
from lnutils.report.cells import published_markdown as published_markdown  # the chapter uses it too
from lnutils.runs import result_parts


def sequential_markdown(records: dict[str, dict]) -> str:
    """Final test error and training NLL per setting and cell (mean ± sd over seeds).  How fast each cell
    learned is the speed table's (:func:`speed_markdown`)."""
    rows = []
    for setting, record in records.items():
        for cell, values in record["curves"]["test_error"].items():
            nll = np.asarray(record["curves"]["train_nll"][cell])[-1]
            rows.append([setting, cell, mean_spread(100 * np.asarray(values)[-1]), nll_cell(nll)])
    return markdown_table(["setting", "cell", "final test error %", "final train NLL"], rows)


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
    return (
        markdown_table(headers, rows)
        + f"\n\nFor reference, always predicting the mean (1.0) gives MSE {PREDICT_MEAN_MSE:.3f}."
    )


def rnn_saved_markdown(saved: dict | None, what: str = "paper-profile") -> str:
    """Where a saved RNN run came from, how far each part got, and its results."""
    parts = dict(saved.get("parts", {})) if saved else {}
    training = dict(saved.get("in_progress", {})) if saved else {}
    adding = parts.pop("adding", None)
    if not parts and not adding and not training:
        return f"No saved {what} run is in this build."
    status = "" if saved.get("complete") else " (**partial**: the parts not listed as complete have not finished)"
    out = [f"Saved {what} run{status}:", ""]
    for setting, record in {**parts, **training}.items():
        p = record["provenance"]
        state = (
            "complete"
            if setting in parts
            else f"**training**, epoch {epochs_done(record)} of {record['config']['epochs']}"
        )
        if setting not in parts:
            state += seed_progress(record)
        out.append(
            f"- {setting}: {state}; {schedule_words(record['config'])}; seeds {record['config']['seeds']}, "
            f"{p['device']}, "
            f"{p['wall_seconds'] / 60:.0f} min, commit `{(p['commit'] or '')[:10]}`, "
            f"data checksum `{p['data']['checksum'][:12]}`"
        )
    if adding:
        seeds = adding.get("seeds", [0])
        out.append(f"- adding problem: complete; seeds {seeds}, {adding['settings']['steps']:,} steps")
    if parts or training:
        rules = sorted({rule_words(record) for record in {**parts, **training}.values()})
        out += ["", "Rule: " + "; ".join(rules) + ".", "", sequential_markdown({**parts, **training})]
    if parts or training:
        out += ["", training_gap_sentence({**parts, **training})]
    if adding:
        out += ["", adding_markdown(adding_results(adding)), "", adding_convergence_sentence(adding)]
    return "\n".join(out)


def training_gap_sentence(records: dict[str, dict]) -> str:
    """Each normalized cell's final test error and training NLL against the plain cell's (means over seeds),
    per setting.  The training NLL is measured in eval mode (:func:`lnutils.train.evaluate`), so for the
    BN-LSTM it uses population statistics: it cannot tell a gap made in training from one made by them."""
    sentences = []
    for setting, record in records.items():
        nll = {cell: float(np.mean(values[-1])) for cell, values in record["curves"]["train_nll"].items()}
        error = {cell: 100 * float(np.mean(values[-1])) for cell, values in record["curves"]["test_error"].items()}
        pairs = [(cell, "LSTM") for cell in ("LN-LSTM", "BN-LSTM")] + [("LN-GRU", "GRU")]
        parts = [
            f"{cell} {error[cell]:.2f} % test error with training NLL {nll[cell]:.3f}, against {plain}'s "
            f"{error[plain]:.2f} % with {nll[plain]:.3f} ({nll[cell] / nll[plain]:.1f}× its training NLL)"
            for cell, plain in pairs
            if cell in nll and plain in nll
        ]
        if parts:
            sentences.append(f"{setting}, last epoch: " + "; ".join(parts) + ".")
    return (
        " ".join(sentences)
        + " The training NLL is measured in eval mode: for the BN-LSTM that is with population statistics, as at "
        "test time, so it does not say whether the gap is made in training. The BN-LSTM study in the section "
        "on the networks' insides reads it both ways."
    )


def adding_convergence_sentence(part: dict) -> str:
    """The adding problem's convergence check (:func:`lnutils.experiments.rnn.adding_part_convergence`)."""
    checks = adding_part_convergence(part)
    first = next(iter(checks.values()))
    cells = "; ".join(
        f"{cell} {'yes' if check['converged'] else 'no'} (moved {check['moved_mse']:.4f})"
        for cell, check in checks.items()
    )
    return (
        f"Convergence check: the training MSE averaged over the last {first['window_steps']:,} steps moved by "
        f"less than {first['threshold_mse']:.4f} (1 % of predicting the mean) from the {first['window_steps']:,} "
        f"steps before, for every seed: {cells}."
    )


def adding_sentences(results: dict) -> str:
    """Which cells beat predicting the mean (MSE 1/6) at each test length (each cell against that
    constant; the cells are compared with each other only in the verdict table, over seeds)."""
    chance = PREDICT_MEAN_MSE
    sentences = []
    for length in next(iter(results.values()))["test_mse"]:
        mse = {cell: result["test_mse"][length] for cell, result in results.items()}
        better = [cell for cell, value in mse.items() if value < chance]
        worse = [cell for cell, value in mse.items() if value >= chance]
        text = f"At length {length}: "
        text += (
            f"worse than predicting the mean ({chance:.3f}): {', '.join(f'{c} ({mse[c]:.3f})' for c in worse)}"
            if worse
            else f"every cell beats predicting the mean ({chance:.3f})"
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
    seeds = min(result.get("seeds", 1) for result in results.values())
    return " ".join(sentences) + (" One seed." if seeds == 1 else f" Mean test MSE over {seeds} seeds.")


CONSTANT_OUTPUT_STD = 0.05  # the targets' own spread is sqrt(1/6) ≈ 0.41: a model below this ignores its input


def gradient_spike_sentence(gradients: dict[str, np.ndarray]) -> str:
    """How the gradient at the first step compares with the median over steps, per cell."""
    if not gradients:
        return (
            "No trained networks on this machine: the probes need the batch-64 models (the quick profile trains them)."
        )
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


def statistics_gap_sentence(gaps: dict[str, dict]) -> str:
    """This build's networks read with population and with batch statistics (``rnn.statistics_gap`` per
    cell), in words; only the numbers measured here, for one seed of a live run."""
    if not gaps:
        return "No trained networks on this machine: the probe needs the batch-64 models."
    first = next(iter(gaps.values()))
    parts = [
        f"{cell} {gap['test_error']['population statistics']:.2f} % with population statistics, "
        f"{gap['test_error']['batch statistics']:.2f} % with batch statistics"
        + (
            f", {gap['test_error']['recomputed population statistics']:.2f} % with population statistics "
            "recomputed after training"
            if "recomputed population statistics" in gap["test_error"]
            else ""
        )
        for cell, gap in gaps.items()
    ]
    return (
        f"Test error of this build's seed-0 networks on {first['images']:,} test images, read in test batches "
        f"of {first['batch_size']}: " + "; ".join(parts) + ". For a cell without batch norm the two readings are "
        "the same computation; for the BN-LSTM their difference is what its population statistics cost."
    )


def _epochs(epochs: list) -> str:
    return ", ".join("never" if epoch is None else str(epoch) for epoch in epochs)


def speed_markdown(rows: list[dict]) -> str:
    """Epochs to reach each validation error, per pair of cells (:func:`lnutils.experiments.rnn.
    speed_comparisons`): each seed's epoch, and the difference with its 95 % interval."""
    if not rows:
        return "No saved run has both cells of a pair yet."
    table = []
    for row in rows:
        (first, second), (a, b), found = row["pair"], row["epochs"], row["answer"]
        if found is None:
            shown, outcome = "–", "a seed never got there"
        else:
            shown = f"{signed(found['d'], 1)} [{signed(found['lo'], 1)}, {signed(found['hi'], 1)}]"
            outcome = found["answer"]
        table.append([f"≤ {row['threshold']:g} %", f"{first}: {_epochs(a)}", f"{second}: {_epochs(b)}", shown, outcome])
    headers = ["validation error", "epochs, per seed", "epochs, per seed", "difference, 95 % interval", "answer"]
    margin = rows[0]["answer"]["margin"] if rows[0]["answer"] else None
    return markdown_table(headers, table) + (
        "\n\nThe first epoch at which each seed's validation error reached the threshold, and the difference "
        "(normalized − plain) of the means over seeds, paired by seed"
        + (f"; *equivalent* means within ±{margin:g} epoch." if margin else ".")
    )


def bn_lstm_readings_markdown(found: dict) -> str:
    """The BN-LSTM study's readings (:func:`lnutils.experiments.bn_lstm.study`) as a table."""
    rows = [[name, f"{reading['error']:.2f}", f"{reading['nll']:.3f}"] for name, reading in found["readings"].items()]
    return markdown_table(["read on", "error %", "NLL (nats)"], rows) + (
        f"\n\nThe kept BN-LSTM (seed {found['config']['seed']} of the saved {found['config']['profile']} run), in "
        f"batches of {found['batch_size']}: {found['test_images']:,} test images, and the first "
        f"{found['training_images']:,} training images."
    )


def bn_lstm_sentence(numbers: dict) -> str:
    """Why the BN-LSTM fails here, computed from the study (:func:`lnutils.experiments.bn_lstm.summary_numbers`)."""
    population, batch, recomputed = numbers["population"], numbers["batch"], numbers["recomputed"]
    share = numbers["share_closed_by_first_k"]
    k = numbers["first_k"]
    closes = "closes" if numbers["recomputed_closes_the_gap"] else "does not close"
    return (
        f"Read with population statistics the kept BN-LSTM errs on {population:.2f} % of the test images, with "
        f"each batch's own statistics on {batch:.2f} %. Batch statistics for the first {k} steps alone, "
        f"population statistics after, bring it to {numbers['first_k_error']:.2f} %: "
        f"{100 * share:.0f} % of the gap sits in those {k} steps. "
        f"Population statistics recomputed with the final weights give {recomputed:.2f} %: that {closes} the gap "
        f"(closing means coming within {numbers['margin']:g} points of the batch reading), "
        + (
            "so the lag of the running averages was the cause. "
            if numbers["recomputed_closes_the_gap"]
            else "so the cause is not the lag of the running averages. "
        )
        + f"At step {numbers['narrowest_step']} the batches' own spread of W_h h is a median "
        f"{numbers['narrowest_scale_ratio']:.2f} of the population's, and in "
        f"{100 * numbers['narrowest_degenerate_share']:.0f} % of (batch, unit) pairs it is below ε: the first "
        "rows of most images are blank, so the population variance of an early step averages many batches "
        "with no spread and a few with ink. "
        f"Batch statistics for the first {numbers['best_first_k']} steps give {numbers['best_first_k_error']:.2f} %; "
        f"a larger ε at test time alone gives at best {numbers['best_test_eps_error']:.2f} % "
        f"(ε = {numbers['best_test_eps']:g}, trained with {numbers['trained_eps']:g})."
    )


CLAIMS = {
    "layer_norm_lstm_beats_lstm": (
        "LN-LSTM beats the LSTM (Ba et al. 2016 report LN helping LSTMs on other tasks, Sec. 6; they ran no "
        "sequential MNIST)"
    ),
    "batch_norm_lstm_beats_lstm": (
        "BN-LSTM beats the LSTM (Cooijmans et al. 2016, Table 1, on pixel-by-pixel MNIST; here row by row)"
    ),
    "layer_norm_gru_beats_gru": (
        "LN-GRU beats the GRU (the book's question; Ba et al. 2016 normalize GRUs on other tasks)"
    ),
    "layer_norm_lstm_learns_faster_than_lstm": (
        "LN-LSTM learns faster than the LSTM: lower validation error after the same early budget (Ba et al. "
        "2016, Sec. 6, on their RNN tasks)"
    ),
    "layer_norm_gru_learns_faster_than_gru": (
        "LN-GRU learns faster than the GRU: lower validation error after the same early budget (Ba et al. 2016, "
        "Sec. 6, on their RNN tasks)"
    ),
    "layer_norm_lstm_beats_bn_lstm_beyond_training_length": (
        "Beyond the training length, LN-LSTM beats BN-LSTM (the book's question: Cooijmans et al. 2016, Sec. 3, "
        "reuse the last step's statistics there and compare with no LN-LSTM)"
    ),
}


def _where(verdict: dict) -> str:
    if verdict["setting"] == "adding problem":
        return f"adding problem, length {verdict['length']}, after {verdict['steps']:,} steps"
    planned = verdict.get("epochs_planned")
    of = f" of {planned}" if planned and planned != verdict["epoch"] else ""
    return f"row by row, {verdict['setting']}, epoch {verdict['epoch']}{of}"


def verdicts_markdown(verdicts: list[dict]) -> str:
    """The chapter's claims against the runs (:func:`lnutils.experiments.rnn.verdicts`)."""
    if not verdicts:
        return "No run has both cells of any claim yet."
    return verdict_table(verdicts, CLAIMS, _where, "test error %, or test MSE")


def summary_markdown(verdicts: list[dict]) -> str:
    """The Summary's verdict sentences for the saved run (:func:`lnutils.report.cells.verdict_summary`)."""
    return verdict_summary(verdicts, CLAIMS)


def bn_remedies_markdown(rows: list[dict] | None) -> str:
    """The remedies that need training (:func:`lnutils.experiments.bn_lstm.remedy_numbers`): each retrained
    BN-LSTM's test error with population and with batch statistics, beside the saved run's, or how to make it."""
    if not rows:
        return (
            "The remedies that need training have not been run on this machine yet: `python -m "
            "lnutils.experiments rnn bn-remedies` trains them (3 minutes an epoch on one core, an hour in all)."
        )
    table = markdown_table(
        ["BN-LSTM trained with", "test error %, population statistics", "batch statistics", "gap", "closes it"],
        [
            [
                row["cell"].removeprefix("BN-LSTM, "),
                f"{row['population']:.2f}",
                f"{row['batch']:.2f}",
                f"{row['gap']:+.2f}",
                "**yes**" if row["closes_the_gap"] else "no",
            ]
            for row in rows
        ],
    )
    return table + (
        f"\n\nSeed 0, trained as the saved run trained it, one thing changed. The saved run's own BN-LSTM "
        f"(ε 1e-5) ended at {rows[0]['saved_bn_lstm']:.2f} %, its LSTM at {rows[0]['saved_lstm']:.2f} %. "
        "A remedy closes the gap when its two readings lie within 0.2 points; one seed, so the table "
        "describes and decides nothing."
    )


def budget_check_markdown(checks: list[dict]) -> str:
    """The budget check (:func:`lnutils.experiments.rnn_budget.budget_check`): each row-by-row claim's
    answer at the cpu profile's 20 epochs and at 35 (the constant phase doubled), or that it has not run."""
    if not checks:
        return (
            "The budget check has not been trained on this machine yet: `python -m lnutils.experiments rnn run "
            "--profile budget` trains it (seeds 0 and 1 again, the constant phase doubled). Until it finishes, "
            "it confirms nothing."
        )
    return budget_check_table(checks, CLAIMS, "Test error %")


def cooijmans_markdown(published: dict, result: dict | None) -> str:
    """Cooijmans et al. 2016's pixel-by-pixel accuracies beside this book's row-by-row ones from a saved run
    (``result``): the same cells, an easier task (28 steps of 28 pixels instead of 784 steps of one)."""
    pixel = published["pixel-by-pixel MNIST (784 steps)"]
    record = next((r for setting, r, _ in result_parts(result) if setting == "batch 64"), None)
    rows = []
    for cell in ("LSTM", "BN-LSTM", "LN-LSTM"):
        ours = "–"
        if record is not None and cell in record["curves"]["test_error"]:
            errors = np.asarray(record["curves"]["test_error"][cell], dtype=float)
            epochs = len(errors)
            complete = "batch 64" in (result or {}).get("parts", {})
            state = f"epoch {epochs}" if complete else f"partial: epoch {epochs} of {record['config']['epochs']}"
            ours = f"{mean_spread(100 * (1 - errors[-1]))} ({state})"
        rows.append([cell, pixel.get(cell, "not reported"), ours])
    headers = [
        "cell",
        "Cooijmans et al. 2016, pixel by pixel (784 steps)",
        "this book, row by row (28 steps), saved run",
    ]
    return markdown_table(headers, rows) + (
        "\n\nTest accuracy %, mean ± sd over seeds. Row by row is the easier task: 28 steps instead of 784, so the "
        "gradient has 28 times fewer steps to cross; the columns are neighbours, not a reproduction."
    )


def retrace_markdown(check: dict | None) -> str:
    """The live check against the saved run (:func:`lnutils.experiments.rnn.retrace`)."""
    if check is None:
        return retrace_sentence(None, "")
    return retrace_sentence(check, f"the {check['cell']} (row by row, {check['setting']})")


KEY_QUESTIONS = {
    "layer_norm_lstm_beats_lstm": "LN-LSTM or LSTM on row-by-row MNIST?",
    "layer_norm_gru_beats_gru": "LN-GRU or GRU?",
    "batch_norm_lstm_beats_lstm": "BN-LSTM or LSTM?",
    "layer_norm_lstm_learns_faster_than_lstm": "Does LN make the LSTM learn faster?",
    "layer_norm_gru_learns_faster_than_gru": "Does LN make the GRU learn faster?",
}


def key_answers_markdown(verdicts: list[dict]) -> str:
    """Chapter 4's key questions and answers (:func:`lnutils.report.cells.key_answers`)."""
    return key_answers(verdicts, KEY_QUESTIONS, where=_where)
