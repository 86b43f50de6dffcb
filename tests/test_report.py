"""Every generated sentence follows its numbers: change the inputs and the words change."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lnutils.experiments import mnist
from lnutils.report import cells
from lnutils.report import conv as conv_words
from lnutils.report import mnist as mnist_words
from lnutils.report import rnn as rnn_words


def test_markdown_table():
    assert cells.markdown_table(["a", "b"], [[1, "x"]]) == "| a | b |\n|---|---|\n| 1 | x |"


def test_adding_sentences_follow_the_numbers():
    results = {"LSTM": {"test_mse": {30: 0.01, 60: 0.05}}, "LN-LSTM": {"test_mse": {30: 0.02, 60: 0.4}}}
    text = rnn_words.adding_sentences(results)
    assert "At length 30: every cell beats predicting the mean" in text
    assert "worse than predicting the mean (0.167): LN-LSTM (0.400)" in text and "lowest" not in text


def test_overfitting_sentence_follows_the_curves():
    epochs = 20
    nll = np.geomspace(1e-1, 1e-8, epochs)[:, None].repeat(2, axis=1)
    val = np.r_[np.linspace(0.05, 0.015, 5), np.full(epochs - 5, 0.016)][:, None].repeat(2, axis=1)
    curves = {
        "train_nll": {"layer norm": nll.tolist()},
        "val_error": {"layer norm": val.tolist()},
        "test_error": {"layer norm": val.tolist()},
    }
    rows = mnist.overfitting(curves)
    assert rows[0]["best validation epoch"] == 5 and rows[0]["last quarter from epoch"] == 16
    assert rows[0]["NLL fell by orders"] > 1 and abs(rows[0]["test error moved points"]) < 0.1
    assert "keeps fitting the training set" in mnist_words.overfitting_sentence(rows)
    # the test error still improving in the last quarter: the NLL's fall is not called overfitting
    still_improving = {
        **curves,
        "test_error": {"layer norm": np.linspace(0.05, 0.01, epochs)[:, None].repeat(2, axis=1).tolist()},
    }
    assert "No method" in mnist_words.overfitting_sentence(mnist.overfitting(still_improving))
    # an NLL that rose is said to have risen, never as a negative fall
    rising = {**curves, "train_nll": {"layer norm": np.geomspace(1e-3, 1e-2, epochs)[:, None].repeat(2, 1).tolist()}}
    rows = mnist.overfitting(rising)
    assert rows[0]["NLL fell by orders"] < 0 and "rose" in mnist_words.overfitting_markdown(rows)
    assert "No method" in mnist_words.overfitting_sentence(rows)


def test_live_check_compares_like_with_like():
    seeds_curves = {m: [[0.02, 0.03], [0.015, 0.02]] for m in ("baseline", "batch norm", "layer norm")}
    saved_curves = {m: [[0.02, 0.03, 0.025], [0.015, 0.02, 0.018], [0.01, 0.01, 0.012]] for m in seeds_curves}
    live = {128: {"train_nll": seeds_curves, "test_error": seeds_curves, "val_error": seeds_curves}}
    config = mnist.RunConfig(batch_size=128, epochs=2, seeds=[0, 1], learning_rates={m: 1e-3 for m in seeds_curves})
    saved = {
        128: {
            "config": {"train_subset": None, "learning_rates": config.learning_rates, "seeds": [0, 1, 2]},
            "epochs_done": 3,
            "curves": {"train_nll": saved_curves, "test_error": saved_curves},
        }
    }
    match = mnist.live_matches_saved(live, {128: config}, saved)[128]
    assert match["test error points"] == 0 and match["epochs"] == 2
    assert "within the spread between seeds" in mnist_words.live_check_sentence({128: match})
    saved[128]["curves"]["test_error"] = {
        m: [[0.05, 0.03, 0.025], [0.015, 0.02, 0.018], [0.0, 0.0, 0.012]] for m in seeds_curves
    }
    worse = mnist.live_matches_saved(live, {128: config}, saved)
    assert "no longer reproduces" in mnist_words.live_check_sentence(worse)
    other_rates = {
        128: {**saved[128], "config": {**saved[128]["config"], "learning_rates": {m: 1e-4 for m in seeds_curves}}}
    }
    assert mnist.live_matches_saved(live, {128: config}, other_rates) == {}


def test_selection_markdown_marks_a_partial_run():
    curves = {"val_error": {f"{m}@{r:g}": [[0.02]] for m in ("baseline",) for r in (1e-3, 3e-3)}}
    selection = {
        "grid": [1e-3, 3e-3],
        "chosen": {"baseline": 1e-3},
        "curves": curves,
        "rule": "mean validation error of the last 5 epochs",
        "epochs": 65,
        "epochs_done": 1,
        "complete": False,
        "provenance": {"device": "cpu", "wall_seconds": 60, "commit": "abc"},
    }
    assert "Partial: 1 of 65 epochs" in cells.selection_markdown(selection)
    selection["complete"] = True
    assert "Partial" not in cells.selection_markdown(selection)


def test_the_selection_in_use_and_the_saved_rates_sentence_follow_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("LNUTILS_RESULTS", str(tmp_path))
    short = {"config": {"batch_size": 128}, "chosen": {"baseline": 1e-3}, "rule": "short"}
    full = {"config": {"batch_size": 128, "rule": "last 5"}, "chosen": {"baseline": 3e-4}, "complete": False}
    (tmp_path / "mnist_lr_b128.json").write_text(json.dumps(short))
    (tmp_path / "mnist_lr_full_b128.json").write_text(json.dumps(full))
    assert mnist.selected_learning_rates(128) == {"baseline": 1e-3}  # a partial full-length run is not used
    full["complete"] = True
    (tmp_path / "mnist_lr_full_b128.json").write_text(json.dumps(full))
    assert mnist.selected_learning_rates(128) == {"baseline": 3e-4}

    class Config:
        learning_rates = {"baseline": 3e-4}

    saved = {128: {"config": {"learning_rates": {"baseline": 1e-3}}}}
    in_use = mnist.selections_in_use([128])
    text = mnist_words.saved_rates_sentence({128: Config()}, saved, in_use)
    assert "full-length selection's learning rates (baseline 0.0003)" in text and "other rates (baseline 0.001)" in text
    saved[128]["config"]["learning_rates"] = {"baseline": 3e-4}
    assert "trained at the same rates" in mnist_words.saved_rates_sentence({128: Config()}, saved, in_use)


def test_replaced_runs_are_listed_with_their_rates(tmp_path, monkeypatch):
    monkeypatch.setenv("LNUTILS_RESULTS", str(tmp_path))

    def run_file(rate: float) -> dict:
        config = {"batch_size": 128, "epochs": 65, "seeds": [0, 1], "learning_rates": {"layer norm": rate}}
        record = {
            "batch_size": 128,
            "config": config,
            "epochs_done": 65,
            "curves": {"test_error": {"layer norm": [[0.02, 0.03], [0.015, 0.017]]}},
        }
        return {"config": {"profile": "paper", "parts": {"batch 128": config}}, "parts": {"batch 128": record}}

    (tmp_path / "mnist_paper.json").write_text(json.dumps(run_file(3e-4)))  # the results folder in use has it
    assert mnist_words.replaced_runs_markdown(mnist.replaced_paper_runs()) == ""
    (tmp_path / "mnist_paper.replaced-1.json").write_text(json.dumps(run_file(3e-4)))  # the same part: not listed
    assert mnist_words.replaced_runs_markdown(mnist.replaced_paper_runs()) == ""
    (tmp_path / "mnist_paper.replaced-2.json").write_text(json.dumps(run_file(1e-4)))
    text = mnist_words.replaced_runs_markdown(mnist.replaced_paper_runs())
    assert "| 128 | 65 of 65 | [0, 1] | layer norm 0.0001 | layer norm 1.60 ± 0.14% |" in text


def test_the_overfitting_table_says_when_its_run_is_partial():
    rows = [
        {
            "method": "layer norm",
            "best validation epoch": 26,
            "epochs": 40,
            "train NLL at best": 1e-4,
            "final train NLL": 1e-8,
            "test error at best %": 1.5,
            "final test error %": 1.52,
        }
    ]
    assert "Partial" not in mnist_words.overfitting_markdown(rows)
    assert "**Partial run: 40 of 65 epochs**" in mnist_words.overfitting_markdown(rows, "partial run: 40 of 65 epochs")


def test_the_ledger_describes_the_saved_run_the_figure_shows():
    rates = {m: 1e-3 for m in ("baseline", "batch norm", "layer norm")}
    configs = {bs: mnist.RunConfig(batch_size=bs, epochs=2, seeds=[0], learning_rates=rates) for bs in (128, 4)}
    saved = {4: {"epochs_done": 8, "complete": False, "config": {"epochs": 65, "seeds": [0, 1, 2]}}}
    table = mnist_words.fidelity_ledger(configs, saved)
    epochs = next(line for line in table.splitlines() if line.startswith("| epochs"))
    seeds = next(line for line in table.splitlines() if line.startswith("| seeds"))
    assert "batch 4: 8 of 65 (saved run, partial)" in epochs and "batch 128: 2 (this build's live run)" in epochs
    assert "batch 4: 3 (saved run)" in seeds and "batch 128: 1 (this build's live run)" in seeds


def test_a_selection_states_its_margins_in_images_and_flags_rates_at_the_grid_edge():
    grid = [1e-4, 3e-4, 1e-3]
    curves = {
        "val_error": {
            **{f"baseline@{r:g}": [[e]] for r, e in zip(grid, (0.0153, 0.0155, 0.0170))},
            **{f"layer norm@{r:g}": [[e]] for r, e in zip(grid, (0.0150, 0.0120, 0.0160))},
        }
    }
    selection = {
        "grid": grid,
        "curves": curves,
        "chosen": {"baseline": 1e-4, "layer norm": 3e-4},
        "rule": "lowest validation error",
        "settle_epochs": 1,
        "validation": 5000,
        "provenance": {"device": "cpu", "wall_seconds": 60, "commit": "abc"},
    }
    text = cells.selection_markdown(selection)
    assert (
        "baseline: chosen by 0.02 points over the next rate (about 1.0 of 5,000 validation images); **at the edge"
        in text
    )
    assert "layer norm: chosen by 0.30 points" in text and "no estimate of seed noise" in text
    assert cells.selection_settle_epochs({"config": {"rule": "mean of the last 5"}}) == 5
    assert cells.selection_settle_epochs({"config": {}, "settle_epochs": 3}) == 3


def test_an_adding_model_with_one_output_for_every_sequence_is_named():
    results = {
        "LSTM": {"test_mse": {60: 0.2577, 120: 0.2577}, "prediction_std": {60: 0.001, 120: 0.001}},
        "LN-LSTM": {"test_mse": {60: 0.01, 120: 0.3}, "prediction_std": {60: 0.4, 120: 0.5}},
    }
    text = rnn_words.adding_sentences(results)
    assert "nearly one output whatever the sequence: LSTM (spread of its outputs 0.001)" in text
    assert "LN-LSTM (" not in text.split("whatever the sequence")[1]
    results["LSTM"]["prediction_std"] = {60: 0.3, 120: 0.3}
    assert "whatever the sequence" not in rnn_words.adding_sentences(results)


def test_the_baseline_gap_sentence_follows_the_runs():
    """The baseline against the paper: computed from the saved run, and a replaced run at another rate
    is compared by the comparison rule, unpaired (its sentence flips with its numbers)."""
    rates = {"baseline": 1e-4}

    def run(finals, rate=1e-4, complete=True):
        curves = {"test_error": {"baseline": [[0.05] * len(finals), [f / 100 for f in finals]]}}
        config = {"learning_rates": {**rates, "baseline": rate}, "epochs": 2}
        return {"curves": curves, "config": config, "complete": complete, "epochs_done": 2}

    saved = {128: run([1.73, 1.83, 1.92])}
    assert mnist.baseline_against_paper({}, {}) is None
    assert mnist.baseline_against_paper({128: run([1.8, 1.8], complete=False)}, {}) is None
    assert "not compared" in mnist_words.baseline_gap_sentence(None)
    found = mnist.baseline_against_paper(saved, {128: [run([1.79, 1.46, 1.61], rate=1e-3)]})
    assert abs(found["gap_points"] - 0.3267) < 1e-3
    text = mnist_words.baseline_gap_sentence(found)
    assert "1.83 ± 0.10%, 0.33 points above the ≈1.5 %" in text and "undecided against it" in text
    found = mnist.baseline_against_paper(saved, {128: [run([1.50, 1.52, 1.51], rate=1e-3)]})
    assert found["other_rates"][0]["outcome"] == "first lower"
    assert "the rate accounts for part of the gap" in mnist_words.baseline_gap_sentence(found)
    found = mnist.baseline_against_paper(saved, {128: [run([1.30, 1.31, 1.32])]})  # the same rate: not a comparison
    assert found["other_rates"] == []
    found = mnist.baseline_against_paper({128: run([1.40, 1.45, 1.42])}, {})
    assert "below the ≈1.5 %" in mnist_words.baseline_gap_sentence(found)


def test_a_listing_is_the_code_that_runs_with_its_file_and_lines():
    """Issue 36 #1: the code a reader learns from is on the page, taken from lnutils itself."""
    import inspect

    from lnutils import norms
    from lnutils.report.cells import LISTING_LINES, listing

    shown = listing(norms.LayerNormFunction.backward)
    lines, first = inspect.getsourcelines(norms.LayerNormFunction.backward)
    assert shown.startswith(f"`lnutils/norms.py`, lines {first}–{first + len(lines) - 1}:\n\n```python\n")
    assert "def backward(ctx, grad_output: Tensor):" in shown and shown.endswith("```")
    with pytest.raises(ValueError, match=f"more than a listing shows \\({LISTING_LINES}\\)"):
        listing(cells)  # a whole module is never a listing


