"""lnutils.runs: result files that never lose or mix data, writers that never collide, parts that resume."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict

import numpy as np
import pytest
import torch
from helpers import (
    dead_pid,
    tiny_profile,
    tiny_profile_split_by_seed,
)

from lnutils import environment, parts, runs
from lnutils.experiments import conv, mnist


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


def test_a_complete_run_of_the_same_configuration_is_not_trained_again(tmp_path, monkeypatch):
    configs = mnist.profile_configs("paper", epochs=1, seeds=[0])
    part_configs = {name: asdict(c) for name, c in configs.items()}
    records = {name: {"batch_size": c["batch_size"], "config": c, "epochs_done": 1} for name, c in part_configs.items()}
    saved = {
        "kind": "figure 6 run",
        "config": {"profile": "paper", "parts": part_configs},
        "parts": records,
        "complete": True,
    }
    (tmp_path / "mnist_paper.json").write_text(json.dumps(saved))
    monkeypatch.setattr(mnist, "run", lambda *a, **k: pytest.fail("trained a finished run again"))
    assert mnist.run_profile(epochs=1, seeds=[0], results_dir=tmp_path, overwrite=True) == saved


def test_a_results_conflict_names_only_what_differs():
    """Issue 38 #14: not two whole configurations, but each differing key, with types visible (3 vs '3')."""
    saved = {"config": {"steps": 3, "grid": [1e-3, 3e-3], "parts": {"a": {"lr": 1e-3, "seeds": [0, 1]}}}}
    why = runs.difference(saved, {"steps": "3", "grid": [1e-3, 3e-3], "parts": {"a": {"lr": 3e-4, "seeds": [0, 1]}}})
    assert "steps: saved 3, this run '3'" in why and "parts.a.lr: saved 0.001, this run 0.0003" in why
    assert "grid" not in why and "seeds" not in why


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


def test_a_killed_writers_temporary_files_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "run.pt"
    orphan = tmp_path / f".run.pt.{dead_pid()}.abc123.tmp"
    orphan.write_bytes(b"x" * 1000)
    alive = tmp_path / f".run.pt.{os.getppid()}.def456.tmp"  # a live writer's file stays
    alive.write_bytes(b"y")
    old_format = tmp_path / ".run.pt.zz9xq1.tmp"
    old_format.write_bytes(b"z")
    os.utime(old_format, (time.time() - 7200, time.time() - 7200))
    runs.atomic_write_bytes(target, b"data")
    assert target.read_bytes() == b"data"
    assert not orphan.exists() and not old_format.exists() and alive.exists()


def test_a_profile_split_by_seed_trains_what_one_stack_of_all_seeds_trains(tmp_path, monkeypatch):
    """The cpu profile trains each seed as a part of its own; read together (conv.seeds_merged) its parts
    give the numbers one stack of all seeds gives, cut to the epochs every seed reached, and a part's
    saved progress is never replaced by fewer epochs (a lost checkpoint restarts the part at epoch 0)."""
    from dataclasses import asdict

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

    parts.run_parts(path, config, {"a": train})
    assert json.loads(path.read_text())["in_progress"]["a"]["epochs_done"] == 6


def test_two_processes_train_the_seeds_of_one_profile_into_one_file(tmp_path, monkeypatch):
    """The cpu profile split by seed, trained by two processes at once (``--seeds 0`` and ``--seeds 1``):
    each write takes in what the other wrote, so the file ends with both seeds' parts, complete."""

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
    merged = parts.others_progress(mine, theirs, training="a")
    assert merged["parts"] == {"a": 1, "b": 2} and merged["in_progress"] == {
        "c": {"epochs_done": 4},
        "d": {"epochs_done": 1},
    }


