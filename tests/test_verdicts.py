"""Chapters 3 and 4's verdicts follow their inputs through the comparison rule, and only complete saved runs get a
yes or no."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lnutils.compare import make_verdict, settle_window
from lnutils.experiments import conv, conv_budget, rnn, rnn_budget
from lnutils.report import cells as cells_words
from lnutils.report import conv as conv_words
from lnutils.report import rnn as rnn_words

SEEDS = 3


def curves_for(errors: dict[str, float], epochs: int) -> dict:
    """Curves whose test error is ``errors[name]`` (a fraction) at every epoch, with a little seed spread."""
    per_epoch = {name: [[e + 0.001 * s for s in range(SEEDS)] for _ in range(epochs)] for name, e in errors.items()}
    return {"train_nll": per_epoch, "val_error": per_epoch, "test_error": per_epoch}


def conv_record(dataset, batch_size, errors, epochs=10, converged=True):
    return {
        "dataset": dataset,
        "batch_size": batch_size,
        "config": {"epochs": 10, "seeds": list(range(SEEDS))},
        "curves": curves_for(errors, epochs),
        "convergence": {name: {"converged": converged} for name in errors},
    }


def conv_result(records, in_progress=(), profile="cpu"):
    return {
        "config": {"profile": profile},
        "parts": {conv.part_key(r["dataset"], r["batch_size"]): r for r in records},
        "in_progress": {conv.part_key(r["dataset"], r["batch_size"]): r for r in in_progress},
    }


ERRORS = {"none": 0.26, "batch norm": 0.17, "layer norm (C,H,W)": 0.20, "group norm (G=8)": 0.20}


def by_claim(verdicts, **where):
    return {v["claim"]: v for v in verdicts if all(v.get(k) == value for k, value in where.items())}


def test_conv_verdicts_follow_their_inputs():
    held = by_claim(conv.verdicts(conv_result([conv_record("fashion-mnist", 128, ERRORS)])))
    assert held["batch_norm_beats_layer_norm"]["holds"] == "yes"
    assert held["layer_norm_beats_no_normalization"]["holds"] == "yes"
    equal = held["group_norm_beats_layer_norm"]  # the same errors: equivalent, so "beats" does not hold
    assert equal["outcome"] == "equivalent" and equal["holds"] == "no"
    assert held["batch_norm_beats_layer_norm"]["interval"]["d"] == pytest.approx(-3.0)
    assert {v["family"] for v in held.values()} == {6}  # three questions, two tests each
    flipped = dict(ERRORS, **{"batch norm": 0.23, "group norm (G=8)": 0.18})
    held = by_claim(conv.verdicts(conv_result([conv_record("fashion-mnist", 128, flipped)])))
    assert held["batch_norm_beats_layer_norm"]["holds"] == "no"
    assert held["group_norm_beats_layer_norm"]["holds"] == "yes"
    assert "| **no** |" in conv_words.verdicts_markdown(list(held.values()))


def test_the_batch_size_claim_compares_the_change_at_the_same_epoch():
    small = dict(ERRORS, **{"batch norm": 0.30})  # batch norm loses 13 points at batch 4, the others none
    records = [conv_record("fashion-mnist", 128, ERRORS, epochs=10), conv_record("fashion-mnist", 4, small, epochs=4)]
    held = by_claim(conv.verdicts(conv_result(records)), batch_size=4)
    claim = held["batch_norm_degrades_more_than_group_norm"]
    assert claim["holds"] == "yes" and claim["epoch"] == 4
    assert claim["second_values"] == pytest.approx([13.0] * SEEDS)
    records[1] = conv_record("fashion-mnist", 4, ERRORS, epochs=4)
    held = by_claim(conv.verdicts(conv_result(records)), batch_size=4)
    assert held["batch_norm_degrades_more_than_group_norm"]["outcome"] == "equivalent"
    assert held["batch_norm_degrades_more_than_group_norm"]["holds"] == "no"


@pytest.mark.parametrize("how", ["partial", "live quick run"])
def test_partial_or_live_conv_runs_never_say_yes_or_no(how):
    record = conv_record("fashion-mnist", 128, ERRORS)
    result = {
        "partial": conv_result([], in_progress=[record]),
        "live quick run": conv.live_result([record], "quick"),
    }[how]
    verdicts = conv.verdicts(result)
    assert verdicts and {v["holds"] for v in verdicts} == {"undecided"}
    assert {v["evidence"] for v in verdicts} == {how}
    shown = by_claim(verdicts)["batch_norm_beats_layer_norm"]["outcome"]
    assert shown == ("undecided" if how == "live quick run" else "first lower")  # a saved run's numbers still speak
    table = conv_words.verdicts_markdown(verdicts)
    assert "**yes**" not in table and "**no**" not in table


def test_a_finished_part_that_did_not_pass_the_old_convergence_check_still_answers():
    """The end of a cooldown is no test of convergence: a finished part answers whatever its record says."""
    held = by_claim(conv.verdicts(conv_result([conv_record("fashion-mnist", 128, ERRORS, converged=False)])))
    assert held["batch_norm_beats_layer_norm"]["evidence"] == "complete"
    assert held["batch_norm_beats_layer_norm"]["holds"] == "yes"


def budget_checks(confirmed: bool) -> list[dict]:
    return [
        {"claim": claim, "dataset": "fashion-mnist", "batch_size": 128, "confirmed": confirmed}
        for claim, *_ in conv.CLAIMS + conv.BATCH_CLAIMS
    ]


@pytest.mark.parametrize("confirmed", [True, False, None])
def test_a_finished_budget_check_sets_the_evidence_of_the_checked_part_only(confirmed):
    """A confirmed budget marks the checked part's answers "budget confirmed"; one that gives another answer
    leaves them undecided; one that could not test (one seed: None) leaves them complete; other parts keep
    their own level."""
    checked = conv_record("fashion-mnist", 128, ERRORS)
    other = conv_record("mnist", 128, ERRORS)
    small = conv_record("fashion-mnist", 4, dict(ERRORS, **{"batch norm": 0.30}), epochs=4)
    result = conv_result([checked, other, small])
    verdicts = conv.verdicts(result, budget_checks(confirmed))
    held = by_claim(verdicts, dataset="fashion-mnist", batch_size=128)
    level = {True: "budget confirmed", False: "budget not confirmed", None: "complete"}[confirmed]
    assert held["batch_norm_beats_layer_norm"]["evidence"] == level
    assert held["batch_norm_beats_layer_norm"]["holds"] == ("undecided" if confirmed is False else "yes")
    assert {v["evidence"] for v in by_claim(verdicts, dataset="mnist").values()} == {"complete"}
    across = [v for v in verdicts if "large_batch_epoch" in v]
    # batch 4 was not checked: a batch-size claim is "budget confirmed" only when both sides are
    assert {v["evidence"] for v in across} == {"budget not confirmed" if confirmed is False else "complete"}
    still_training = conv_result([other], in_progress=[checked])
    held = by_claim(conv.verdicts(still_training, budget_checks(True)), dataset="fashion-mnist")
    assert {v["evidence"] for v in held.values()} == {"partial"}
    if confirmed:
        assert "a longer budget gives the same answer" in conv_words.verdicts_markdown(verdicts)


def rnn_record(errors, converged=True, epochs=15):
    return {
        "config": {"epochs": 15},
        "curves": curves_for(errors, epochs),
        "convergence": {name: {"converged": converged} for name in errors},
    }


CELL_ERRORS = {"LSTM": 0.02, "LN-LSTM": 0.015, "BN-LSTM": 0.02, "GRU": 0.02, "LN-GRU": 0.03}


def adding_part(ln_mse, bn_mse, bn_final_loss=0.01):
    """An adding-problem part; the BN-LSTM's training MSE falls from 0.1 to ``bn_final_loss`` over its last
    tenth of 100 steps (the LN-LSTM's stays at 0.01: converged)."""

    def seed(s):
        return {
            "LN-LSTM": {"train_loss": [0.01] * 100, "test_mse": {"200": ln_mse + 0.001 * s}},
            "BN-LSTM": {"train_loss": [0.1] * 90 + [bn_final_loss] * 10, "test_mse": {"200": bn_mse + 0.001 * s}},
        }

    return {"settings": {"length": 50, "steps": 5000}, "results_by_seed": {str(s): seed(s) for s in range(SEEDS)}}


def test_rnn_verdicts_follow_their_inputs():
    result = {
        "config": {"profile": "cpu"},
        "parts": {"batch 64": rnn_record(CELL_ERRORS), "adding": adding_part(0.01, 0.3)},
    }
    held = by_claim(rnn.verdicts(result))
    assert held["layer_norm_lstm_beats_lstm"]["holds"] == "yes"
    assert held["batch_norm_lstm_beats_lstm"]["outcome"] == "equivalent"
    assert held["batch_norm_lstm_beats_lstm"]["holds"] == "no"
    assert held["layer_norm_gru_beats_gru"]["outcome"] == "second lower"
    assert held["layer_norm_gru_beats_gru"]["holds"] == "no"
    adding = held["layer_norm_lstm_beats_bn_lstm_beyond_training_length"]
    assert adding["outcome"] == "first lower" and adding["holds"] == "yes" and adding["evidence"] == "complete"
    result["parts"]["adding"] = adding_part(0.3, 0.01, bn_final_loss=0.1)
    adding = by_claim(rnn.verdicts(result))["layer_norm_lstm_beats_bn_lstm_beyond_training_length"]
    assert adding["outcome"] == "second lower" and adding["holds"] == "no"
    summary = rnn_words.summary_markdown(rnn.verdicts(result))
    assert "does not hold" in summary and "BN-LSTM lower by 0.29" in summary
    assert "adding problem, length 200, after 5,000 steps" in rnn_words.verdicts_markdown(rnn.verdicts(result))


def test_rnn_speed_verdicts_read_the_validation_error_of_early_epochs_only():
    record = rnn_record(CELL_ERRORS, epochs=15)
    record["config"]["decay_epochs"] = 13  # epoch 3 is already in the cooldown: only epoch 1 and 2 are early
    curves = record["curves"]
    curves["val_error"] = {name: [row[:] for row in rows] for name, rows in curves["val_error"].items()}
    curves["val_error"]["LN-GRU"][0] = [0.04, 0.041, 0.039]  # LN-GRU at 4 % after epoch 1
    curves["val_error"]["GRU"][0] = [0.09, 0.085, 0.095]  # the GRU at 9 %: 5 points higher
    found = [
        v for v in rnn.verdicts({"config": {"profile": "cpu"}, "parts": {"batch 64": record}}) if "faster" in v["claim"]
    ]
    assert [(v["claim"], v["epoch"]) for v in found] == [
        ("layer_norm_lstm_learns_faster_than_lstm", 1),
        ("layer_norm_gru_learns_faster_than_gru", 1),
    ]
    gru = found[1]
    assert (
        gru["outcome"] == "first lower"
        and gru["holds"] == "yes"
        and cells_words.metric_words(gru) == "validation error % after epoch 1"
    )
    assert gru["first_values"] == pytest.approx([4.0, 4.1, 3.9])
    lstm = found[0]  # LN-LSTM 1.5 %, LSTM 2 %: lower by 0.5 points, every seed
    assert lstm["outcome"] == "first lower"
    speed = rnn.speed_comparisons(record)
    assert speed[0]["pair"] == ("LN-LSTM", "LSTM") and speed[0]["epochs"] == ([1, 1, 1], [1, 1, 1])
    assert speed[0]["answer"]["answer"] == "equivalent"


def split_rnn_result(profile, errors, seeds, epochs, decay_epochs=5, unfinished=()):
    """A result split by seed (the cpu and budget profiles): each seed's cells at ``errors`` (fractions)
    plus 0.001 per seed index, at every epoch."""
    planned, records, in_progress = {}, {}, {}
    for index, seed in enumerate(seeds):
        name = rnn.part_name("batch 64", seed)
        config = {"batch_size": 64, "epochs": epochs, "seeds": [seed], "decay_epochs": decay_epochs}
        per_epoch = {cell: [[e + 0.001 * index]] * epochs for cell, e in errors.items()}
        planned[name] = config
        record = {
            "config": config,
            "epochs_done": epochs,
            "curves": {"train_nll": per_epoch, "val_error": per_epoch, "test_error": per_epoch}
            | {"epoch_seconds": [1.0] * epochs},
            "provenance": {"wall_seconds": 1.0},
        }
        (in_progress if seed in unfinished else records)[name] = record
    return {"config": {"profile": profile, "parts": planned}, "parts": records, "in_progress": in_progress}


def test_the_rnn_budget_check_confirms_overturns_or_waits():
    cpu = split_rnn_result("cpu", CELL_ERRORS, (0, 1, 2, 3, 4), 20)
    same = split_rnn_result("budget", CELL_ERRORS, rnn.BUDGET_SEEDS, 35)
    checks = {c["claim"]: c for c in rnn_budget.budget_check(cpu, same)}
    assert set(checks) == {claim for claim, *_ in rnn.SEQUENTIAL_CLAIMS}  # the speed questions are not checked
    ln = checks["layer_norm_lstm_beats_lstm"]
    assert ln["confirmed"] is True and ln["seeds"] == [0, 1] and ln["epochs"] == (20, 35)
    held = by_claim(rnn.verdicts(rnn.seeds_merged(cpu), list(checks.values())))
    assert held["layer_norm_lstm_beats_lstm"]["evidence"] == "budget confirmed"
    assert held["layer_norm_lstm_beats_lstm"]["holds"] == "yes"
    assert held["layer_norm_lstm_learns_faster_than_lstm"]["evidence"] == "complete"
    later = dict(CELL_ERRORS, LSTM=0.010)  # at the longer budget the LSTM ends lower than LN-LSTM
    checks = rnn_budget.budget_check(cpu, split_rnn_result("budget", later, rnn.BUDGET_SEEDS, 35))
    held = by_claim(rnn.verdicts(rnn.seeds_merged(cpu), checks))
    assert held["layer_norm_lstm_beats_lstm"]["evidence"] == "budget not confirmed"
    assert held["layer_norm_lstm_beats_lstm"]["holds"] == "undecided"
    table = rnn_words.budget_check_markdown(checks)
    assert "at 20 epochs" in table and "at 35 epochs" in table and "**no**" in table and "seeds 0, 1" in table
    assert "--profile budget" in rnn_words.budget_check_markdown([])
    training = split_rnn_result("budget", later, rnn.BUDGET_SEEDS, 35, unfinished=(1,))
    waiting = rnn_budget.budget_check(cpu, training)
    assert waiting and {c["confirmed"] for c in waiting} == {None}
    assert by_claim(rnn.verdicts(rnn.seeds_merged(cpu), waiting))["layer_norm_lstm_beats_lstm"]["holds"] == "yes"
    assert rnn_budget.budget_check(cpu, None) == [] and rnn_budget.saved_budget_check("paper") == []
    budget = rnn.profile_configs("budget")
    assert [c.seeds for c in budget.values()] == [[0], [1]]
    assert {(c.epochs, c.decay_epochs) for c in budget.values()} == {(35, 5)}


def test_partial_or_live_rnn_runs_never_say_yes_or_no():
    partial = {
        "config": {"profile": "cpu"},
        "parts": {},
        "in_progress": {"batch 64": rnn_record(CELL_ERRORS, epochs=3)},
    }
    verdicts = rnn.verdicts(partial)
    assert {v["holds"] for v in verdicts} == {"undecided"}
    assert {v["epoch"] for v in verdicts if "faster" not in v["claim"]} == {3}
    live = rnn.live_result(
        {"batch 64": rnn_record(CELL_ERRORS)},
        adding_part(0.01, 0.3)["results_by_seed"]["0"],
        {"length": 30, "steps": 1000, "test_lengths": (30, 60, 200)},
        "quick",
    )
    verdicts = rnn.verdicts(live)
    assert verdicts and {v["holds"] for v in verdicts} == {"undecided"}


def test_the_adding_convergence_check_follows_the_last_two_tenths_of_training():
    part = adding_part(0.01, 0.3, bn_final_loss=0.1 - 0.9 / 6 * 0.01)  # moved 0.9 % of 1/6: converged
    checks = rnn.adding_convergence(part["results_by_seed"])
    assert checks["BN-LSTM"]["converged"] and checks["BN-LSTM"]["window_steps"] == 10
    part = adding_part(0.01, 0.3, bn_final_loss=0.1 - 1.1 / 6 * 0.01)  # 1.1 %: not
    assert not rnn.adding_convergence(part["results_by_seed"])["BN-LSTM"]["converged"]
    assert "BN-LSTM no" in rnn_words.adding_convergence_sentence(part)


def test_a_verdict_without_values_is_undecided():
    verdict = make_verdict("claim", ("a", "b"), "first lower", [], [0.1], "complete", 0.1)
    assert verdict["outcome"] == verdict["holds"] == "undecided"


def test_the_live_check_compares_the_first_epoch_with_the_saved_one(monkeypatch):
    record = conv_record("fashion-mnist", 128, ERRORS, epochs=3)
    record["config"] = {
        "datasets": ["fashion-mnist"],
        "batch_size": 128,
        "epochs": 10,
        "seeds": [0, 1, 2],
        "learning_rates": {name: 1e-3 for name in ERRORS},
    }
    trained = []
    live_copy = SimpleNamespace(provenance=SimpleNamespace(checksum="b" * 64))

    def fake_train(config, dataset_name, device, progress, **kwargs):
        trained.append((config.epochs, config.seeds, config.normalizations))
        history = type("H", (), {"test_error": {config.normalizations[0]: [[0.2011]]}})()
        return history, {}, live_copy

    monkeypatch.setattr(conv, "train_config", fake_train)
    check = conv.retrace(conv_result([], in_progress=[record]))
    assert trained == [(1, [0], ["layer norm (C,H,W)"])]  # one network, one epoch
    assert check["saved"] == pytest.approx(20.0) and check["live"] == pytest.approx(20.11) and check["retraces"]
    assert "**retraces**" in conv_words.retrace_markdown(check)
    saved_far_off = dict(record, curves=curves_for({"layer norm (C,H,W)": 0.25}, 1))  # 25 % saved, 20.11 % live
    check = conv.retrace(conv_result([saved_far_off]))
    assert not check["retraces"] and "does NOT retrace" in conv_words.retrace_markdown(check)
    assert conv.retrace({"parts": {}}) is None and "No saved run" in conv_words.retrace_markdown(None)
    # on another copy of the data the check judges nothing (it printed "does NOT retrace")
    other_copy = dict(saved_far_off, provenance={"data": {"dataset": "fashion-mnist", "checksum": "a" * 64}})
    check = conv.retrace(conv_result([other_copy]))
    assert check["retraces"] is None and not check["same_data"]
    words = conv_words.retrace_markdown(check)
    assert "retrace**" not in words and "says **nothing**" in words and "`bbbbbbbbbbbb…`" in words
    same_copy = dict(saved_far_off, provenance={"data": {"dataset": "fashion-mnist", "checksum": "b" * 64}})
    assert conv.retrace(conv_result([same_copy]))["retraces"] is False


def test_a_run_that_cools_down_is_compared_at_its_last_epoch_and_checked_over_two():
    """With a cooldown (config decay_epochs > 0) the claim compares the annealed networks of the last
    epoch, not a mean over the last 5 epochs; the convergence check looks at the last 2 epochs."""
    record = conv_record("fashion-mnist", 128, ERRORS, epochs=15)
    # batch norm is far worse than layer norm until the last epoch, where it is far better
    record["curves"]["test_error"]["batch norm"] = [[0.30 + 0.001 * s for s in range(SEEDS)]] * 14 + [
        [0.15 + 0.001 * s for s in range(SEEDS)]
    ]
    record["config"] = {"epochs": 15, "decay_epochs": 5}
    held = by_claim(conv.verdicts(conv_result([record])))
    assert held["batch_norm_beats_layer_norm"]["holds"] == "yes"
    assert held["batch_norm_beats_layer_norm"]["first_values"] == pytest.approx([15.0, 15.1, 15.2])
    record["config"] = {"epochs": 15, "decay_epochs": 0}  # a constant rate: the last 5 epochs' mean
    held = by_claim(conv.verdicts(conv_result([record])))
    assert held["batch_norm_beats_layer_norm"]["outcome"] == "second lower"
    assert held["batch_norm_beats_layer_norm"]["holds"] == "no"
    # a partial comparison inside the constant epochs keeps the default window
    assert settle_window({"epochs": 15, "decay_epochs": 5}, 10) is None
    assert conv.convergence_rule({"epochs": 15, "decay_epochs": 5})["window"] == 2
    assert conv.convergence_rule({"epochs": 15})["window"] == 3


def test_the_cpu_profile_ends_every_part_in_a_cooldown_and_extends_the_constant_runs():
    configs = conv.cpu_profile_configs()
    assert {(c.datasets[0], c.batch_size, c.epochs, c.decay_epochs) for c in configs} == {
        ("fashion-mnist", 128, 15, 5),
        ("mnist", 128, 15, 5),
        ("fashion-mnist", 4, 4, 2),
    }
    assert all(c.decay_epochs <= c.epochs for c in conv.cpu_profile_configs(epochs=1))


def test_the_saved_run_table_states_each_parts_schedule_and_rule_from_its_record():
    record = conv_record("fashion-mnist", 128, ERRORS, epochs=15)
    record["config"] = {"epochs": 15, "decay_epochs": 5}
    record["convergence"] = {name: {"converged": True, "window": 2, "threshold_points": 0.2} for name in ERRORS}
    assert cells_words.schedule_words(record["config"]) == (
        "10 epochs at a constant rate, then 5 cooling it linearly to zero"
    )
    assert cells_words.rule_words(record) == (
        "converged when the seed-mean validation error moved less than 0.2 points over the last 2 epochs; "
        "claims compare the annealed last epoch (a part still training: the mean of the last epochs it reached)"
    )
    record["config"]["decay_epochs"] = 0
    assert "claims compare the mean of the last epochs" in cells_words.rule_words(record)


def test_two_finished_parts_with_a_cooldown_are_compared_across_batch_sizes_each_at_its_own_end():
    """Batch 128 (15 epochs) against batch 4 (4 epochs), both finished and annealed: each at its last
    epoch, not batch 128 at epoch 4 (the middle of its constant phase)."""
    large = conv_record("fashion-mnist", 128, ERRORS, epochs=15)
    large["config"] = {"epochs": 15, "decay_epochs": 5, "seeds": [0, 1, 2]}
    # batch 128's batch norm is poor until its cooldown, which ends it at 0.10
    large["curves"]["test_error"]["batch norm"] = [[0.40 + 0.001 * s for s in range(SEEDS)]] * 14 + [
        [0.10 + 0.001 * s for s in range(SEEDS)]
    ]
    small = conv_record("fashion-mnist", 4, dict(ERRORS, **{"batch norm": 0.30}), epochs=4)
    small["config"] = {"epochs": 4, "decay_epochs": 2, "seeds": [0, 1, 2]}
    held = by_claim(conv.verdicts(conv_result([large, small])), batch_size=4)
    verdict = held["batch_norm_degrades_more_than_layer_norm"]
    assert verdict["epoch"] == 4 and verdict["large_batch_epoch"] == 15 and verdict["holds"] == "yes"
    assert verdict["second_values"] == pytest.approx([20.0, 20.0, 20.0])  # 30 % at batch 4, 10 % at batch 128
    assert "each at the last epoch of its cooldown" in cells_words.metric_words(verdict)
    assert "batch 4 at epoch 4 vs 128 at epoch 15" in conv_words.verdicts_markdown([verdict])
    # batch 128 still training: both at the epoch both reached (4), where batch norm was at 40 %
    held = by_claim(conv.verdicts(conv_result([small], in_progress=[large])), batch_size=4)
    verdict = held["batch_norm_degrades_more_than_layer_norm"]
    assert verdict["large_batch_epoch"] == verdict["epoch"] == 4 and verdict["holds"] == "undecided"
    assert verdict["outcome"] == "second lower"  # batch norm's error fell from 40 % to 30 %: it "degraded" less


def test_the_budget_check_waits_for_both_parts_and_says_how_far_it_got():
    name = conv_budget.budget_check_names()["fashion-mnist", 128, 2]
    short = dict(conv_record("fashion-mnist", 128, ERRORS, epochs=15), config={"epochs": 15, "seeds": [2]})
    long = dict(conv_record("fashion-mnist", 128, ERRORS, epochs=14), config={"epochs": 25, "seeds": [2]})
    training = {"parts": {}, "in_progress": {name: long}}
    assert conv_budget.budget_check({"parts": {name: short}}, training) == []  # still training: no check yet
    assert "batch 128, seed 2 is still training: epoch 14 of 25" in conv_words.budget_check_markdown([], training)
    assert "has not been trained" in conv_words.budget_check_markdown([], None)
    finished = {"parts": {name: dict(long, curves=curves_for(ERRORS, 25))}}
    checks = conv_budget.budget_check({"parts": {name: short}}, finished)
    assert {c["claim"] for c in checks} == {claim for claim, *_ in conv.CLAIMS + conv.BATCH_CLAIMS}
    assert {c["confirmed"] for c in checks} == {None}  # one seed: no interval, nothing confirmed
    table = conv_words.budget_check_markdown(checks, finished)
    assert "batch 128, epochs 15 → 25 |" in table and "not tested (one seed)" in table


def test_a_budget_check_with_two_seeds_confirms_the_same_answer_and_refutes_another():
    names = conv_budget.budget_check_names()

    def part(errors, epochs, seed):
        record = conv_record("mnist", 128, errors, epochs=epochs)
        # one seed, whose test error moves 0.05 points per letter of a method's name with the seed
        spread = {m: [[e + 0.0005 * len(m) * seed]] * epochs for m, e in errors.items()}
        curves = {metric: spread for metric in ("train_nll", "val_error", "test_error")}
        return dict(record, config={"epochs": epochs, "seeds": [seed]}, curves=curves)

    def both(errors, epochs):
        return {"parts": {names["mnist", 128, seed]: part(errors, epochs, seed) for seed in (1, 2)}}

    short = both(ERRORS, 15)
    same = conv_budget.budget_check(short, both(ERRORS, 25))
    found = {c["claim"]: c for c in same}["batch_norm_beats_layer_norm"]
    assert found["confirmed"] is True and sorted(found["seeds"]) == [1, 2]  # two seed parts read together
    closed = conv_budget.budget_check(short, both(dict(ERRORS, **{"batch norm": 0.20}), 25))
    check = {c["claim"]: c for c in closed}["batch_norm_beats_layer_norm"]
    assert check["confirmed"] is False and check["answer_at_longer_budget"] != check["answer_at_checked_budget"]
    one = conv_budget.budget_check(short, {"parts": {names["mnist", 128, 2]: part(ERRORS, 25, 2)}})
    assert {c["confirmed"] for c in one} == {None}  # seed 1's budget part not finished: one seed, no interval


def test_the_conv_summary_names_where_each_decided_claim_was_compared():
    record = conv_record("fashion-mnist", 128, ERRORS)
    decided = conv_words.summary_markdown(conv.verdicts(conv_result([record]), budget_checks(True)))
    assert "” holds at fashion-mnist, batch 128, epoch 10: batch norm lower by 3.00" in decided
    undecided = conv_words.summary_markdown(conv.verdicts(conv_result([], in_progress=[record])))
    assert "holds" not in undecided and "All 3 claims stay undecided (evidence: partial: still training" in undecided


def test_a_batch_size_claim_pairs_the_seeds_both_parts_hold():
    """A batch-4 part still training with two of three seeds is compared on those two seeds."""
    large = conv_record("fashion-mnist", 128, ERRORS, epochs=10)
    large["config"] = {"epochs": 10, "seeds": [0, 1, 2]}
    small = conv_record("fashion-mnist", 4, dict(ERRORS, **{"batch norm": 0.30}), epochs=1)
    small["config"] = {"epochs": 4, "seeds": [1, 2]}
    for name, per_epoch in small["curves"]["test_error"].items():
        small["curves"]["test_error"][name] = [values[1:] for values in per_epoch]
    held = by_claim(conv.verdicts(conv_result([large], in_progress=[small])), batch_size=4)
    claim = held["batch_norm_degrades_more_than_group_norm"]
    assert claim["seeds"] == 2 and claim["holds"] == "undecided" and claim["evidence"] == "partial"
    assert claim["second_values"] == pytest.approx([13.0, 13.0])  # seed k against seed k


def test_every_checked_part_has_a_longer_budget():
    assert {where[:2] for where in conv_budget.budget_check_names()} == set(conv_budget.BUDGET_CHECKED_PARTS)
    assert {where[2] for where in conv_budget.budget_check_names()} == set(conv_budget.BUDGET_CHECK_SEEDS) == {1, 2}
    assert {config.epochs for config in conv_budget.budget_check_configs().values()} == {25, 6}


def test_a_batch_size_claim_is_decided_only_when_both_sides_are_confirmed():
    large = conv_record("fashion-mnist", 128, ERRORS)
    small = conv_record("fashion-mnist", 4, dict(ERRORS, **{"batch norm": 0.30}), epochs=4)
    result = conv_result([large, small])
    at_4 = [dict(c, batch_size=4) for c in budget_checks(True)]

    def across(checks):
        return [v for v in conv.verdicts(result, checks) if "large_batch_epoch" in v]

    assert {(v["evidence"], v["holds"]) for v in across(budget_checks(True) + at_4)} == {("budget confirmed", "yes")}
    one_side = across(budget_checks(True))
    assert {v["evidence"] for v in one_side} == {"complete"} and {v["holds"] for v in one_side} == {"yes"}
    refuted = across(budget_checks(True) + [dict(c, confirmed=False) for c in at_4])
    assert {v["holds"] for v in refuted} == {"undecided"}


def test_the_budget_check_has_no_batch_size_rows_for_a_dataset_trained_at_one_batch_size():
    names = conv_budget.budget_check_names()
    short = conv_record("mnist", 128, ERRORS, epochs=15)
    at = names["mnist", 128, 2]
    checks = conv_budget.budget_check({"parts": {at: short}}, {"parts": {at: short}})
    assert {c["claim"] for c in checks} == {claim for claim, *_ in conv.CLAIMS}