@pytest.mark.parametrize("chapter", ["01", "02", "03", "04"])
def test_every_chapter_shows_the_code_it_teaches(chapter):
    from pathlib import Path

    path = next((Path(__file__).parents[1] / "notebooks").glob(f"{chapter}_*.ipynb"))
    assert "display(Markdown(listing(" in path.read_text(), f"{path.name} shows no code from lnutils"


def test_a_listing_wider_than_the_page_is_refused():
    from lnutils.report import cells as words

    def too_wide():
        return "a line of code that goes on and on and on, far beyond what a page shows, and scrolls sideways"

    with pytest.raises(ValueError, match="wider than the page \\(88 characters\\)"):
        words.listing(too_wide)


def test_the_border_probe_says_which_networks_it_reads_and_how_well_trained():
    def record(subset, error, seeds=(0,)):
        curve = {name: [[error] * len(seeds)] * 2 for name in ("none", "layer norm (C,H,W)")}
        config = {"seeds": list(seeds), "train_subset": subset}
        return {"config": config, "batch_size": 128, "curves": {"test_error": curve}}

    names = ("none", "layer norm (C,H,W)")
    live = {"source": "this build", "seed": 0}
    quick = conv_words.border_networks_sentence(live, record(3000, 0.30), record(None, 0.12, (0, 1, 2)), names)
    assert "trained 2 epoch(s) on 3,000 images" in quick and "none 30.0 %" in quick
    assert "mean over 3 seeds" in quick and "none 12.0 %" in quick and "trained for less" in quick
    full = conv_words.border_networks_sentence(live, record(None, 0.12), record(None, 0.12), names)
    assert "trained for less" not in full and "(seed 0)" in full
    kept = {"source": "kept", "profile": "cpu", "seed": 0, "epochs": 15}
    kept |= {"test_error": {"none": 12.5}, "saved_test_error": {"none": 12.25}}
    words = conv_words.border_networks_sentence(kept, record(3000, 0.30), None, names)
    assert "seed 0 of the saved cpu run's networks" in words and "none 12.50 % (the saved run's 12.25 %)" in words
    assert "this build" not in words


