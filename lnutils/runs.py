"""Where runs keep their results and checkpoints, what they record, and how they save.

Shared by the four experiments (MNIST, conv, RNN, Transformer; a run made of parts is :mod:`lnutils.parts`):

* :func:`results_dir` and :func:`checkpoint_dir`: the book's checkout when lnutils runs
  from one (``lnutils/results/``, ``_build/checkpoints/``), else a folder in the user's
  home (``~/.local/share/lnutils/results``, ``~/.cache/lnutils/checkpoints``), so an
  installed wheel never writes into ``site-packages``.  ``$LNUTILS_RESULTS`` and
  ``$LNUTILS_CHECKPOINTS`` (or the CLI's ``--results-dir``/``--checkpoint-dir``)
  override both.
* :func:`read_results` looks in the results folder, then in the result files that ship
  with the package, so a Colab user sees the book's saved runs.
* :func:`provenance`: data checksums, versions, commit, device, wall time.
* :func:`write_json`: atomic (a unique temporary file, then a rename) and one writer at
  a time (a lock file beside the target).
* :func:`save_results`: never replaces a result file with one that holds less (fewer
  epochs, fewer records) or one of another configuration, unless ``overwrite=True``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lnutils import environment
from lnutils.datafiles import remove_orphaned_temporaries, temporary_prefix

PACKAGE_RESULTS = Path(__file__).resolve().parent / "results"


class ResultsConflict(RuntimeError):
    """A run would replace a result file that holds more, or another configuration."""


def folder_from_environment(name: str) -> Path | None:
    """The folder an environment variable names; None when it is unset or empty.  A value of blanks only
    (a quoting slip) is an error: it would make a folder named by spaces."""
    value = os.environ.get(name)
    if not value:
        return None
    if not value.strip():
        raise ValueError(f"${name} is {value!r} (blanks only): unset it, or set it to a folder")
    return Path(value).expanduser()


def results_dir() -> Path:
    """Where result files are written (see the module docstring)."""
    if (chosen := folder_from_environment("LNUTILS_RESULTS")) is not None:
        return chosen
    if environment.checkout_root() is not None:
        return PACKAGE_RESULTS
    return Path("~/.local/share/lnutils/results").expanduser()


def checkpoint_dir() -> Path:
    """Where checkpoints are written (see the module docstring)."""
    if (chosen := folder_from_environment("LNUTILS_CHECKPOINTS")) is not None:
        return chosen
    checkout = environment.checkout_root()
    if checkout is not None:
        return checkout / "_build" / "checkpoints"
    return Path("~/.cache/lnutils/checkpoints").expanduser()


def read_json(path: Path) -> dict | None:
    """The JSON at ``path``; None if there is none.  A corrupt file is a clear error."""
    path = Path(path)
    if not path.exists():
        return None
    fix = (
        "move it aside or delete it, or restore it with `git checkout -- <file>` if it is one of the book's saved runs"
    )
    if path.is_dir():
        raise ResultsConflict(f"the result file {path} is a folder, not a file; {fix}")
    try:
        payload = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ResultsConflict(f"the result file {path} is not valid JSON ({error}); {fix}") from None
    if not isinstance(payload, dict):
        raise ResultsConflict(
            f"the result file {path} holds a JSON {type(payload).__name__}, not a result (an object with a "
            f"'config'); {fix}"
        )
    if (wrong := malformed(payload)) is not None:
        raise ResultsConflict(f"the result file {path} is malformed: {wrong}; {fix}")
    return payload


# what each top-level key of a result file must hold, where present
RESULT_KEY_TYPES = {
    "config": dict,
    "parts": dict,
    "in_progress": dict,
    "complete": bool,
    "provenance": dict,
    "kind": str,
}


def malformed(payload: dict) -> str | None:
    """What is wrong with the shape of a result file's payload (a hand edit, a half-merged file), naming
    the key; None when every key present holds what the readers expect."""
    for key, kind in RESULT_KEY_TYPES.items():
        if key in payload and not isinstance(payload[key], kind):
            return f"'{key}' holds {type(payload[key]).__name__} {payload[key]!r:.60}, not a JSON {_json_kind(kind)}"
    for key in ("parts", "in_progress"):
        for name, record in (payload.get(key) or {}).items():
            if not isinstance(record, dict):
                return f"'{key}' → '{name}' holds {type(record).__name__} {record!r:.60}, not a JSON object"
    return None


def _json_kind(kind: type) -> str:
    return {dict: "object", bool: "true/false", str: "string"}[kind]


def saved_cpu_threads(record: dict, device) -> int | None:
    """The CPU thread count a saved part ran on, to train it again in the same summation order on
    ``device``; None off the CPU (or when the record does not say)."""
    threads = environment.recorded_cpu_threads(record.get("provenance", {}).get("device"))
    return threads if torch.device(device).type == "cpu" else None


def part_data(record: dict) -> tuple[str, str] | None:
    """(dataset, checksum) of the data a part was trained on, from its provenance; None where it records
    none (the adding problem makes its data from the seed)."""
    data = (record.get("provenance") or {}).get("data")
    if isinstance(data, dict) and data.get("checksum"):
        return str(data.get("dataset")), str(data["checksum"])
    return None


def mixed_data(payload: dict, data: dict[str, str] | None = None) -> list[str]:
    """The parts of a multi-part result (finished or in progress) trained on another copy of a dataset than
    the others, or than ``data`` ({dataset: checksum}, this run's): one line per part set, naming the
    parts and both checksums; [] when every dataset was one copy throughout."""
    copies: dict[str, dict[str, list[str]]] = {}
    for name, record, _ in result_parts(payload):
        found = part_data(record)
        if found is not None:
            copies.setdefault(found[0], {}).setdefault(found[1], []).append(name)
    lines = []
    for dataset, by_checksum in copies.items():
        wanted = (data or {}).get(dataset)
        if len((set(by_checksum) | {wanted}) - {None}) <= 1:
            continue
        for checksum, names in by_checksum.items():
            mine = " (and this run)" if checksum == wanted else ""
            lines.append(f"{dataset} {checksum[:12]}…: {', '.join(names)}{mine}")
        if wanted is not None and wanted not in by_checksum:
            lines.append(f"{dataset} {wanted[:12]}…: this run")
    return lines


def data_copy(*datasets) -> dict[str, str]:
    """{dataset: checksum} of loaded datasets (anything with a ``provenance``; None is skipped)."""
    return {d.provenance.to_dict()["dataset"]: d.provenance.checksum for d in datasets if d is not None}


def refuse_mixed_data(path: Path, payload: dict, data: dict[str, str] | None = None) -> None:
    """Raise :class:`ResultsConflict` when the parts of ``payload`` (the file ``path``) were trained on
    different copies of one dataset, or on another copy than this run's ``data``: comparisons across its
    parts would compare data as well as methods."""
    lines = mixed_data(payload, data)
    if lines:
        shown = "\n".join(f"  {line}" for line in lines)
        raise ResultsConflict(
            f"{path} would mix parts trained on different copies of the data (dataset checksum: parts):\n"
            f"{shown}\nTrain every part on one copy: point LNUTILS_DATA at the copy the file was made with, or "
            "pass --overwrite (overwrite=True) to train the other parts again on this copy (the old file is "
            "kept as <name>.replaced-<n>.json), or --results-dir to write elsewhere."
        )


def read_results(name: str, directory: Path | None = None) -> dict | None:
    """Result file ``name`` (e.g. ``mnist_paper.json``): from ``directory`` when given, or from the folder
    ``$LNUTILS_RESULTS`` (``--results-dir``) names when it holds it; else the copy shipped with lnutils (the
    book's evidence), unless the default results folder of an installed lnutils holds more of that same run
    (:func:`continues`); else that folder's; else None."""
    if directory is not None:
        found = read_json(Path(directory) / name)
        if found is not None:
            refuse_mixed_data(Path(directory) / name, found)
        return found
    yours, shipped = read_json(results_dir() / name), read_json(PACKAGE_RESULTS / name)
    if folder_from_environment("LNUTILS_RESULTS") is not None and yours is not None:
        chosen, where = yours, results_dir()  # a folder the user named (--results-dir): theirs to read
    else:  # the default folder of an installed lnutils: the shipped evidence first
        chosen, where = (shipped, PACKAGE_RESULTS) if shipped is not None else (yours, results_dir())
        if yours is not None and shipped is not None and continues(yours, shipped):
            chosen, where = yours, results_dir()  # more of the shipped run itself (the same configuration)
    if chosen is not None:
        refuse_mixed_data(where / name, chosen)
    return chosen


def continues(yours: dict, shipped: dict) -> bool:
    """Whether a user's result is more of the shipped one: the same configuration and data, and at least as
    much of it.  Only then does it take the shipped result's place; any other run of the user's (a 2-step
    try, another configuration) never shadows the book's evidence: read it with ``directory``."""
    same = yours.get("config") == shipped.get("config") and data_checksum(yours) == data_checksum(shipped)
    return same and size_of(yours) >= size_of(shipped)


@contextlib.contextmanager
def file_lock(path: Path, timeout: float = 60.0):
    """Hold ``<path>.lock`` exclusively (POSIX ``flock``; elsewhere no lock is taken)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no flock; writes stay atomic
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another process holds {path}.lock; is a run still writing it?")
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write through a unique temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphaned_temporaries(path, ".tmp", hidden=True)  # what a killed writer left (80-100 MB a checkpoint)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path, hidden=True), suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; a result file is for everyone to read
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_json(path: str | os.PathLike, payload: dict) -> None:
    """Write JSON atomically, one writer at a time."""
    with file_lock(Path(path)):
        atomic_write_bytes(Path(path), json.dumps(payload, indent=1).encode())


def size_of(payload: dict) -> tuple[int, int]:
    """How much a result holds: (records or finished parts, epochs done, those of parts in progress included)."""
    parts = len(payload.get("records", payload.get("parts", {})) or [])
    in_progress = sum(int(r.get("epochs_done", 0)) for r in (payload.get("in_progress") or {}).values())
    return parts, int(payload.get("epochs_done", 0)) + in_progress


def config_tag(config: dict) -> str:
    """A short name for a configuration (in checkpoint names: a run of another configuration never
    meets the checkpoint of this one)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]


def data_checksum(payload: dict) -> str | None:
    """The checksum of the data a result was trained on (None when it records none)."""
    return ((payload.get("provenance") or {}).get("data") or {}).get("checksum")


def config_changes(before, after, where: str = "") -> list[tuple[str, object, object]]:
    """(key path, saved value, new value) for each leaf where two configurations differ; a value of another
    type counts (3 and "3" differ, and say so through their repr)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in list(before) + [k for k in after if k not in before]:
            path = f"{where}.{key}" if where else str(key)
            found += config_changes(before.get(key, "(absent)"), after.get(key, "(absent)"), path)
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = []
        for index, (a, b) in enumerate(zip(before, after)):
            found += config_changes(a, b, f"{where}[{index}]")
        return found
    same = before == after and type(before) is type(after)
    return [] if same else [(where or "(the configuration)", before, after)]


def difference(previous: dict, config: dict, checksum: str | None = None) -> str | None:
    """Why ``previous`` is not a run of ``config`` on the data ``checksum`` (None: it is)."""
    if previous.get("config") is None:
        return "a result that records no configuration"
    if previous["config"] != config:
        changes = config_changes(previous["config"], config)
        shown = "\n".join(f"  {key}: saved {before!r}, this run {after!r}" for key, before, after in changes[:12])
        more = f"\n  ... and {len(changes) - 12} more" if len(changes) > 12 else ""
        return f"a run of another configuration; what differs:\n{shown}{more}"
    saved = data_checksum(previous)
    if checksum is not None and saved is not None and saved != checksum:
        return (
            f"a run of the same configuration on other data (data checksum {saved[:12]}…, this run's {checksum[:12]}…)"
        )
    return None


def check_replaceable(path: Path, config: dict, overwrite: bool = False, checksum: str | None = None) -> None:
    """Raise :class:`ResultsConflict` if ``path`` holds anything but a run of ``config`` (on the data
    ``checksum``, when given): another configuration, other data, or a file with no configuration."""
    if overwrite:
        return
    previous = read_json(path)
    if previous is not None and (why := difference(previous, config, checksum)) is not None:
        raise ResultsConflict(
            f"{path} holds {why}\nPass --overwrite (overwrite=True) to replace it (the old file is kept as "
            "<name>.replaced-<n>.json), or --results-dir to write elsewhere."
        )


def replaced_path(path: Path) -> Path:
    """Where a replaced result is kept: ``<name>.replaced-<n>.json``, n one more than the largest
    number there, so that the numbers keep the order of replacement even after a deletion."""
    path = Path(path)
    numbers = [
        int(found.stem.rsplit("-", 1)[1])
        for found in path.parent.glob(f"{path.stem}.replaced-*{path.suffix}")
        if found.stem.rsplit("-", 1)[1].isdigit()
    ]
    return path.with_name(f"{path.stem}.replaced-{max(numbers, default=0) + 1}{path.suffix}")


def replaced_results(name: str, directory: Path | None = None) -> list[dict]:
    """The results an ``overwrite`` replaced (kept as ``<name>.replaced-<n>.json``), oldest first."""
    folder = Path(directory) if directory is not None else results_dir()
    if not (folder / name).exists() and directory is None:
        folder = PACKAGE_RESULTS
    stem, suffix = Path(name).stem, Path(name).suffix
    found = sorted(
        (p for p in folder.glob(f"{stem}.replaced-*{suffix}") if p.stem.rsplit("-", 1)[1].isdigit()),
        key=lambda p: int(p.stem.rsplit("-", 1)[1]),
    )
    return [read_json(path) for path in found]


def save_results(path: str | os.PathLike, payload: dict, overwrite: bool = False, merge=None) -> bool:
    """Write ``payload`` unless the file already holds more of the same configuration (then keep
    it and return False) or another configuration (then raise, unless ``overwrite``).

    ``overwrite`` lets a run of another configuration take the file's name, and even then
    nothing is lost: the replaced result is renamed ``<name>.replaced-<n>.json``
    (:func:`replaced_results` reads them back).  ``merge(payload, previous)``, when given, is applied
    under the file's lock before the comparison: what the file holds that this writer does not."""
    path = Path(path)
    with file_lock(path):
        previous = read_json(path)
        if merge is not None and previous is not None and previous.get("config") == payload.get("config"):
            payload = merge(payload, previous)
        if previous is not None and difference(previous, payload.get("config"), data_checksum(payload)) is not None:
            if not overwrite:
                check_replaceable(path, payload.get("config"), checksum=data_checksum(payload))
            os.replace(path, replaced_path(path))
        elif previous is not None and size_of(previous) > size_of(payload):
            return False
        atomic_write_bytes(path, json.dumps(payload, indent=1).encode())
    return True


def finished(path: Path, config: dict) -> dict | None:
    """The saved result at ``path`` if it is a complete run of ``config`` (nothing left to do)."""
    saved = read_json(path)
    if saved is not None and saved.get("config") == config and saved.get("complete"):
        return saved
    return None


def provenance(dataset, device: torch.device | str, seconds: float, commit: str | None = None) -> dict:
    """What produced a result: data checksums, versions, the commit of the code *when the run
    started* (pass ``commit``; a long run outlives later commits), device and wall time."""
    if commit is None:
        commit = environment.git_commit()
    return {
        "data": dataset.provenance.to_dict() if dataset is not None else None,
        "versions": environment.versions(),
        "commit": commit,
        "device": environment.device_name(torch.device(device)),
        "platform": platform.platform(),
        "wall_seconds": round(seconds, 1),
        "written": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


# ----------------------------------------------------------------------------- learning-rate selection


def grid_label(name: str, rate: float) -> str:
    """The stack name of ``name`` trained at learning rate ``rate`` in a selection run."""
    return f"{name}@{rate:g}"


def grid_stacks(names, grid, make_stack) -> tuple[dict, dict]:
    """One stack per (name, learning rate), labelled by :func:`grid_label`, and its rate."""
    stacks = {grid_label(name, rate): make_stack(name) for name in names for rate in grid}
    rates = {grid_label(name, rate): rate for name in names for rate in grid}
    return stacks, rates


def choose_learning_rates(val_error: dict[str, list], names, grid, settle: int = 1) -> dict[str, float]:
    """The selection rule: for each name, the rate with the lowest validation error, averaged over the
    seeds and over the last ``settle`` epochs of the selection run.  ``grid`` is one list of rates for
    every name, or {name: its rates}."""
    chosen = {}
    for name in names:
        rates = grid[name] if isinstance(grid, dict) else grid
        finals = {rate: float(np.mean(np.asarray(val_error[grid_label(name, rate)])[-settle:])) for rate in rates}
        chosen[name] = min(finals, key=finals.get)
    return chosen


def neighbour_rate(rate: float, direction: int) -> float:
    """The next rate of the half-decade grid (1, 3, 10, 30, ... × a power of ten) above (``direction`` +1)
    or below (-1) ``rate``: 1e-4 -> 3e-4 or 3e-5."""
    steps = np.log10(rate) * 2  # a half-decade step is 0.5 in log10 (3 stands for 10**0.5, as grids write it)
    step = int(round(steps + 0.04)) + direction  # 3e-4: log10 = -3.52 -> -7.04 -> step -7
    decade, half = divmod(step, 2)
    return float(f"{'3' if half else '1'}e{decade}")


def result_parts(result: dict | None) -> list[tuple[str, dict, bool]]:
    """Every (name, record, finished) of a result written by :func:`run_parts`: its finished parts, then
    the parts still training (``in_progress``)."""
    result = result or {}
    finished = [(name, record, True) for name, record in result.get("parts", {}).items()]
    return finished + [(name, record, False) for name, record in result.get("in_progress", {}).items()]
