"""The MNIST chapter's bookkeeping: profiles, result files, claims computed from curves."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
from helpers import RATES, tiny_dataset, tiny_profile

from lnutils import runs
from lnutils.compare import settled
from lnutils.experiments import mnist, mnist_rates
from lnutils.experiments import mnist as experiment
from lnutils.mlp import METHODS, MLPStack
from lnutils.report import mnist as mnist_words


def curves(final_errors: dict, final_nll: dict, epochs=3, seeds=2) -> dict:
    out = {"train_nll": {}, "val_error": {}, "test_error": {}}
    for m in METHODS:
        out["train_nll"][m] = np.full((epochs, seeds), final_nll[m]).tolist()
        out["test_error"][m] = np.full((epochs, seeds), final_errors[m]).tolist()
        out["val_error"][m] = np.full((epochs, seeds), final_errors[m]).tolist()
    return out


def spread(values: dict, by=(0.0, 1e-4, -1e-4)) -> dict:
    """Seeds of ``values`` (fractions) with a small spread that differs by method, so paired differences vary."""
    return {m: (np.array(v) + np.array(by) * (1 + i)).tolist() for i, (m, v) in enumerate(values.items())}


def complete(curves_by_batch: dict) -> dict:
    return {b: {"curves": c, "complete": True} for b, c in curves_by_batch.items()}


def test_questions_are_answered_from_the_curves():
    agrees = {
        128: curves(
            {"baseline": 0.015, "batch norm": 0.013, "layer norm": 0.012},
            {"baseline": 1e-4, "batch norm": 1e-3, "layer norm": 1e-7},
            epochs=8,
            seeds=3,
        ),
        4: curves(
            {"baseline": 0.015, "batch norm": 0.022, "layer norm": 0.012},
            {"baseline": 1e-4, "batch norm": 1e-2, "layer norm": 1e-5},
            epochs=8,
            seeds=3,
        ),
    }
    for c in agrees.values():
        c["test_error"] = spread(c["test_error"])
    found = {(v["claim"], v.get("batch_size")): v for v in experiment.verdicts(complete(agrees))}
    assert found["layer_norm_beats_batch_norm_at_batch_4", 4]["holds"] == "yes"
    # 1.2 against 1.3 %: a tenth of a point, inside the 0.2-point margin, so equivalent though significant
    assert found["layer_norm_vs_batch_norm", 128]["outcome"] == "equivalent"
    assert found["layer_norm_vs_batch_norm", 128]["interval"]["hi"] < 0
    assert found["layer_norm_vs_batch_norm", 128]["holds"] == "no claim"
    assert found["layer_norm_robust_to_batch_size", 4]["outcome"] == "equivalent"
    assert found["layer_norm_robust_to_batch_size", 4]["holds"] == "yes"
    assert found["batch_norm_robust_to_batch_size", 4]["outcome"] == "second lower"
    assert found["layer_norm_converges_faster_nll", 128]["holds"] == "yes"
    # each answer follows its inputs: LN worse than BN at batch 4, and LN worse at batch 4 than at 128
    flipped = {b: dict(c) for b, c in agrees.items()}
    flipped[4] = dict(
        agrees[4],
        test_error=spread(
            curves(
                {"baseline": 0.015, "batch norm": 0.013, "layer norm": 0.016},
                {m: 1e-3 for m in METHODS},
                epochs=8,
                seeds=3,
            )["test_error"]
        ),
    )
    found = {(v["claim"], v.get("batch_size")): v for v in experiment.verdicts(complete(flipped))}
    assert found["layer_norm_beats_batch_norm_at_batch_4", 4]["holds"] == "no"
    assert (
        found["layer_norm_robust_to_batch_size", 4]["outcome"] == "first lower"
        or found["layer_norm_robust_to_batch_size", 4]["holds"] == "no"
    )
    table = mnist_words.verdicts_markdown(experiment.verdicts(complete(flipped)))
    assert "| **no** |" in table and "At batch 4, LN ends below BN" in table


def test_a_noisy_difference_is_undecided_with_its_interval():
    c = curves(
        {"baseline": 0.016, "batch norm": 0.012, "layer norm": 0.0159},
        {"baseline": 1e-3, "batch norm": 1e-3, "layer norm": 1e-8},
        epochs=6,
        seeds=3,
    )
    c["test_error"]["baseline"] = (
        np.array(c["test_error"]["baseline"]) + [[-0.004, 0.0, 0.004]]
    ).tolist()  # seeds spread ±0.4 points
    found = {v["claim"]: v for v in experiment.verdicts(complete({128: c}))}
    assert found["layer_norm_vs_baseline"]["outcome"] == "undecided"
    assert found["layer_norm_vs_baseline"]["interval"]["lo"] < 0 < found["layer_norm_vs_baseline"]["interval"]["hi"]
    assert "undecided: LN − none = " in mnist_words.verdicts_markdown(list(found.values()))


def test_answers_use_the_last_epochs_and_one_seed_gives_no_interval():
    c = curves(
        {"baseline": 0.015, "batch norm": 0.030, "layer norm": 0.014}, {m: 1e-3 for m in METHODS}, epochs=8, seeds=1
    )
    c["test_error"]["batch norm"][5] = [0.001]  # before the last quarter of 8 epochs: ignored
    assert settled(c, "test_error", "batch norm")[0] == pytest.approx(0.030)
    c["test_error"]["batch norm"][6] = [0.010]  # inside it: averaged with the last epoch
    assert settled(c, "test_error", "batch norm")[0] == pytest.approx(0.020)
    long_run = curves({m: 0.02 for m in METHODS}, {m: 1e-3 for m in METHODS}, epochs=65, seeds=1)
    long_run["test_error"]["baseline"][59] = [0.5]  # the 6th epoch from the end: outside the last 5
    assert settled(long_run, "test_error", "baseline")[0] == pytest.approx(0.02)
    table = mnist_words.verdicts_markdown(experiment.verdicts(complete({4: c})))
    assert "undecided: one seed, no interval" in table


def test_results_rows_mean_and_spread():
    c = curves({"baseline": 0.015, "batch norm": 0.013, "layer norm": 0.012}, {m: 1e-3 for m in METHODS})
    c["test_error"]["layer norm"][-1] = [0.010, 0.014]
    row = next(r for r in mnist_words.mnist_results_rows(c, 128) if r["method"] == "layer norm")
    assert row["final test error %"] == "1.20 ± 0.28" and row["seeds"] == 2 and row["epochs"] == 3


def test_profiles_and_overrides():
    quick = experiment.profile_config("quick", 4, learning_rates=RATES)
    assert quick.bn_unbiased and quick.seeds == [0]
    paper = experiment.profile_config("paper", 128, learning_rates=RATES, epochs=2)
    assert paper.epochs == 2 and not paper.bn_unbiased and len(paper.seeds) == 3


def one_part_result(errors_by_seed: list[dict], epochs: int, finished: bool = True) -> dict:
    """A result of one batch-128 part whose seeds end at ``errors_by_seed`` (test error fractions)."""
    seeds = list(range(len(errors_by_seed)))
    config = {"batch_size": 128, "epochs": epochs, "seeds": seeds}
    by_method = {m: [[e[m] for e in errors_by_seed]] * epochs for m in METHODS}
    record = {
        "batch_size": 128,
        "config": config,
        "epochs_done": epochs,
        "curves": {"train_nll": by_method, "val_error": by_method, "test_error": by_method, "epoch_seconds": [1.0]},
    }
    where = "parts" if finished else "in_progress"
    return {"config": {"parts": {"batch 128": config}}, "parts": {}, where: {"batch 128": record}}


def test_the_budget_check_answers_the_batch_128_questions_on_its_seeds_at_both_budgets():
    assert experiment.profile_configs("budget")["batch 128"].epochs == 130
    assert experiment.profile_configs("budget")["batch 128"].seeds == [0, 1]
    seed = [{"layer norm": 0.012, "batch norm": 0.020, "baseline": 0.028}, {}, {}]
    seed[1] = {m: v + 0.0003 for m, v in seed[0].items()}
    seed[2] = {"layer norm": 0.030, "batch norm": 0.010, "baseline": 0.010}  # the seed the check leaves out
    paper = one_part_result(seed, 65)
    checks = {c["claim"]: c for c in experiment.budget_check(paper, one_part_result(seed[:2], 130))}
    assert checks["layer_norm_vs_batch_norm"]["confirmed"] is True
    assert checks["layer_norm_vs_batch_norm"]["answer_at_checked_budget"] == "first lower"  # seeds 0 and 1 only
    assert checks["layer_norm_vs_batch_norm"]["epochs"] == (65, 130)
    found = experiment.verdicts(experiment.runs_by_batch_size(paper), budget_checks=list(checks.values()))
    assert {v["evidence"] for v in found if v["metric"] == "test_error_last_epochs"} == {"budget confirmed"}
    assert {v["evidence"] for v in found if v["metric"] != "test_error_last_epochs"} == {"complete"}
    flipped = [{**s, "layer norm": 0.030} for s in seed[:2]]  # LN ends above BN at 130 epochs
    checks = experiment.budget_check(paper, one_part_result(flipped, 130))
    found = {v["claim"]: v for v in experiment.verdicts(experiment.runs_by_batch_size(paper), budget_checks=checks)}
    assert found["layer_norm_vs_batch_norm"]["evidence"] == "budget not confirmed"
    assert "**no**" in mnist_words.budget_check_markdown(
        checks
    ) and "at 130 epochs" in mnist_words.budget_check_markdown(checks)
    waiting = experiment.budget_check(paper, one_part_result(flipped, 40, finished=False))
    assert {c["confirmed"] for c in waiting} == {None}
    assert experiment.budget_check(paper, None) == [] and "--profile budget" in mnist_words.budget_check_markdown([])


def test_missing_selection_file_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="experiments mnist select --batch-size 4"):
        experiment.selected_learning_rates(4, results_dir=tmp_path)


def test_run_writes_provenance_and_never_shortens_a_longer_saved_run(tmp_path, monkeypatch):
    tiny_profile(monkeypatch, epochs=3)
    where = dict(results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    experiment.run_profile("paper", time_budget_seconds=1e-9, **where)  # one epoch, then out of time
    experiment.run_profile("paper", time_budget_seconds=1e-9, **where)  # resumed: a second epoch
    saved = json.loads((tmp_path / "mnist_paper.json").read_text())
    progress = saved["in_progress"]["batch 50"]
    assert progress["epochs_done"] == 2 and saved["parts"] == {} and not saved["complete"]
    assert {"data", "versions", "commit", "device", "wall_seconds"} <= set(progress["provenance"])
    assert progress["config"]["seeds"] == [0] and progress["provenance"]["data"]["checksum"]
    assert experiment.saved_paper_runs(tmp_path)[50]["complete"] is False
    # a restart without its checkpoint must not overwrite the longer run with a shorter one
    (checkpoint,) = tmp_path.glob("mnist_paper_b50_*.pt")
    checkpoint.unlink()
    experiment.run_profile("paper", time_budget_seconds=1e-9, **where)
    assert json.loads((tmp_path / "mnist_paper.json").read_text())["in_progress"]["batch 50"]["epochs_done"] == 2
    experiment.run_profile("paper", **where)
    saved = json.loads((tmp_path / "mnist_paper.json").read_text())
    assert saved["complete"] and saved["parts"]["batch 50"]["epochs_done"] == 3 and not saved.get("in_progress")
    assert set(saved["parts"]["batch 50"]["convergence"]) == set(METHODS)


def test_a_profile_run_trains_only_the_batch_sizes_asked_and_overwrite_keeps_unchanged_parts(tmp_path, monkeypatch):
    tiny_profile(monkeypatch, batch_sizes=(50, 25), epochs=1)
    where = dict(results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    payload = experiment.run_profile("paper", batch_sizes=[25], **where)
    assert list(payload["parts"]) == ["batch 25"] and not payload["complete"]
    with pytest.raises(ValueError, match="no part at batch size"):
        experiment.run_profile("paper", batch_sizes=[7], **where)
    experiment.run_profile("paper", **where)
    first = json.loads((tmp_path / "mnist_paper.json").read_text())
    assert first["complete"]
    # new rates for batch 25 only: the batch-50 part is kept as it is, batch 25 trains again
    rates = {**RATES, "layer norm": 3e-4}
    tiny_profile(monkeypatch, batch_sizes=(50, 25), epochs=1, rates={25: rates})
    with pytest.raises(runs.ResultsConflict, match="another configuration"):
        experiment.run_profile("paper", **where)
    experiment.run_profile("paper", overwrite=True, **where)
    now = json.loads((tmp_path / "mnist_paper.json").read_text())
    assert now["parts"]["batch 50"] == first["parts"]["batch 50"]  # kept, not trained again
    assert now["parts"]["batch 25"]["config"]["learning_rates"]["layer norm"] == 3e-4
    kept = runs.replaced_results("mnist_paper.json", tmp_path)
    assert [r["parts"]["batch 25"]["config"]["learning_rates"]["layer norm"] for r in kept] == [1e-3]
    replaced = experiment.replaced_paper_runs(tmp_path)
    assert [r["config"]["learning_rates"]["layer norm"] for r in replaced[25]] == [1e-3] and not replaced.get(50)


def test_batch_size_robustness_compares_the_two_runs_at_the_epochs_both_reached():
    long_run = curves({"baseline": 0.015, "batch norm": 0.013, "layer norm": 0.012}, {m: 1e-3 for m in METHODS}, 65, 3)
    short_run = curves({"baseline": 0.02, "batch norm": 0.03, "layer norm": 0.0196}, {m: 1e-3 for m in METHODS}, 8, 3)
    # batch 128 at epoch 8 was worse than at its end: the fair comparison is at epoch 8
    long_run["test_error"]["layer norm"][:8] = [[0.0221, 0.0220, 0.0222]] * 8
    short_run["test_error"]["layer norm"] = (
        np.array(short_run["test_error"]["layer norm"]) + [0, 1e-4, -1e-4]
    ).tolist()
    runs_by_batch = {128: {"curves": long_run, "complete": True}, 4: {"curves": short_run, "complete": False}}
    found = {v["claim"]: v for v in experiment.verdicts(runs_by_batch) if v.get("batch_size") == 4}
    robust = found["layer_norm_robust_to_batch_size"]
    assert robust["epoch"] == 8 and robust["outcome"] == "first lower"  # at epoch 8, batch 4 (1.96 %) < 128 (2.21 %)
    assert robust["evidence"] == "partial" and robust["holds"] == "undecided"
    steps = found["layer_norm_robust_to_batch_size_equal_steps"]  # batch 4's epoch 2 against batch 128's 64
    assert steps["epoch"] == 2 and steps["large_batch_epoch"] == 64
    assert steps["second_values"] == pytest.approx([1.2] * 3)


def test_a_live_quick_run_or_a_partial_run_never_says_yes_or_no():
    agrees = {
        128: curves({"baseline": 0.015, "batch norm": 0.013, "layer norm": 0.012}, {m: 1e-3 for m in METHODS}),
        4: curves({"baseline": 0.015, "batch norm": 0.022, "layer norm": 0.012}, {m: 1e-3 for m in METHODS}),
    }
    live = experiment.verdicts({b: {"curves": c} for b, c in agrees.items()}, live=True)
    partial = experiment.verdicts({4: {"curves": agrees[4], "complete": False}})
    for verdicts in (live, partial):
        assert verdicts and {v["holds"] for v in verdicts} <= {"undecided", "no claim"}
        table = mnist_words.verdicts_markdown(verdicts)
        assert "**yes**" not in table and "**no**" not in table
    assert {v["outcome"] for v in live} == {"undecided"}


def test_the_early_epochs_bn_leads_are_counted():
    c = curves({"baseline": 0.015, "batch norm": 0.013, "layer norm": 0.014}, {m: 1e-3 for m in METHODS}, 40, 3)
    assert experiment.bn_below_ln_epochs(c) == (30, 30)
    sentence = mnist_words.early_test_error_sentence(experiment.bn_below_ln_epochs(c))
    assert "BN's seed-mean test error is below LN's in 30 of the first 30 epochs" in sentence


def test_a_rate_chosen_at_the_edge_of_its_grid_adds_the_next_rate_until_it_is_interior(tmp_path, monkeypatch):
    """The registered rule of batch 4's selection: the grid grows past an edge choice, per method."""
    assert runs.neighbour_rate(1e-4, -1) == 3e-5 and runs.neighbour_rate(3e-4, +1) == 1e-3
    assert runs.neighbour_rate(3e-5, -1) == 1e-5 and runs.neighbour_rate(1e-3, +1) == 3e-3
    grids = {m: [1e-4, 3e-4, 1e-3] for m in METHODS}
    chosen = {"baseline": 3e-4, "batch norm": 1e-4, "layer norm": 1e-3}
    assert experiment.edge_extensions(chosen, grids) == {"batch norm": 3e-5, "layer norm": 3e-3}
    # a run: one epoch on a tiny set, a grid of one rate, so every choice is at an edge and each method grows
    monkeypatch.setattr(mnist_rates, "load_mnist", lambda: tiny_dataset())
    seen = []
    real = experiment.edge_extensions

    def twice(chosen, grids):  # stop after two extensions, whatever the tiny runs choose
        seen.append(dict(chosen))
        return real(chosen, grids) if len(seen) <= 2 else {}

    monkeypatch.setattr(mnist_rates, "edge_extensions", twice)
    payload = experiment.select_learning_rates_run(
        50,
        1,
        seeds=(0, 1),
        grid=(1e-3,),
        train_subset=200,
        progress=False,
        results_dir=tmp_path,
        checkpoint_dir=tmp_path,
        extend_edges=True,
    )
    assert payload["complete"] and payload["config"]["seeds"] == [0, 1]
    assert all(len(rates) == 3 for rates in payload["grids"].values())  # 1e-3, then two rates beyond an edge
    assert set(payload["curves"]["val_error"]) == {f"{m}@{r:g}" for m, rates in payload["grids"].items() for r in rates}
    assert all(len(values[-1]) == 2 for values in payload["curves"]["val_error"].values())  # both seeds
    assert "mean of seeds 0, 1" in payload["rule"] and "edge of its grid" in payload["rule"]


