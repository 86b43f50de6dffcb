"""Hardening, second round: options that do what they say, values checked before any work,
checkpoints and result files that never mislead, nothing half-written left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
from test_hardening import RATES, stacks, tiny_split
from test_mnist_experiment import tiny_dataset

from lnutils import bench, data, datafiles, runs
from lnutils.experiments import __main__ as experiments_cli
from lnutils.experiments import mnist, mnist_rates
from lnutils.train import CheckpointMismatch, train_lockstep

# ----------------------------------------------------------------------------- 1, 2: options and values


@pytest.mark.parametrize(
    "arguments, named",
    [
        (["mnist", "select", "--profile", "paper"], "--profile"),
        (["mnist", "run", "--profile", "quick", "--train-subset", "300"], "--train-subset"),
        (["mnist", "run", "--profile", "quick", "--full-length"], "--full-length"),
        (["conv", "select", "--seeds", "1"], "--seeds"),
        (["conv", "select", "--profile", "paper"], "--profile"),
        (["conv", "select", "--time-budget", "5"], "--time-budget"),
        (["conv", "select", "--checkpoint-dir", "x"], "--checkpoint-dir"),
        (["conv", "select", "--batch-size", "4"], "--batch-size"),
        (["conv", "budget", "--seeds", "1"], "--seeds"),
        (["conv", "budget", "--epochs", "30"], "--epochs"),
    ],
)
def test_an_option_a_command_does_not_use_is_an_error(arguments, named, capsys):
    with pytest.raises(SystemExit) as exit_info:
        experiments_cli.main(arguments)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert f"does not use {named}" in error and "it takes" in error


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--seeds", "99999999999999999999"], "at most 2,147,483,647"),
        (["--epochs", "99999999999999999999"], "at most 10,000"),
        (["--results-dir", ""], "an empty path"),
        (["--time-budget", "nan"], "finite"),
        (["--time-budget", "inf"], "finite"),
    ],
)
def test_bad_values_are_refused_before_any_data_is_read(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        experiments_cli.main(["conv", "run", "--profile", "quick", *arguments])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_a_results_folder_that_is_a_file_is_refused_before_training(tmp_path, capsys, monkeypatch):
    for variable in ("LNUTILS_RESULTS", "LNUTILS_CHECKPOINTS"):  # the command line sets them: undone after
        monkeypatch.setenv(variable, str(tmp_path))
    blocker = tmp_path / "file"
    blocker.write_text("")
    for option in ("--results-dir", "--checkpoint-dir"):
        with pytest.raises(SystemExit) as exit_info:
            experiments_cli.main(["rnn", "run", "--profile", "quick", option, str(blocker)])
        assert exit_info.value.code == 2 and "cannot write" in capsys.readouterr().err


@pytest.mark.parametrize("arguments", [["--batch-sizes", "0"], ["--steps", "-1"], ["--steps", "0"], ["--warmup", "-2"]])
def test_bench_refuses_counts_below_one(arguments, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["train", *arguments])
    assert exit_info.value.code == 2 and "error:" in capsys.readouterr().err


# ----------------------------------------------------------------------------- 5: epochs and selections


def test_asking_for_fewer_epochs_than_a_checkpoint_holds_is_an_error(tmp_path):
    checkpoint = tmp_path / "run.pt"
    train_lockstep(stacks(), RATES, tiny_split(), 8, 3, checkpoint=checkpoint, progress=False)
    with pytest.raises(CheckpointMismatch, match="holds 3 epochs, more than the 2 asked for"):
        train_lockstep(stacks(), RATES, tiny_split(), 8, 2, checkpoint=checkpoint, progress=False)


@pytest.mark.parametrize("epochs_done", [-1, 0, 5, True])
def test_a_checkpoint_whose_epochs_disagree_with_its_history_is_refused(tmp_path, epochs_done):
    checkpoint = tmp_path / "run.pt"
    train_lockstep(stacks(), RATES, tiny_split(), 8, 2, checkpoint=checkpoint, progress=False)
    state = torch.load(checkpoint, weights_only=True)
    state["epochs_done"] = epochs_done
    torch.save(state, checkpoint)
    with pytest.raises(CheckpointMismatch, match="inconsistent"):
        train_lockstep(stacks(), RATES, tiny_split(), 8, 6, checkpoint=checkpoint, progress=False)


@pytest.mark.parametrize(
    "content, named",
    [(b"", "cannot be read"), (os.urandom(512), "cannot be read"), (None, "incomplete")],
)
def test_an_empty_random_or_incomplete_checkpoint_is_named(tmp_path, content, named):
    checkpoint = tmp_path / "run.pt"
    if content is None:
        torch.save({"fingerprint": {}}, checkpoint)
    else:
        checkpoint.write_bytes(content)
    with pytest.raises(CheckpointMismatch, match=named) as error:
        train_lockstep(stacks(), RATES, tiny_split(), 8, 1, checkpoint=checkpoint, progress=False)
    assert str(checkpoint) in str(error.value)


def test_a_selection_cut_short_says_so_and_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_rates, "load_mnist", lambda: tiny_dataset())
    payload = mnist.select_learning_rates_run(
        50, 3, train_subset=200, progress=False, results_dir=tmp_path, checkpoint_dir=tmp_path, time_budget_seconds=1e-9
    )
    assert payload["epochs_done"] == 1 and not payload["complete"]
    assert "after 1 epoch(s)" in payload["rule"] and "cut short: 1 of the 3" in payload["rule"]
    with pytest.raises(FileNotFoundError, match="stopped after 1 of 3 epochs"):
        mnist.selected_learning_rates(50, tmp_path)


# ----------------------------------------------------------------------------- 6: nothing replaced without a copy


def test_a_result_without_a_configuration_is_not_replaced_silently(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"curves": [1, 2, 3]}))
    with pytest.raises(runs.ResultsConflict, match="records no configuration"):
        runs.save_results(path, {"config": {"a": 1}})
    assert runs.save_results(path, {"config": {"a": 1}}, overwrite=True)
    assert runs.replaced_results("x.json", tmp_path) == [{"curves": [1, 2, 3]}]


def test_the_same_configuration_on_other_data_is_not_replaced_silently(tmp_path):
    path = tmp_path / "x.json"
    runs.save_results(path, {"config": {"a": 1}, "provenance": {"data": {"checksum": "aaaa"}}, "epochs_done": 1})
    other = {"config": {"a": 1}, "provenance": {"data": {"checksum": "bbbb"}}, "epochs_done": 9}
    with pytest.raises(runs.ResultsConflict, match="other data"):
        runs.save_results(path, other)
    runs.save_results(path, other, overwrite=True)
    assert runs.replaced_results("x.json", tmp_path)[0]["provenance"]["data"]["checksum"] == "aaaa"


def test_replaced_numbers_keep_their_order_after_a_deletion(tmp_path):
    path = tmp_path / "x.json"
    for value in range(3):
        runs.save_results(path, {"config": {"a": value}}, overwrite=True)
    (tmp_path / "x.replaced-1.json").unlink()
    runs.save_results(path, {"config": {"a": 3}}, overwrite=True)
    assert sorted(p.name for p in tmp_path.glob("x.replaced-*.json")) == ["x.replaced-2.json", "x.replaced-3.json"]
    assert [r["config"]["a"] for r in runs.replaced_results("x.json", tmp_path)] == [1, 2]


@pytest.mark.parametrize("content", ["[]", '"a string"', "42"])
def test_a_result_file_that_is_not_an_object_is_a_clear_error(tmp_path, content):
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(runs.ResultsConflict, match="not a result"):
        runs.read_json(path)
    (tmp_path / "d.json").mkdir()
    with pytest.raises(runs.ResultsConflict, match="is a folder"):
        runs.read_json(tmp_path / "d.json")


# ----------------------------------------------------------------------------- 7: what a killed run leaves


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_killed_writers_temporary_files_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "run.pt"
    orphan = tmp_path / f".run.pt.{_dead_pid()}.abc123.tmp"
    orphan.write_bytes(b"x" * 1000)
    alive = tmp_path / f".run.pt.{os.getppid()}.def456.tmp"  # a live writer's file stays
    alive.write_bytes(b"y")
    old_format = tmp_path / ".run.pt.zz9xq1.tmp"
    old_format.write_bytes(b"z")
    os.utime(old_format, (time.time() - 7200, time.time() - 7200))
    runs.atomic_write_bytes(target, b"data")
    assert target.read_bytes() == b"data"
    assert not orphan.exists() and not old_format.exists() and alive.exists()


def test_a_killed_downloads_part_file_is_removed(tmp_path):
    orphan = tmp_path / f"train-images-idx3-ubyte.gz.{_dead_pid()}.q1w2e3.part"
    orphan.write_bytes(b"partial")
    assert datafiles.remove_orphaned_temporaries(tmp_path / "train-images-idx3-ubyte.gz", ".part") == [orphan]


# ----------------------------------------------------------------------------- 8: raw errors


def test_an_idx_header_whose_sizes_overflow_is_a_clear_error():
    header = bytes([0, 0, 8, 3]) + (0xFFFFFFFF).to_bytes(4, "big") * 3
    with pytest.raises(data.DataError, match="truncated"):
        data.parse_idx(header + b"\x00" * 16, "huge.idx")


# ----------------------------------------------------------------------------- the conv CPU evidence run


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


def tiny_profile_split_by_seed(monkeypatch):
    """The conv cpu profile made tiny: two normalizations, seeds 0 and 1 each a part of its own, 2 epochs
    on :func:`tiny_dataset`; returns (normalizations, rates, the profile's configs function)."""
    from lnutils.experiments import conv

    names = ["none", "layer norm (C,H,W)"]
    rates = {name: 1e-3 for name in names}

    def split(epochs=None, train_subset=None):
        return [conv.ConvConfig(["fashion-mnist"], 128, epochs or 2, [seed], rates, names, 256, 128) for seed in (0, 1)]

    monkeypatch.setattr(conv, "cpu_profile_configs", split)
    monkeypatch.setattr(conv, "load_dataset", lambda name: tiny_dataset())
    return names, rates, split


def test_a_profile_split_by_seed_trains_what_one_stack_of_all_seeds_trains(tmp_path, monkeypatch):
    """The cpu profile trains each seed as a part of its own; read together (conv.seeds_merged) its parts
    give the numbers one stack of all seeds gives, cut to the epochs every seed reached, and a part's
    saved progress is never replaced by fewer epochs (a lost checkpoint restarts the part at epoch 0)."""
    from dataclasses import asdict

    from lnutils.experiments import conv

    names, rates, split = tiny_profile_split_by_seed(monkeypatch)
    # seed 0 finishes, seed 1 stops after its first epoch
    conv.run_profile("cpu", results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False, seeds=[0])
    saved = json.loads((tmp_path / "conv_cpu.json").read_text())
    assert list(saved["parts"]) == ["fashion-mnist, batch 128, seed 0"]
    assert (tmp_path / "conv_cpu_fashion-mnist_b128_s0.pt").exists()
    assert not saved["complete"] and not saved.get("in_progress")  # seed 1's part is left for another run
    # the rest of the profile: seed 1 stops after one epoch, then finishes; seed 0 is not trained again
    conv.run_profile("cpu", results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False, time_budget_seconds=0)
    progress = json.loads((tmp_path / "conv_cpu.json").read_text())["in_progress"]
    assert list(progress) == ["fashion-mnist, batch 128, seed 1"]
    conv.run_profile("cpu", results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    raw = json.loads((tmp_path / "conv_cpu.json").read_text())
    assert raw["complete"] and list(raw["parts"]) == [f"fashion-mnist, batch 128, seed {s}" for s in (0, 1)]
    merged = conv.saved_results("cpu", tmp_path)
    record = merged["parts"]["fashion-mnist, batch 128"]
    assert merged["complete"] and record["config"]["seeds"] == [0, 1] and record["epochs_done"] == 2
    together = conv.ConvConfig(["fashion-mnist"], 128, 2, [0, 1], rates, names, 256, 128)
    history, _, _ = conv.train_config(together, "fashion-mnist", progress=False)
    for name in names:  # the training NLL: the tiny random data leaves every test error at chance
        assert np.array_equal(record["curves"]["test_error"][name], history.test_error[name])
        np.testing.assert_allclose(record["curves"]["train_nll"][name], history.train_nll[name], rtol=1e-5)
    # the trained networks, for the chapter's probes: one stack of both seeds, from the two seeds' checkpoints
    monkeypatch.setenv("LNUTILS_CHECKPOINTS", str(tmp_path))
    models = conv.trained_models(merged, "cpu")["fashion-mnist"]
    _, together_stacks, _ = conv.train_config(together, "fashion-mnist", progress=False)
    images = torch.rand(2, 5, 784)
    for name in names:
        assert models[name].seeds == [0, 1]
        models[name].eval(), together_stacks[name].eval()
        torch.testing.assert_close(models[name](images), together_stacks[name](images), rtol=1e-4, atol=1e-5)
    # a seed part in progress with fewer epochs: the merged part is in progress, cut to the common epoch
    shorter = json.loads(json.dumps(raw))
    seed_1 = shorter["parts"].pop("fashion-mnist, batch 128, seed 1")
    for metric in ("train_nll", "val_error", "test_error"):
        seed_1["curves"][metric] = {n: rows[:1] for n, rows in seed_1["curves"][metric].items()}
    seed_1["curves"]["epoch_seconds"] = seed_1["curves"]["epoch_seconds"][:1]
    seed_1["epochs_done"] = 1
    shorter["in_progress"] = {"fashion-mnist, batch 128, seed 1": seed_1}
    shorter["complete"] = False
    merged = conv.seeds_merged(shorter)
    assert merged["parts"] == {} and not merged["complete"]
    progress = merged["in_progress"]["fashion-mnist, batch 128"]
    assert progress["epochs_done"] == 1 and progress["config"]["seeds"] == [0, 1]
    assert [p["finished"] for p in progress["seed_parts"]] == [True, False]
    assert conv.verdicts(merged) and all(v["evidence"] == "partial" for v in conv.verdicts(merged))
    # run_parts keeps a saved part in progress until the run has trained more of it
    path = tmp_path / "kept.json"
    config = {"profile": "test", "parts": [asdict(c) for c in split()]}
    runs.write_json(
        path, {"kind": "", "config": config, "parts": {}, "complete": False, "in_progress": {"a": {"epochs_done": 5}}}
    )

    def train(seconds_left, save_progress):
        save_progress({"epochs_done": 1})
        assert json.loads(path.read_text())["in_progress"]["a"]["epochs_done"] == 5
        save_progress({"epochs_done": 6})
        return None

    runs.run_parts(path, config, {"a": train})
    assert json.loads(path.read_text())["in_progress"]["a"]["epochs_done"] == 6


def test_training_leaves_the_process_flush_denormal_setting_as_it_found_it():
    torch.set_flush_denormal(False)
    train_lockstep(stacks(), RATES, tiny_split(), 8, 1, progress=False)
    assert torch.tensor([1e-40], dtype=torch.float32).item() != 0.0  # denormals are kept again


def test_bench_stacks_sets_each_stack_beside_a_plain_loop_in_one_run():
    rows = bench.bench_stacks(batch_sizes=(4,), seeds=(0, 1), steps=1)
    assert {row["stack"] for row in rows} >= {"conv, batch norm, looped", "conv, batch norm, grouped"}
    for row in rows:
        assert row["× plain (speed)"] == pytest.approx(row["plain loop ms/step"] / row["stack ms/step"])
        assert 0 < row["% of matmul peak"] < 100


def test_two_processes_train_the_seeds_of_one_profile_into_one_file(tmp_path, monkeypatch):
    """The cpu profile split by seed, trained by two processes at once (``--seeds 0`` and ``--seeds 1``):
    each write takes in what the other wrote, so the file ends with both seeds' parts, complete."""
    from lnutils.experiments import conv

    tiny_profile_split_by_seed(monkeypatch)
    where = dict(results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    errors = []

    def worker(seed):
        try:
            conv.run_profile("cpu", seeds=[seed], **where)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    saved = json.loads((tmp_path / "conv_cpu.json").read_text())
    assert sorted(saved["parts"]) == ["fashion-mnist, batch 128, seed 0", "fashion-mnist, batch 128, seed 1"]
    assert saved["complete"] and not saved.get("in_progress")
    # a run of every seed now trains nothing: both parts are finished
    monkeypatch.setattr(conv, "train_config", lambda *a, **k: pytest.fail("trained a finished part again"))
    assert conv.run_profile("cpu", **where)["complete"]
    # a write merges in what another writer saved since, and drops its stale copy of a finished part
    mine = {"config": {}, "parts": {"a": 1}, "in_progress": {"b": {"epochs_done": 1}, "c": {"epochs_done": 3}}}
    theirs = {"config": {}, "parts": {"b": 2}, "in_progress": {"c": {"epochs_done": 4}, "d": {"epochs_done": 1}}}
    merged = runs.others_progress(mine, theirs, training="a")
    assert merged["parts"] == {"a": 1, "b": 2} and merged["in_progress"] == {
        "c": {"epochs_done": 4},
        "d": {"epochs_done": 1},
    }


def test_a_part_another_process_is_training_is_skipped_for_the_next(tmp_path, monkeypatch, capsys):
    """Two processes started alike share a profile part by part: a part whose claim another process holds
    is skipped (not trained twice), and it is trained once the claim is let go."""
    from lnutils.experiments import conv

    tiny_profile_split_by_seed(monkeypatch)
    where = dict(results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    seed_0 = tmp_path / "conv_cpu_fashion-mnist_b128_s0.pt"
    with runs.claim(seed_0):  # "another process" trains seed 0
        with pytest.raises(runs.PartBusy, match="another process"):
            with runs.claim(seed_0):
                pass
        saved = conv.run_profile("cpu", **where)
    assert list(saved["parts"]) == ["fashion-mnist, batch 128, seed 1"] and not saved["complete"]
    assert "seed 0: another process is training" in capsys.readouterr().out
    assert conv.run_profile("cpu", **where)["complete"]


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
    monkeypatch.setattr(conv_budget, "BUDGET_CHECK_SEED", 1)
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
        conv_budget.budget_check_configs()["fashion-mnist", 128], "fashion-mnist", progress=False
    )
    for name in names:
        np.testing.assert_allclose(record["curves"]["train_nll"][name], history.train_nll[name], rtol=1e-5)
    (check,) = conv_budget.saved_budget_check(tmp_path)
    assert check["claim"] == "layer_norm_beats_no_normalization" and check["epochs"] == (3, 5)
    short = json.loads((tmp_path / "conv_cpu.json").read_text())["parts"]["fashion-mnist, batch 128, seed 1"]
    expected = 100 * (short["curves"]["test_error"][names[1]][-1][0] - short["curves"]["test_error"]["none"][-1][0])
    assert check["difference_at_checked_budget"] == pytest.approx(expected)

    assert check["confirmed"] is None  # one seed: no interval, so the check confirms nothing


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["conv", "run", "--profile", "quick", "--batch-size", "7"], "has no batch size 7; it has [4, 128]"),
        (["conv", "run", "--profile", "cpu", "--seeds", "5"], "has no seed [5]; its seeds are [0, 1, 2]"),
        (["rnn", "run", "--profile", "cpu", "--seeds", "7"], "has no seed [7]; its seeds are [0, 1, 2]"),
        (["mnist", "select", "--train-subset", "3"], "at least one batch (128)"),
        (["mnist", "select", "--train-subset", "9999999"], "at most the 55,000 training images"),
        (["mnist", "select", "--full-length", "--seeds", "1", "2"], "one seed per file"),
    ],
)
def test_values_a_profile_cannot_use_exit_2_before_any_work(arguments, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "load_mnist", lambda: pytest.fail("read data before refusing"))
    monkeypatch.setattr(mnist_rates, "load_mnist", lambda: pytest.fail("read data before refusing"))
    for name in ("LNUTILS_RESULTS", "LNUTILS_CHECKPOINTS"):  # the command line sets them; restored after
        monkeypatch.setenv(name, str(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        experiments_cli.main([*arguments, "--results-dir", str(tmp_path)])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    "environment, arguments, message",
    [
        ({"LNUTILS_RESULTS": " "}, [], "$LNUTILS_RESULTS is ' ' (blanks only)"),
        ({"LNUTILS_CHECKPOINTS": "  "}, [], "$LNUTILS_CHECKPOINTS is '  ' (blanks only)"),
        ({}, ["--results-dir", "/dev/null"], "/dev/null: it is a file, not a folder"),
    ],
)
def test_an_odd_output_location_exits_2_before_any_work(environment, arguments, message, capsys, monkeypatch):
    """Issue 38 #21: a blank $LNUTILS_RESULTS made a folder named ' '; --results-dir /dev/null said
    'File exists'."""
    monkeypatch.setattr(mnist, "load_mnist", lambda: pytest.fail("read data before refusing"))
    monkeypatch.setattr(mnist_rates, "load_mnist", lambda: pytest.fail("read data before refusing"))
    for name in ("LNUTILS_RESULTS", "LNUTILS_CHECKPOINTS"):  # the command line sets them: restored after
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_info:
        experiments_cli.main(["mnist", "run", "--profile", "quick", *arguments])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not any(part == " " for part in os.listdir("."))


def test_a_selection_cut_short_by_its_time_budget_chooses_no_rates(capsys, tmp_path, monkeypatch):
    """Issue 38 #18: a selection stopped by --time-budget after 1 of 3 epochs must not print its rates."""
    partial = {"complete": False, "epochs_done": 1, "epochs": 3, "chosen": {"layer norm": 3e-5}}
    monkeypatch.setattr(mnist, "select_learning_rates_run", lambda *a, **k: partial)
    for name in ("LNUTILS_RESULTS", "LNUTILS_CHECKPOINTS"):
        monkeypatch.setenv(name, str(tmp_path))
    experiments_cli.main(["mnist", "select", "--batch-size", "4", "--time-budget", "0.01"])
    out = capsys.readouterr().out
    assert "chosen learning rates" not in out and "stopped after 1 of 3 epochs" in out and "no rates" in out