def test_a_live_quick_runs_verdicts_are_one_paragraph_and_saved_ones_a_table():
    from lnutils.compare import FIRST_LOWER, make_verdict

    def verdicts(evidence):
        return [
            make_verdict(
                "layer_norm_gru_beats_gru",
                ("LN-GRU", "GRU"),
                FIRST_LOWER,
                [2.0],
                [3.0],
                evidence,
                0.2,
                setting="batch 4",
                epoch=1,
                metric="val_error_after_epoch",
            ),
            make_verdict(
                "layer_norm_lstm_beats_lstm",
                ("LN-LSTM", "LSTM"),
                FIRST_LOWER,
                [1.0],
                [1.5],
                evidence,
                0.2,
                setting="batch 4",
                epoch=1,
                metric="test_error_settled",
            ),
        ]

    live = rnn_words.verdicts_markdown(verdicts("live quick run"))
    assert "|" not in live and "answers none of its 2 questions" in live
    assert "LN-GRU 2.00 vs GRU 3.00" in live and "LN-LSTM 1.00 vs LSTM 1.50" in live
    assert "*validation error % after epoch 1*: LN-GRU" in live and "*test error %, mean over" in live
    mixed = verdicts("live quick run")[:1] + verdicts("complete")[1:]
    assert "| claim" in rnn_words.verdicts_markdown(mixed)  # a saved verdict among them: the table