def test_a_new_selection_still_training_leaves_the_runs_on_the_last_complete_one(tmp_path):
    done = {"config": {"epochs": 1}, "chosen": {"layer norm": 1e-3}}  # as the files before "complete" was recorded
    runs.write_json(tmp_path / "mnist_lr_b4.json", done)
    runs.save_results(
        tmp_path / "mnist_lr_b4.json",
        {"config": {"epochs": 3}, "complete": False, "epochs_done": 1, "epochs": 3},
        overwrite=True,
    )
    used = experiment.selection_in_use(4, tmp_path)
    assert used["chosen"] == {"layer norm": 1e-3} and used["superseded_by"] == {"epochs_done": 1, "epochs": 3}


def test_batch_4_of_the_paper_profile_trains_one_part_per_seed_and_reads_them_together(tmp_path, monkeypatch):
    configs = experiment.profile_configs("paper", epochs=2)
    assert [n for n in configs if n.startswith("batch 4")] == ["batch 4, seed 0", "batch 4, seed 1", "batch 4, seed 2"]
    assert configs["batch 4, seed 1"].seeds == [1] and configs["batch 128"].seeds == [0, 1, 2]
    monkeypatch.setattr(experiment, "SEED_PARTS", {("paper", 25)})
    monkeypatch.setattr(experiment, "load_mnist", lambda: tiny_dataset())

    def split(profile, epochs=None, seeds=None):
        config = experiment.RunConfig(batch_size=25, epochs=epochs or 2, seeds=[0, 1], learning_rates=RATES)
        return {experiment.part_name(25, s): experiment.RunConfig(**{**asdict(config), "seeds": [s]}) for s in (0, 1)}

    monkeypatch.setattr(experiment, "profile_configs", split)
    where = dict(results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    experiment.run_profile("paper", time_budget_seconds=1e-9, **where)  # seed 0: one epoch, then out of time
    partial = experiment.saved_paper_runs(tmp_path)[25]
    assert partial["complete"] is False and partial["config"]["seeds"] == [0] and partial["epochs_done"] == 1
    experiment.run_profile("paper", **where)
    merged = experiment.saved_paper_runs(tmp_path)[25]
    assert merged["complete"] and merged["config"]["seeds"] == [0, 1] and merged["epochs_done"] == 2
    assert np.asarray(merged["curves"]["test_error"]["layer norm"]).shape == (2, 2)


def test_the_sensitivity_reads_one_full_length_selection_per_seed_and_answers_at_two_kinds_of_rate(tmp_path):
    grid = [1e-4, 1e-3]

    def selection(seed, errors):  # errors: {(method, rate): test error fraction}; validation the same
        curves = {key: {} for key in ("train_nll", "val_error", "test_error")}
        for (method, rate), error in errors.items():
            label = runs.grid_label(method, rate)
            for key in curves:
                curves[key][label] = [[error + 0.001 * seed + 0.0001 * len(method)]] * 6
        return {"config": {"seed": seed}, "complete": True, "grid": grid, "curves": curves}

    errors = {
        ("baseline", 1e-4): 0.018,
        ("baseline", 1e-3): 0.020,
        ("batch norm", 1e-4): 0.015,
        ("batch norm", 1e-3): 0.013,
        ("layer norm", 1e-4): 0.016,
        ("layer norm", 1e-3): 0.014,
    }
    assert experiment.sensitivity(results_dir=tmp_path) is None
    runs.write_json(tmp_path / experiment.selection_name("lr_full", 128, 0), selection(0, errors))
    one = experiment.sensitivity(results_dir=tmp_path)
    assert one["seeds"] == [0] and {v["outcome"] for v in one["verdicts"]} == {"undecided"}
    assert one["best"] == {"baseline": 1e-4, "batch norm": 1e-3, "layer norm": 1e-3}
    for seed in (1, 2):
        runs.write_json(tmp_path / experiment.selection_name("lr_full", 128, seed), selection(seed, errors))
    assert experiment.selection_name("lr_full", 128, 2) == "mnist_lr_full_b128_s2.json"
    found = experiment.sensitivity(results_dir=tmp_path)
    assert found["seeds"] == [0, 1, 2] and found["test_error"]["layer norm"][1e-3] == pytest.approx(
        [1.5, 1.6, 1.7], abs=1e-9
    )
    at = {(v["roles"], v["at"]): v for v in found["verdicts"]}
    best = at[("layer norm", "baseline"), "best"]  # LN at 1e-3 (1.4 %) against the baseline at 1e-4 (1.8 %)
    assert best["outcome"] == "first lower" and best["rates"] == (1e-3, 1e-4)
    assert at[("layer norm", "batch norm"), "shared"]["interval"]["d"] == pytest.approx(0.1, abs=1e-6)
    assert "each at its best rate" in mnist_words.sensitivity_markdown(found)
    with pytest.raises(ValueError, match="one seed"):
        experiment.select_learning_rates_run(128, 1, seeds=(1, 2), full_length=True, results_dir=tmp_path)


def test_speed_at_matched_rates_counts_the_epochs_to_each_validation_error():
    assert mnist_rates.epochs_to_reach([5.0, 2.5, 1.9, 2.1], 2.0) == 3
    assert mnist_rates.epochs_to_reach([5.0, 2.5], 2.0) is None

    def selection(curves_by_label):
        return {"curves": {"val_error": {label: [[e] for e in c] for label, c in curves_by_label.items()}}}

    fast, slow = [0.05, 0.025, 0.019, 0.018], [0.05, 0.04, 0.029, 0.019]  # 2 % after epoch 3 against 4
    rates = {"layer norm": 1e-3, "batch norm": 1e-3, "baseline": 1e-3}
    found = {
        seed: selection({runs.grid_label(m, 1e-3): (fast if m == "layer norm" else slow) for m in rates})
        for seed in (0, 1, 2)
    }
    speed = mnist_rates.matched_rate_speed(found, rates, "complete")
    at = {(v["roles"], v["at"], v["threshold"]): v for v in speed}
    two = at[("layer norm", "batch norm"), "shared", 2.0]
    assert two["epochs"] == [[3, 3, 3], [4, 4, 4]] and two["outcome"] == "first lower" and two["holds"] == "yes"
    assert at[("layer norm", "batch norm"), "shared", 3.0]["epochs"] == [[2, 2, 2], [3, 3, 3]]
    found[1]["curves"]["val_error"][runs.grid_label("batch norm", 1e-3)] = [[0.05]] * 4  # never reaches 2 %
    never = {(v["roles"], v["at"], v["threshold"]): v for v in mnist_rates.matched_rate_speed(found, rates, "complete")}
    unreached = never[("layer norm", "batch norm"), "shared", 2.0]
    assert unreached["never"] == [0, 1] and unreached["outcome"] == "undecided"
    table = mnist_words.matched_speed_markdown(list(never.values()))
    assert "BN 4, never, 4" in table and "not compared: a seed never got there" in table


def test_kept_networks_train_a_seed_of_the_saved_run_again_and_the_probe_reads_them(tmp_path, monkeypatch):
    """mnist.keep_networks trains seed 0's layer norm of the saved run again (tiny here), compares its
    test-error curve with the saved one, keeps its weights; the loaded stack gives the same outputs, and
    the probe reads it in place of this build's networks, saying so."""
    config = experiment.RunConfig(batch_size=50, epochs=2, seeds=[0, 1], learning_rates=RATES, train_subset=200)
    saved_curve = {"layer norm": [[0.5, 0.6], [0.4, 0.5]]}
    part = {
        "config": asdict(config),
        "curves": {"test_error": saved_curve},
        "provenance": {"device": "cpu (1 threads, x86_64)"},
    }
    (tmp_path / "mnist_paper.json").write_text(json.dumps({"config": {}, "parts": {"batch 50": part}}))
    kept = experiment.keep_networks(50, 0, dataset=tiny_dataset(), progress=False, results_dir=tmp_path)
    assert kept["networks"] == ["layer norm"] and kept["config"]["seeds"] == [0] and kept["threads"] == 1
    agreement = kept["agreement_with_saved_run"]["layer norm"]
    assert agreement["saved_final_test_error"] == pytest.approx(40.0)
    stacks, record = experiment.load_kept_networks(50, 0, results_dir=tmp_path)
    assert record["sha256"] == kept["sha256"] and not stacks["layer norm"].training
    gains = stacks["layer norm"].gains_and_biases(0)
    assert gains and all(np.isfinite(g).all() for g, _ in gains.values())
    live = {50: {"layer norm": MLPStack("layer norm", [0])}}
    monkeypatch.setattr(runs, "results_dir", lambda: tmp_path)
    probed, about = experiment.probe_networks(live, batch_size=50)
    assert probed["layer norm"] is not live[50]["layer norm"] and about["source"] == "kept"
    assert "trained again to the end (2 epochs)" in mnist_words.probe_networks_sentence(about)
    nothing, about = experiment.probe_networks(live, batch_size=64)
    assert nothing == live.get(64, {}) and about["source"] == "this build"


def test_selection_with_fewer_images_than_a_batch_is_refused(tmp_path):
    with pytest.raises(ValueError, match="less than one batch"):
        mnist.select_learning_rates_run(128, 1, train_subset=0, results_dir=tmp_path)


def test_a_selection_cut_short_says_so_and_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_rates, "load_mnist", lambda: tiny_dataset())
    payload = mnist.select_learning_rates_run(
        50, 3, train_subset=200, progress=False, results_dir=tmp_path, checkpoint_dir=tmp_path, time_budget_seconds=1e-9
    )
    assert payload["epochs_done"] == 1 and not payload["complete"]
    assert "after 1 epoch(s)" in payload["rule"] and "cut short: 1 of the 3" in payload["rule"]
    with pytest.raises(FileNotFoundError, match="stopped after 1 of 3 epochs"):
        mnist.selected_learning_rates(50, tmp_path)