def test_a_part_another_process_is_training_is_skipped_for_the_next(tmp_path, monkeypatch, capsys):
    """Two processes started alike share a profile part by part: a part whose claim another process holds
    is skipped (not trained twice), and it is trained once the claim is let go."""

    tiny_profile_split_by_seed(monkeypatch)
    where = dict(results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    seed_0 = tmp_path / "conv_cpu_fashion-mnist_b128_s0.pt"
    with parts.claim(seed_0):  # "another process" trains seed 0
        with pytest.raises(parts.PartBusy, match="another process"):
            with parts.claim(seed_0):
                pass
        saved = conv.run_profile("cpu", **where)
    assert list(saved["parts"]) == ["fashion-mnist, batch 128, seed 1"] and not saved["complete"]
    assert "seed 0: another process is training" in capsys.readouterr().out
    assert conv.run_profile("cpu", **where)["complete"]


COPY_A, COPY_B = "a" * 64, "b" * 64


def record(dataset: str, checksum: str, value: float = 1.0) -> dict:
    return {"value": value, "provenance": {"data": {"dataset": dataset, "checksum": checksum}}}


def part(dataset: str, checksum: str, trained: list):
    def train(seconds_left, save_progress):
        trained.append(checksum)
        return record(dataset, checksum)

    return train


CONFIG = {"profile": "quick", "parts": {"batch 4": {"b": 4}, "batch 128": {"b": 128}}}


def test_a_part_on_another_copy_of_the_data_is_refused_before_any_work(tmp_path):
    path = tmp_path / "mnist_quick.json"
    trained = []
    parts.run_parts(path, CONFIG, {"batch 4": part("mnist", COPY_A, trained)}, data={"mnist": COPY_A}, only=["batch 4"])
    assert trained == [COPY_A]
    with pytest.raises(runs.ResultsConflict) as refused:
        parts.run_parts(
            path,
            CONFIG,
            {"batch 4": part("mnist", COPY_B, trained), "batch 128": part("mnist", COPY_B, trained)},
            data={"mnist": COPY_B},
        )
    assert trained == [COPY_A]  # nothing trained on copy B
    message = str(refused.value)
    assert "mnist aaaaaaaaaaaa…: batch 4" in message and "mnist bbbbbbbbbbbb…: this run" in message
    assert "LNUTILS_DATA" in message and "--overwrite" in message


def test_overwrite_trains_the_other_copys_parts_again_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "mnist_quick.json"
    trained = []
    parts.run_parts(path, CONFIG, {"batch 4": part("mnist", COPY_A, trained)}, data={"mnist": COPY_A}, only=["batch 4"])
    trainers = {"batch 4": part("mnist", COPY_B, trained), "batch 128": part("mnist", COPY_B, trained)}
    result = parts.run_parts(path, CONFIG, trainers, data={"mnist": COPY_B}, overwrite=True)
    assert trained == [COPY_A, COPY_B, COPY_B]
    assert result["complete"] and runs.mixed_data(result) == []
    kept = json.loads((tmp_path / "mnist_quick.replaced-1.json").read_text())
    assert runs.part_data(kept["parts"]["batch 4"]) == ("mnist", COPY_A)


def test_a_file_that_mixes_copies_is_refused_by_the_reader(tmp_path):
    mixed = {
        "config": CONFIG,
        "parts": {"batch 4": record("mnist", COPY_A), "batch 128": record("mnist", COPY_B)},
        "complete": True,
    }
    (tmp_path / "mnist_quick.json").write_text(json.dumps(mixed))
    with pytest.raises(runs.ResultsConflict, match="different copies of the data"):
        runs.read_results("mnist_quick.json", tmp_path)


def test_two_datasets_in_one_file_are_not_a_mix(tmp_path):
    """The conv file holds Fashion-MNIST and MNIST parts: each dataset is one copy, so nothing is mixed."""
    both = {
        "config": CONFIG,
        "parts": {"batch 4": record("fashion-mnist", COPY_A), "batch 128": record("mnist", COPY_B)},
    }
    (tmp_path / "conv_quick.json").write_text(json.dumps(both))
    assert runs.read_results("conv_quick.json", tmp_path)["parts"]
    assert runs.mixed_data(both, {"fashion-mnist": COPY_A, "mnist": COPY_B}) == []
    assert runs.mixed_data(both, {"mnist": COPY_A}) != []


def test_every_shipped_result_is_one_copy_of_each_dataset():
    for path in sorted(runs.PACKAGE_RESULTS.glob("*.json")):
        assert runs.mixed_data(runs.read_json(path)) == [], path.name


@pytest.mark.parametrize(
    "edit, named",
    [
        ({"parts": "garbage"}, "'parts' holds str 'garbage'"),
        ({"parts": None}, "'parts' holds NoneType None"),
        ({"in_progress": [1, 2]}, "'in_progress' holds list [1, 2]"),
        ({"complete": "yes"}, "'complete' holds str"),
        ({"config": 3}, "'config' holds int"),
        ({"parts": {"batch 4": 7}}, "'parts' → 'batch 4' holds int 7"),
    ],
)
def test_a_hand_edited_file_of_wrong_types_is_one_clear_error(tmp_path, edit, named):
    path = tmp_path / "mnist_quick.json"
    path.write_text(json.dumps({"config": CONFIG, "parts": {}, "complete": False} | edit))
    with pytest.raises(runs.ResultsConflict) as refused:
        runs.read_results(path.name, tmp_path)
    message = str(refused.value)
    assert str(path) in message and named in message and "malformed" in message


def test_in_an_installed_lnutils_a_users_run_never_shadows_the_shipped_evidence(tmp_path, monkeypatch):
    """Issue 38 #3: after `pip install .`, a 2-step run from another folder replaced the shipped 30-part
    result in `saved_results`.  The shipped result now wins, unless the user's is more of that same run."""
    shipped_folder = tmp_path / "package"
    shipped_folder.mkdir()
    monkeypatch.setattr(runs, "PACKAGE_RESULTS", shipped_folder)
    monkeypatch.setattr(runs.environment, "checkout_root", lambda: None)
    monkeypatch.delenv("LNUTILS_RESULTS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    yours_folder = runs.results_dir()
    assert yours_folder == tmp_path / "home" / ".local" / "share" / "lnutils" / "results"
    yours_folder.mkdir(parents=True)
    shipped = {"config": CONFIG, "parts": {"batch 4": record("mnist", COPY_A)}, "complete": False}
    (shipped_folder / "mnist_quick.json").write_text(json.dumps(shipped))
    short_try = {"config": {"profile": "quick", "steps": 2}, "parts": {}, "complete": True}
    (yours_folder / "mnist_quick.json").write_text(json.dumps(short_try))
    assert runs.read_results("mnist_quick.json") == shipped
    assert runs.read_results("mnist_quick.json", yours_folder) == short_try  # read as theirs, when asked
    more = {**shipped, "parts": {**shipped["parts"], "batch 128": record("mnist", COPY_A)}, "complete": True}
    (yours_folder / "mnist_quick.json").write_text(json.dumps(more))
    assert runs.read_results("mnist_quick.json") == more  # the same run, carried further
    monkeypatch.setenv("LNUTILS_RESULTS", str(yours_folder))  # a folder named on purpose is read first
    (yours_folder / "mnist_quick.json").write_text(json.dumps(short_try))
    assert runs.read_results("mnist_quick.json") == short_try


def test_a_runs_hours_come_from_its_record():
    result = {
        "parts": {"a": {"provenance": {"wall_seconds": 5400}}, "b": {"seconds": 1800}},
        "in_progress": {"c": {"provenance": {"wall_seconds": 360}}},
    }
    assert parts.recorded_hours(result) == {"a": 1.5, "b": 0.5, "c": 0.1}
    line = parts.parts_done_line(result, "x.json")
    assert "parts done: ['a', 'b']" in line and "a (1.50 h), b (0.50 h)" in line and line.endswith("x.json")
