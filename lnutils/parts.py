"""A run made of parts: each part trained, saved and resumed on its own, shared by processes.

Every experiment's profile is a set of parts (a batch size, a dataset, a setting, a seed), and
:func:`run_parts` runs them one after another into one result file (:mod:`lnutils.runs` saves it):

* a finished part is never trained again, and a part that ran out of its time budget resumes
  from its own checkpoint the next time;
* a long part's epochs are written to the file as they come (``in_progress``), marked partial;
* two processes started alike share the parts: each part is held by a claim while it trains
  (:func:`claim`), and the other process takes the next.

A part is ``train(seconds_left, save_progress) -> record``, or ``None`` when it ran out of time.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from pathlib import Path

from lnutils.progress import say
from lnutils.runs import (
    atomic_write_bytes,
    check_replaceable,
    file_lock,
    part_data,
    read_json,
    refuse_mixed_data,
    replaced_path,
    result_parts,
    save_results,
)


class PartBusy(RuntimeError):
    """Another process is training this part now (it holds the part's claim, :func:`claim`)."""


@contextlib.contextmanager
def claim(checkpoint: Path, wait: bool = False):
    """Hold ``<checkpoint>.claim`` while a part trains, so that a second process working through the same
    profile skips the part and takes the next (:func:`run_parts`); raises :class:`PartBusy` when another
    process holds it, or with ``wait`` waits until it lets go (a run that everything after it needs).  The
    operating system lets go of the claim when its process ends, killed or not."""
    path = Path(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no claims; run one process per profile
        yield
        return
    with open(path.with_name(path.name + ".claim"), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise PartBusy(f"another process is training the part of {path.name}") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def loaded_once(load):
    """``load()`` on first use only, then the same copy: one copy of a dataset for every part of a run (the
    result file refuses parts trained on another copy), loaded only when a part trains."""
    loaded = []

    def copy():
        if not loaded:
            loaded.append(load())
        return loaded[0]

    return copy


def seconds_left(budget: float | None, started: float) -> float | None:
    """What is left of a time budget (None: no budget) for the next part of a multi-part run."""
    return None if budget is None else max(1e-9, budget - (time.perf_counter() - started))


def ran_out_of_time(history, epochs: int) -> bool:
    """True (and says so) when a part stopped before its last epoch; its checkpoint resumes it."""
    if len(history.epoch_seconds) >= epochs:
        return False
    say(f"time budget spent after {len(history.epoch_seconds)} of {epochs} epochs; run again to resume")
    return True


def recorded_hours(result: dict | None) -> dict[str, float]:
    """{part: the hours of training its record says it took}, finished parts and parts still training: the
    one place a run's time comes from (a docstring's estimate goes stale; the record does not)."""
    hours = {}
    for name, record, _ in result_parts(result):
        seconds = record.get("provenance", {}).get("wall_seconds") or record.get("seconds") or 0.0
        hours[name] = float(seconds) / 3600
    return hours


def parts_done_line(result: dict, path) -> str:
    """What a profile's run finished, each part with its recorded hours, and where the result is."""
    hours = recorded_hours(result)
    done = ", ".join(f"{name} ({hours.get(name, 0.0):.2f} h)" for name in result.get("parts", {}))
    return f"parts done: {list(result.get('parts', {}))}; hours each took: {done or 'none yet'}; results in {path}"


def unchanged_parts(previous: dict, config: dict, parts_of=None) -> dict | None:
    """What of ``previous`` a run of ``config`` keeps when it replaces it: the parts (finished or in
    progress) whose configuration is the same in both, where each names its parts' configurations
    (``config["parts"]`` a dict); nothing otherwise.  ``parts_of(old_config)``, when given, names the
    parts' configurations of a file written before its configuration named them."""
    before = (previous.get("config") or {}).get("parts")
    if not isinstance(before, dict) and parts_of is not None and previous.get("config"):
        before = parts_of(previous["config"])
    after = config.get("parts")
    if not isinstance(before, dict) or not isinstance(after, dict):
        return None
    same = {name for name, part in after.items() if before.get(name) == part}
    return {
        "parts": {name: r for name, r in (previous.get("parts") or {}).items() if name in same},
        "in_progress": {name: r for name, r in (previous.get("in_progress") or {}).items() if name in same},
    }


def others_progress(mine: dict, previous: dict, training: str) -> dict:
    """``mine`` (a payload of :func:`run_parts`) with what ``previous`` (the file, same configuration)
    holds from other processes: their finished parts, and their parts in progress (all but ``training``,
    the part this writer trains, whose record is ``mine``'s)."""
    merged = {**mine, "parts": {**(previous.get("parts") or {}), **mine["parts"]}}
    in_progress = dict(mine.get("in_progress") or {})
    for name, record in (previous.get("in_progress") or {}).items():
        if name != training:
            in_progress[name] = record
    in_progress = {name: r for name, r in in_progress.items() if name not in merged["parts"]}
    merged.pop("in_progress", None)
    if in_progress:
        merged["in_progress"] = in_progress
    return merged


def drop_parts_of_other_data(path: Path, original: dict, kept: dict, data: dict[str, str]) -> None:
    """With ``overwrite``: the parts of ``kept`` trained on another copy of a dataset than ``data`` go (they
    are trained again), and the file they were in stays beside it (:func:`lnutils.runs.replaced_path`)."""
    other_data = {
        name
        for name, record, _ in result_parts(kept)
        if (found := part_data(record)) is not None and data.get(found[0], found[1]) != found[1]
    }
    if not other_data:
        return
    for key in ("parts", "in_progress"):
        kept[key] = {name: r for name, r in kept[key].items() if name not in other_data}
    cleaned = {**original, **kept, "complete": False}
    with file_lock(path):
        atomic_write_bytes(replaced_path(path), json_bytes(original))
        atomic_write_bytes(path, json_bytes(cleaned))


def json_bytes(payload: dict) -> bytes:
    return json.dumps(payload, indent=1).encode()


def starting_payload(kind: str, config: dict, previous: dict | None, parts: dict) -> dict:
    """The result a run starts from: the finished parts of ``previous``, and its parts in progress, which
    keep their saved epochs until this run has trained more of them (a lost checkpoint restarts a part
    from epoch 0, and the file must not lose the epochs it already shows)."""
    done = dict(previous.get("parts", {})) if previous else {}
    payload = {"kind": kind, "config": config, "parts": done, "complete": all(name in done for name in parts)}
    waiting = {name: r for name, r in ((previous or {}).get("in_progress") or {}).items() if name not in done}
    if waiting:
        payload["in_progress"] = waiting
    return payload


class ResultWriter:
    """Writes a run's result file as its parts train (:func:`run_parts`): ``payload`` is what this process
    holds; every write takes in, under the file's lock, what other processes wrote since
    (:func:`others_progress`) and refuses parts trained on another copy of the data."""

    def __init__(self, path: Path, payload: dict, names: list[str], overwrite: bool, annotate, data):
        self.path, self.payload, self.names = path, payload, names
        self.overwrite, self.annotate, self.data = overwrite, annotate, data

    def save(self, training: str) -> None:
        def merge(mine: dict, previous: dict) -> dict:
            merged = others_progress(mine, previous, training)
            refuse_mixed_data(self.path, merged, self.data)  # another process, started on another copy
            merged["complete"] = all(name in merged["parts"] for name in self.names)
            if self.annotate is not None:
                self.annotate(merged)
            return merged

        if self.annotate is not None:
            self.annotate(self.payload)
        save_results(self.path, self.payload, overwrite=self.overwrite, merge=merge)

    def save_progress(self, name: str, record: dict) -> None:
        """A part's record so far, under ``in_progress``; never replacing a record of more epochs."""
        now = (read_json(self.path) or {}) if not self.overwrite else {}
        saved = self.payload.get("in_progress", {}).get(name) or (now.get("in_progress") or {}).get(name)
        if saved is not None and int(saved.get("epochs_done", 0)) > int(record.get("epochs_done", 0)):
            return  # the file already shows more of this part
        self.payload.setdefault("in_progress", {})[name] = record
        self.save(name)

    def finished(self, name: str, record: dict) -> None:
        self.payload["parts"][name] = record
        self.payload.get("in_progress", {}).pop(name, None)
        self.payload["complete"] = all(name in self.payload["parts"] for name in self.names)
        self.save(name)


def run_parts(
    path: Path,
    config: dict,
    parts: dict,
    overwrite: bool = False,
    time_budget_seconds=None,
    kind: str = "",
    annotate=None,
    only=None,
    data=None,
    parts_of=None,
) -> dict:
    """Run a profile made of parts, one after another, resumable part by part.

    ``parts`` maps each part's name to ``train(seconds_left, save_progress) -> record``, or ``None``
    when it ran out of time (its own checkpoint resumes it).  The result file, ``{"kind", "config",
    "parts": {name: record}, "complete"}``, is written after every part; parts already in it are not run
    again, and it is never replaced by fewer parts or another configuration unless ``overwrite`` (and then
    the replaced file is kept, see :func:`lnutils.runs.save_results`).  ``annotate(payload)``, when given,
    adds what each write should record (its provenance).  ``save_progress(record)`` stores the part's
    record so far under ``payload["in_progress"][name]`` (marked partial, never read as a finished part),
    so that a long part's epochs are in the result file as they come; a part's saved progress is only
    replaced by a record of at least as many epochs.

    ``only``, when given, names the parts to train now; the others keep what the file holds.  Where
    ``config["parts"]`` maps each part's name to its configuration, ``overwrite`` keeps the parts
    whose configuration is unchanged and trains again only those whose configuration changed
    (``parts_of``: see :func:`unchanged_parts`).

    Several processes may train different parts of one file at once: every write takes in, under the
    file's lock, what the others have written since (:func:`others_progress`), a part another process has
    finished is not trained again, and a part whose ``train`` raises :class:`PartBusy` (another process is
    training it: :func:`claim`) is skipped for the next.

    ``data`` ({dataset: checksum}, this run's copies, or a function that loads them: it is called after
    the file has been read, so a bad file is refused before any data is loaded) keeps every part of the
    file on one copy of each dataset: a file whose parts were trained on another copy is refused before
    any training (:func:`lnutils.runs.refuse_mixed_data`), unless ``overwrite``, which trains those parts
    again (the old file kept).
    """
    check_replaceable(path, config, overwrite)
    previous = read_json(path)
    if overwrite and previous is not None:
        original, previous = previous, unchanged_parts(previous, config, parts_of)
    finished_before = set((previous or {}).get("parts") or {})
    if any(name not in finished_before and (only is None or name in only) for name in parts):
        data = data() if callable(data) else data  # loaded only when there is a part to train
        if previous is not None and not overwrite:
            refuse_mixed_data(path, previous, data)
        if previous is not None and overwrite and data:
            drop_parts_of_other_data(path, original, previous, data)
    else:
        data = None  # nothing to train: the file is what it is (a reader refuses a mixed one)
    writer = ResultWriter(path, starting_payload(kind, config, previous, parts), list(parts), overwrite, annotate, data)
    done = writer.payload["parts"]
    started = time.perf_counter()
    for name, train in parts.items():
        if name in done or (only is not None and name not in only):
            continue
        now = read_json(path) or {}
        if now.get("config") == config and name in (now.get("parts") or {}):  # another process finished it
            done[name] = now["parts"][name]
            continue
        try:
            record = train(seconds_left(time_budget_seconds, started), functools.partial(writer.save_progress, name))
        except PartBusy as busy:
            say(f"{name}: {busy}; on to the next part")
            continue
        if record is None:
            break
        writer.finished(name, record)
    return read_json(path) or writer.payload  # with what other processes wrote
