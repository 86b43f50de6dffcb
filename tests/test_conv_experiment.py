"""lnutils.experiments.conv and conv_budget: runs part by part, resumed, and the longer budget."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import (
    tiny_dataset,
    tiny_profile_split_by_seed,
)

from lnutils.experiments import conv


def test_conv_run_resumes_part_by_part_and_keeps_finished_parts(tmp_path, monkeypatch):
    trained = []

    def fake_train_config(
        config,
        dataset_name,
        device,
        progress,
        checkpoint=None,
        time_budget_seconds=None,
        on_epoch_end=None,
        branch_from=None,
    ):
        trained.append((dataset_name, config.batch_size))
        if len(trained) == 2:
            raise KeyboardInterrupt  # the second part dies
        history = type("H", (), {"epoch_seconds": [1.0] * config.epochs, "to_dict": lambda self: {"test_error": {}}})()
        return history, {}, tiny_dataset()

    monkeypatch.setattr(conv, "train_config", fake_train_config)
    monkeypatch.setattr(conv, "selected_learning_rates", lambda *a: {})
    with pytest.raises(KeyboardInterrupt):
        conv.run_profile("quick", results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    saved = json.loads((tmp_path / "conv_quick.json").read_text())
    assert [(r["dataset"], r["batch_size"]) for r in saved["parts"].values()] == [("fashion-mnist", 128)]
    assert not saved["complete"]
    trained.clear()
    conv.run_profile("quick", results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    assert trained == [("fashion-mnist", 4)]  # the finished part is not trained again
    saved = json.loads((tmp_path / "conv_quick.json").read_text())
    assert list(saved["parts"]) == ["fashion-mnist, batch 128", "fashion-mnist, batch 4"] and saved["complete"]
    assert [r["batch_size"] for r in conv.saved_records("quick", tmp_path)] == [128, 4]


def test_the_conv_cpu_run_saves_each_epoch_of_a_part_and_checks_convergence(tmp_path, monkeypatch):
    from lnutils.experiments import conv

    def tiny(epochs=None, train_subset=None):
        rates = {name: 1e-3 for name in ("none", "layer norm (C,H,W)")}
        make = conv.ConvConfig
        return [
            make(["fashion-mnist"], 128, epochs or 3, [0, 1], rates, ["none", "layer norm (C,H,W)"], 256, 128),
            make(["mnist"], 128, epochs or 3, [0, 1], rates, ["none", "layer norm (C,H,W)"], 256, 128),
        ]

    monkeypatch.setattr(conv, "cpu_profile_configs", tiny)
    monkeypatch.setattr(conv, "load_dataset", lambda name: tiny_dataset())
    # the first call stops after the first epoch of the first part: its epoch is in the file, marked in progress
    conv.run_profile("cpu", results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False, time_budget_seconds=1e-9)
    saved = json.loads((tmp_path / "conv_cpu.json").read_text())
    assert saved["parts"] == {} and not saved["complete"]
    progress = saved["in_progress"]["fashion-mnist, batch 128"]
    assert progress["epochs_done"] == 1 and progress["convergence"]["none"]["converged"] is False
    assert conv.saved_records("cpu", tmp_path) == []  # a part in progress is never read as a finished one
    conv.run_profile("cpu", results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    saved = json.loads((tmp_path / "conv_cpu.json").read_text())
    assert saved["complete"] and not saved.get("in_progress")
    record = saved["parts"]["fashion-mnist, batch 128"]
    assert record["epochs_done"] == 3 and set(record["convergence"]) == {"none", "layer norm (C,H,W)"}
    check = record["convergence"]["none"]
    assert check["window"] == 3 and check["threshold_points"] == 0.2 and isinstance(check["converged"], bool)


def test_a_conv_run_can_train_only_the_parts_of_one_batch_size(tmp_path, monkeypatch):
    from lnutils.experiments import conv

    names, rates, _ = tiny_profile_split_by_seed(monkeypatch)

    def two_batch_sizes(epochs=None, train_subset=None):
        return [
            conv.ConvConfig(["fashion-mnist"], batch, epochs or 1, [0], rates, names, 256, 128) for batch in (128, 64)
        ]

    monkeypatch.setattr(conv, "cpu_profile_configs", two_batch_sizes)
    where = dict(results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    saved = conv.run_profile("cpu", batch_sizes=[64], **where)
    assert list(saved["parts"]) == ["fashion-mnist, batch 64"] and not saved["complete"]
    with pytest.raises(ValueError, match=r"no batch size \[4\]; it has \[64, 128\]"):
        conv.run_profile("cpu", batch_sizes=[4], **where)


def test_the_budget_check_branches_from_the_checked_part(tmp_path, monkeypatch):
    """The budget check trains the checked seed longer, from the cpu part's kept constant phase (its result
    equals a run of the longer budget from scratch); with one seed it records the differences and confirms
    nothing (the rule itself: tests/test_verdicts.py)."""
    from lnutils.experiments import conv, conv_budget

    names = ["none", "layer norm (C,H,W)"]
    rates = {name: 1e-3 for name in names}

    def split(epochs=None, train_subset=None):
        return [
            conv.ConvConfig(["fashion-mnist"], 128, epochs or 3, [seed], rates, names, 256, 128, decay_epochs=1)
            for seed in (0, 1)
        ]

    monkeypatch.setattr(conv, "cpu_profile_configs", split)
    monkeypatch.setattr(conv, "load_dataset", lambda name: tiny_dataset())
    monkeypatch.setattr(conv_budget, "BUDGET_CHECK_SEEDS", (1,))
    monkeypatch.setattr(conv_budget, "BUDGET_CHECKED_PARTS", (("fashion-mnist", 128),))
    where = dict(results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    assert conv_budget.saved_budget_check(tmp_path) == []  # nothing saved yet
    conv.run_profile("cpu", seeds=[1], **where)
    assert (tmp_path / "conv_cpu_fashion-mnist_b128_s1.constant-2.pt").exists()
    saved = conv_budget.run_budget_check(**where)
    name = "fashion-mnist, batch 128, seed 1"
    record = saved["parts"][name]
    assert saved["complete"] and record["epochs_done"] == 5 and saved["config"]["checks"][name]["epochs"] == 3
    history, _, _ = conv.train_config(
        conv_budget.budget_check_configs()["fashion-mnist", 128, 1], "fashion-mnist", progress=False
    )
    for name in names:
        np.testing.assert_allclose(record["curves"]["train_nll"][name], history.train_nll[name], rtol=1e-5)
    (check,) = conv_budget.saved_budget_check(tmp_path)
    assert check["claim"] == "layer_norm_beats_no_normalization" and check["epochs"] == (3, 5)
    short = json.loads((tmp_path / "conv_cpu.json").read_text())["parts"]["fashion-mnist, batch 128, seed 1"]
    expected = 100 * (short["curves"]["test_error"][names[1]][-1][0] - short["curves"]["test_error"]["none"][-1][0])
    assert check["difference_at_checked_budget"] == pytest.approx(expected)

    assert check["confirmed"] is None  # one seed: no interval, so the check confirms nothing


def test_kept_networks_train_a_seed_of_the_saved_run_again_and_the_border_probe_reads_them(tmp_path, monkeypatch):
    """conv_kept.keep_networks trains seed 1 of the saved batch-128 part again (tiny here) for the named
    normalizations, compares its curves with the saved ones and keeps the weights; the probe then reads
    them in place of this build's networks, and falls back to this build's where none are kept."""
    from dataclasses import asdict

    import torch

    from lnutils import runs
    from lnutils.experiments import conv_kept

    monkeypatch.setattr(conv, "load_dataset", lambda name: tiny_dataset())
    names = ["none", "layer norm (C,H,W)"]
    config = conv.ConvConfig(["fashion-mnist"], 128, 2, [0, 1], {n: 1e-3 for n in names}, names, 256, 128)
    saved_curve = {name: [[0.5, 0.6], [0.4, 0.3]] for name in names}
    part = {"config": asdict(config), "curves": {"test_error": saved_curve}, "provenance": {"device": "cpu"}}
    saved = {"config": {}, "parts": {"fashion-mnist, batch 128": part}}
    (tmp_path / "conv_cpu.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="no finished batch-128 fashion-mnist part with seed 5"):
        conv_kept.keep_networks(seed=5, normalizations=names, results_dir=tmp_path, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="has no \\['rms norm'\\]"):
        conv_kept.keep_networks(seed=1, normalizations=["rms norm"], results_dir=tmp_path, checkpoint_dir=tmp_path)
    kept = conv_kept.keep_networks(
        seed=1, normalizations=names, progress=False, results_dir=tmp_path, checkpoint_dir=tmp_path
    )
    assert kept["networks"] == names and kept["config"]["seeds"] == [1]
    assert kept["agreement_with_saved_run"]["none"]["saved_final_test_error"] == pytest.approx(30.0)
    assert not list(tmp_path.glob("conv_keep_*.pt"))  # the checkpoint goes once the networks are kept
    networks, record = conv_kept.load_kept_networks(seed=1, results_dir=tmp_path)
    assert record["sha256"] == kept["sha256"] and not networks["none"].training
    assert networks["none"](torch.rand(2, 1, 28, 28)).shape == (2, 10)
    live = {name: conv.CNNStack(name, [0]) for name in names}
    monkeypatch.setattr(runs, "results_dir", lambda: tmp_path)
    probed, about = conv_kept.probe_networks(live, seed=1, names=names)
    assert about["source"] == "kept" and probed["none"] is not live["none"].networks[0]
    assert set(about["test_error"]) == set(names)
    probed, about = conv_kept.probe_networks(live, seed=3, names=names)  # no seed 3 kept here or in the book
    assert about["source"] == "this build" and probed["none"] is live["none"].networks[0]
