"""The command line (python -m lnutils.experiments): every bad option is an error before any work."""

from __future__ import annotations

import os

import pytest
import torch

from lnutils import cli
from lnutils.experiments import __main__ as experiments_cli
from lnutils.experiments import conv, mnist, mnist_rates


@pytest.mark.parametrize(
    "arguments",
    [
        ["run", "--profile", "paper", "--epochs", "0"],
        ["run", "--profile", "paper", "--seeds", "0", "0", "0"],
        ["run", "--profile", "paper", "--seeds"],
        ["run", "--profile", "paper", "--batch-size", "-4"],
        ["run", "--profile", "paper", "--device", "foo"],
        ["run", "--profile", "huge"],
        ["run"],  # no --profile: never a silent multi-hour default
        ["select", "--train-subset", "0"],
        ["run", "--profile", "paper", "--time-budget", "-1"],
    ],
)
def test_bad_arguments_are_argparse_errors_before_any_work(arguments, capsys):
    for experiment in ("mnist", "conv"):
        if experiment == "conv" and ("--batch-size" in arguments or "--train-subset" in arguments):
            continue
        with pytest.raises(SystemExit) as exit_info:
            experiments_cli.main([experiment, *arguments])
        assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    "arguments",
    [
        ["rnn", "run"],
        ["rnn", "run", "--profile", "x"],
        ["rnn", "run", "--profile", "quick", "--epochs", "0"],
        ["rnn", "select", "--profile", "quick"],  # the RNN chapter selects no learning rate
        ["transformer", "run", "--profile", "quick", "--epochs", "1"],  # it trains in steps, not epochs
        ["vision-transformer", "run", "--profile", "quick"],  # no such experiment
        [],
    ],
)
def test_every_experiment_has_the_same_contract(arguments, capsys):
    with pytest.raises(SystemExit) as exit_info:
        experiments_cli.main(arguments)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_help_names_only_options_that_exist(capsys):
    with pytest.raises(SystemExit):
        experiments_cli.main(["mnist", "--help"])
    text = capsys.readouterr().out
    assert "--checkpoints " not in text and "--checkpoint-dir" in text


def test_cuda_device_is_refused_when_absent():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(Exception, match="no CUDA GPU"):
        cli.check_device("cuda")


@pytest.mark.parametrize("experiment", ["conv", "rnn"])
def test_the_command_line_reports_the_parts_a_profile_run_finished(experiment, monkeypatch, capsys):
    module = {"conv": conv, "rnn": experiments_cli.rnn}[experiment]
    seen = {}

    def fake_run_profile(profile, device, **options):
        seen.update(options, profile=profile)
        return {"parts": {"part one": {}}, "complete": False}

    monkeypatch.setattr(module, "run_profile", fake_run_profile)
    assert experiments_cli.main([experiment, "run", "--profile", "quick", "--device", "cpu", "--epochs", "2"]) == 0
    assert "parts done: ['part one']" in capsys.readouterr().out
    expected = {"profile": "quick", "epochs": 2, "seeds": None, "overwrite": False, "time_budget_seconds": None}
    assert seen == expected | ({"batch_sizes": None} if experiment == "conv" else {})


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


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["conv", "run", "--profile", "quick", "--batch-size", "7"], "has no batch size 7; it has [4, 128]"),
        (["conv", "run", "--profile", "cpu", "--seeds", "5"], "has no seed [5]; its seeds are [0, 1, 2]"),
        (["rnn", "run", "--profile", "cpu", "--seeds", "7"], "has no seed [7]; its seeds are [0, 1, 2, 3, 4]"),
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
