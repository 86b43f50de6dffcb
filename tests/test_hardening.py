"""One test per failure found by trying the book as a careful user and a tester would:
checkpoints that run code or resume into another configuration, results that get lost
or mixed, writers that collide, files in site-packages, and layers that differ from
torch.nn on inputs torch's own suite uses."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict

import pytest
import torch
import torch.nn.functional as F
from test_mnist_experiment import RATES, tiny_dataset, tiny_profile

from lnutils import cli, datafiles, environment, norms, runs
from lnutils.experiments import __main__ as experiments_cli
from lnutils.experiments import conv, mnist
from lnutils.mlp import METHODS, MLPStack
from lnutils.train import CheckpointMismatch, Split, train_lockstep

SIZES = (12, 16, 16, 10)


def tiny_split(n=64) -> Split:
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(n + 40, SIZES[0], generator=generator)
    y = torch.randint(0, 10, (n + 40,), generator=generator)
    return Split(x[:n], y[:n], x[n : n + 20], y[n : n + 20], x[n + 20 :], y[n + 20 :])


def stacks(seeds=(0,)):
    return {method: MLPStack(method, list(seeds), sizes=SIZES) for method in METHODS}


# ----------------------------------------------------------------------------- checkpoints


class RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_checkpoint_cannot_run_code(tmp_path):
    checkpoint = tmp_path / "evil.pt"
    torch.save({"payload": RunsCode()}, checkpoint)
    with pytest.raises(CheckpointMismatch, match="UnpicklingError"):  # refused, and the file is named
        train_lockstep(stacks(), RATES, tiny_split(), 8, 1, checkpoint=checkpoint, progress=False)


def test_resuming_with_other_learning_rates_is_an_error_naming_both(tmp_path):
    checkpoint = tmp_path / "run.pt"
    train_lockstep(stacks(), RATES, tiny_split(), 8, 1, checkpoint=checkpoint, progress=False)
    other = {**RATES, "layer norm": 1e-4}
    with pytest.raises(CheckpointMismatch, match=r"learning_rates: checkpoint .*0\.001.* this run .*0\.0001"):
        train_lockstep(stacks(), other, tiny_split(), 8, 2, checkpoint=checkpoint, progress=False)
    for changed in (dict(seeds=(0, 1)), dict(batch_size=4)):
        with pytest.raises(CheckpointMismatch):
            train_lockstep(
                stacks(changed.get("seeds", (0,))),
                RATES,
                tiny_split(),
                changed.get("batch_size", 8),
                2,
                checkpoint=checkpoint,
                progress=False,
            )


def test_a_longer_run_extends_its_checkpoint(tmp_path):
    checkpoint = tmp_path / "run.pt"
    train_lockstep(stacks(), RATES, tiny_split(), 8, 1, checkpoint=checkpoint, progress=False)
    history = train_lockstep(stacks(), RATES, tiny_split(), 8, 2, checkpoint=checkpoint, progress=False)
    assert len(history.train_nll["baseline"]) == 2


def test_checkpoint_fingerprint_includes_the_data(tmp_path):
    checkpoint = tmp_path / "run.pt"
    train_lockstep(
        stacks(), RATES, tiny_split(), 8, 1, checkpoint=checkpoint, progress=False, fingerprint_extra={"data": "aaa"}
    )
    with pytest.raises(CheckpointMismatch, match="data"):
        train_lockstep(
            stacks(),
            RATES,
            tiny_split(),
            8,
            2,
            checkpoint=checkpoint,
            progress=False,
            fingerprint_extra={"data": "bbb"},
        )


# ----------------------------------------------------------------------------- results


def test_a_run_of_another_configuration_does_not_replace_a_saved_one(tmp_path, monkeypatch):
    where = dict(results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    results = tmp_path / "mnist_paper.json"
    tiny_profile(monkeypatch, epochs=2, seeds=[0])
    mnist.run_profile("paper", **where)
    tiny_profile(monkeypatch, epochs=1, seeds=[0, 1])
    with pytest.raises(runs.ResultsConflict, match="another configuration"):
        mnist.run_profile("paper", **where)
    assert json.loads(results.read_text())["parts"]["batch 50"]["config"]["seeds"] == [0]
    mnist.run_profile("paper", overwrite=True, **where)
    assert json.loads(results.read_text())["parts"]["batch 50"]["config"]["seeds"] == [0, 1]
    # --overwrite loses nothing: the replaced run is kept beside the new one, once
    kept = runs.replaced_results("mnist_paper.json", tmp_path)
    assert [r["parts"]["batch 50"]["config"]["seeds"] for r in kept] == [[0]]
    assert kept[0]["parts"]["batch 50"]["epochs_done"] == 2
    assert sorted(p.name for p in tmp_path.glob("mnist_paper*.json")) == [
        "mnist_paper.json",
        "mnist_paper.replaced-1.json",
    ]


def test_overwrite_replaces_only_another_configuration_and_keeps_it(tmp_path):
    path = tmp_path / "x.json"
    runs.save_results(path, {"config": {"a": 1}, "epochs_done": 5})
    assert not runs.save_results(path, {"config": {"a": 1}, "epochs_done": 2}, overwrite=True)
    assert json.loads(path.read_text())["epochs_done"] == 5  # a shorter run of the same configuration never wins
    assert runs.save_results(path, {"config": {"a": 2}, "epochs_done": 1}, overwrite=True)
    assert json.loads(path.read_text())["config"] == {"a": 2}
    assert [r["epochs_done"] for r in runs.replaced_results("x.json", tmp_path)] == [5]
    assert runs.finished(path, {"a": 2}) is None
    runs.save_results(path, {"config": {"a": 2}, "epochs_done": 2, "complete": True})
    assert runs.finished(path, {"a": 2})["epochs_done"] == 2 and runs.finished(path, {"a": 3}) is None


def test_a_corrupt_result_file_is_a_clear_error_before_any_training(tmp_path, monkeypatch):
    (tmp_path / "mnist_paper.json").write_text('{"config": {"batch')
    tiny_profile(monkeypatch, epochs=1)
    monkeypatch.setattr(mnist, "load_mnist", lambda: pytest.fail("loaded data before checking the result file"))
    with pytest.raises(runs.ResultsConflict, match="not valid JSON"):
        mnist.run_profile("paper", results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)


def test_save_results_keeps_the_larger_result(tmp_path):
    path = tmp_path / "conv.json"
    assert runs.save_results(path, {"config": {"a": 1}, "records": [1, 2]})
    assert not runs.save_results(path, {"config": {"a": 1}, "records": [1]})
    assert json.loads(path.read_text())["records"] == [1, 2]


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


def test_two_writers_never_leave_partial_json(tmp_path):
    path = tmp_path / "shared.json"
    payloads = [{"writer": k, "values": list(range(20000))} for k in range(4)]
    errors = []

    def write(payload):
        try:
            for _ in range(5):
                runs.write_json(path, payload)
                json.loads(path.read_text())
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_selection_with_fewer_images_than_a_batch_is_refused(tmp_path):
    with pytest.raises(ValueError, match="less than one batch"):
        mnist.select_learning_rates_run(128, 1, train_subset=0, results_dir=tmp_path)


# ----------------------------------------------------------------------------- folders and provenance


def test_installed_lnutils_writes_to_the_user_folder_and_reports_no_commit(monkeypatch, tmp_path):
    monkeypatch.setattr(environment, "checkout_root", lambda: None)
    monkeypatch.delenv("LNUTILS_RESULTS", raising=False)
    monkeypatch.delenv("LNUTILS_CHECKPOINTS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert runs.results_dir() == tmp_path / ".local/share/lnutils/results"
    assert runs.checkpoint_dir() == tmp_path / ".cache/lnutils/checkpoints"
    assert environment.git_commit() is None
    monkeypatch.setenv("LNUTILS_RESULTS", str(tmp_path / "mine"))
    assert runs.results_dir() == tmp_path / "mine"


def test_saved_runs_are_read_from_the_package_when_the_results_folder_has_none(monkeypatch, tmp_path):
    monkeypatch.setenv("LNUTILS_RESULTS", str(tmp_path))
    assert mnist.saved_paper_runs()[128]["config"]["batch_size"] == 128


def test_provenance_records_file_names_not_paths(tmp_path):
    from test_data import make_tiny_mnist, write_files

    write_files(tmp_path, make_tiny_mnist())
    from lnutils.data import load_dataset

    with pytest.warns(UserWarning):  # not the canonical bytes
        dataset = load_dataset("mnist", root=tmp_path, download=False)
    recorded = json.dumps(dataset.provenance.to_dict())
    assert str(tmp_path) not in recorded and '"found in": "root argument"' in recorded


def test_committed_results_hold_no_absolute_paths():
    for path in runs.PACKAGE_RESULTS.glob("*.json"):
        text = path.read_text()
        assert '"path":' not in text and "/work/" not in text and "/home/" not in text, path.name


def test_an_unreadable_cache_folder_is_skipped(tmp_path, monkeypatch):
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    monkeypatch.setattr(
        datafiles.Path, "is_file", lambda self: (_ for _ in ()).throw(PermissionError(13, "Permission denied"))
    )
    assert datafiles.find_file(blocked, "train-images-idx3-ubyte") is None


# ----------------------------------------------------------------------------- command line


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


# ----------------------------------------------------------------------------- layers


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_with_large_deviations_matches_torch(dtype):
    x = (torch.randn(4, 64, generator=torch.Generator().manual_seed(0)) * 1000).to(dtype)
    torch.testing.assert_close(norms.layer_norm(x, (64,)), F.layer_norm(x, (64,)), atol=2e-2, rtol=2e-2)
    torch.testing.assert_close(norms.rms_norm(x, (64,)), F.rms_norm(x, (64,)), atol=2e-2, rtol=2e-2)
    torch.testing.assert_close(
        norms.batch_norm(x, None, None, training=True), F.batch_norm(x, None, None, training=True), atol=2e-2, rtol=2e-2
    )
    images = x.reshape(4, 8, 8)
    torch.testing.assert_close(norms.group_norm(images, 2), F.group_norm(images, 2), atol=2e-2, rtol=2e-2)


def test_half_input_with_float32_weights_keeps_the_input_dtype():
    x = torch.randn(4, 6).half()
    assert norms.layer_norm(x, (6,), torch.ones(6), torch.zeros(6)).dtype == torch.float16
    assert norms.batch_norm(x, None, None, torch.ones(6), torch.zeros(6), training=True).dtype == torch.float16


def test_empty_batches_like_torch():
    empty = torch.zeros(0, 4, 3, 3)
    assert norms.group_norm(empty, 2).shape == empty.shape
    module = norms.BatchNorm2d(4)
    assert module(empty).shape == empty.shape
    torch.testing.assert_close(module.running_mean, torch.zeros(4))


def test_module_bias_argument_and_unbatched_instance_norm():
    for ours, theirs in (
        (norms.BatchNorm1d(3, bias=False), torch.nn.BatchNorm1d(3, bias=False)),
        (norms.GroupNorm(2, 4, bias=False), torch.nn.GroupNorm(2, 4, bias=False)),
        (norms.LayerNorm(5, bias=False), torch.nn.LayerNorm(5, bias=False)),
    ):
        assert ours.bias is None and theirs.bias is None
        assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    image = torch.randn(3, 5, 5)
    torch.testing.assert_close(norms.InstanceNorm2d(3)(image), torch.nn.InstanceNorm2d(3)(image))


def test_batch_norm_with_eps_zero_raises_like_torch():
    with pytest.raises(ValueError, match="eps must be positive"):
        norms.batch_norm(torch.ones(4, 3), None, None, training=True, eps=0.0)


def test_rms_norm_checks_its_weight_shape():
    with pytest.raises(RuntimeError, match="same shape as normalized_shape"):
        norms.rms_norm(torch.randn(2, 8), (8,), torch.ones(4))


def test_layer_norm_at_huge_float32_values_gives_no_nan():
    """At |a − μ| > 1.8e19, (a − μ)² overflows float32: torch 2.13 returns NaN for some rows
    and zeros for others; ours returns zeros (σ = inf), never NaN.  (Neither is the float64
    answer; the book says so rather than claim a match.)"""
    x = torch.randn(2, 8, generator=torch.Generator().manual_seed(0)) * 3e19
    assert not torch.isnan(norms.layer_norm(x, (8,))).any()


def test_a_complete_run_of_the_same_configuration_is_not_trained_again(tmp_path, monkeypatch):
    configs = mnist.profile_configs("paper", epochs=1, seeds=[0])
    parts = {name: asdict(c) for name, c in configs.items()}
    records = {name: {"batch_size": c["batch_size"], "config": c, "epochs_done": 1} for name, c in parts.items()}
    saved = {"kind": "figure 6 run", "config": {"profile": "paper", "parts": parts}, "parts": records, "complete": True}
    (tmp_path / "mnist_paper.json").write_text(json.dumps(saved))
    monkeypatch.setattr(mnist, "run", lambda *a, **k: pytest.fail("trained a finished run again"))
    assert mnist.run_profile(epochs=1, seeds=[0], results_dir=tmp_path, overwrite=True) == saved


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


def test_a_results_conflict_names_only_what_differs():
    """Issue 38 #14: not two whole configurations, but each differing key, with types visible (3 vs '3')."""
    saved = {"config": {"steps": 3, "grid": [1e-3, 3e-3], "parts": {"a": {"lr": 1e-3, "seeds": [0, 1]}}}}
    why = runs.difference(saved, {"steps": "3", "grid": [1e-3, 3e-3], "parts": {"a": {"lr": 3e-4, "seeds": [0, 1]}}})
    assert "steps: saved 3, this run '3'" in why and "parts.a.lr: saved 0.001, this run 0.0003" in why
    assert "grid" not in why and "seeds" not in why
