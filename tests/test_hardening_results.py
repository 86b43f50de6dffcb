"""Result files never mix data and never crash a reader (issue 38, cases 1 and 15): the parts of one file are
trained on one copy of each dataset, and a malformed file is one clear error naming the file and the key."""

from __future__ import annotations

import json

import pytest

from lnutils import runs

COPY_A, COPY_B = "a" * 64, "b" * 64


def record(dataset: str, checksum: str, value: float = 1.0) -> dict:
    return {"value": value, "provenance": {"data": {"dataset": dataset, "checksum": checksum}}}


def part(dataset: str, checksum: str, trained: list):
    def train(seconds_left):
        trained.append(checksum)
        return record(dataset, checksum)

    return train


CONFIG = {"profile": "quick", "parts": {"batch 4": {"b": 4}, "batch 128": {"b": 128}}}


def test_a_part_on_another_copy_of_the_data_is_refused_before_any_work(tmp_path):
    path = tmp_path / "mnist_quick.json"
    trained = []
    runs.run_parts(path, CONFIG, {"batch 4": part("mnist", COPY_A, trained)}, data={"mnist": COPY_A}, only=["batch 4"])
    assert trained == [COPY_A]
    with pytest.raises(runs.ResultsConflict) as refused:
        runs.run_parts(
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
    runs.run_parts(path, CONFIG, {"batch 4": part("mnist", COPY_A, trained)}, data={"mnist": COPY_A}, only=["batch 4"])
    parts = {"batch 4": part("mnist", COPY_B, trained), "batch 128": part("mnist", COPY_B, trained)}
    result = runs.run_parts(path, CONFIG, parts, data={"mnist": COPY_B}, overwrite=True)
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
