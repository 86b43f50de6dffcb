"""Trained networks kept as small committed files, so that a probe reads a trained network.

A kept file is an ``.npz`` of some networks' state dicts (keys ``<network>/<tensor>``), in
``lnutils/results/networks/``.  Beside it, ``<name>.json`` records the SHA-256 of the ``.npz``,
the configuration and seed that trained the networks, how they were checked against the saved
run they stand for, and the provenance (data checksum, versions, commit, device).

:func:`load` reads the record, checks the checksum and fills networks built by the caller;
it refuses a file that is missing, changed or truncated, or that holds other tensors than the
networks have, and says how to get it back.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lnutils import runs

FOLDER = "networks"


class KeptNetworksError(RuntimeError):
    """A kept-networks file is missing, changed, truncated, or does not fit the networks."""


def path_of(name: str, results_dir: Path | None = None) -> Path:
    """Where kept file ``name`` (e.g. ``rnn_cpu_seed0.npz``) is written."""
    return Path(results_dir or runs.results_dir()) / FOLDER / name


def find(name: str, results_dir: Path | None = None) -> Path | None:
    """Kept file ``name`` in ``results_dir`` (or the results folder), else the copy shipped with lnutils."""
    for folder in ([Path(results_dir)] if results_dir else [runs.results_dir()]) + [runs.PACKAGE_RESULTS]:
        if (folder / FOLDER / name).exists():
            return folder / FOLDER / name
    return None


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save(path: Path, networks: dict[str, nn.Module], record: dict) -> dict:
    """Write the networks' state dicts (float32, on the CPU) to ``path`` and ``record`` with the file's
    name, size and SHA-256 to ``path`` with ``.json``; returns that record."""
    arrays = {
        f"{name}/{key}": value.detach().to("cpu", torch.float32).numpy()
        for name, network in networks.items()
        for key, value in network.state_dict().items()
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    runs.atomic_write_bytes(Path(path), buffer.getvalue())
    record = {
        **record,
        "file": Path(path).name,
        "bytes": Path(path).stat().st_size,
        "sha256": sha256(path),
        "networks": list(networks),
        "tensors": len(arrays),
    }
    runs.write_json(Path(path).with_suffix(".json"), record)
    return record


def read_record(path: Path) -> dict:
    """The record beside kept file ``path``, its checksum checked."""
    path = Path(path)
    restore = "restore both files with `git checkout -- lnutils/results/networks/` or train them again"
    if not path.exists() or not path.with_suffix(".json").exists():
        raise KeptNetworksError(
            f"kept networks {path} or its record {path.with_suffix('.json').name} is missing; {restore}"
        )
    record = json.loads(path.with_suffix(".json").read_text())
    found = sha256(path)
    if found != record.get("sha256"):
        raise KeptNetworksError(
            f"kept networks {path.name} has SHA-256 {found[:12]}…, its record says {str(record.get('sha256'))[:12]}…: "
            f"the file was changed or truncated; {restore}"
        )
    return record


def load(path: Path, networks: dict[str, nn.Module]) -> dict:
    """Fill ``networks`` (built by the caller, on any device) with the weights kept in ``path``; returns
    the record.  Every tensor of every network must be in the file, with its shape."""
    record = read_record(path)
    with np.load(Path(path)) as arrays:
        for name, network in networks.items():
            state = network.state_dict()
            missing = [key for key in state if f"{name}/{key}" not in arrays]
            if missing:
                raise KeptNetworksError(
                    f"{Path(path).name} holds no {name}/{missing[0]} ({len(missing)} tensors missing); it keeps "
                    f"{record.get('networks')}: build the networks it was written from"
                )
            loaded = {}
            for key, value in state.items():
                array = arrays[f"{name}/{key}"]
                if tuple(array.shape) != tuple(value.shape):
                    raise KeptNetworksError(
                        f"{Path(path).name}: {name}/{key} has shape {list(array.shape)}, the network's has "
                        f"{list(value.shape)}: build the network with the record's configuration"
                    )
                loaded[key] = torch.from_numpy(array).to(value.device, value.dtype)
            network.load_state_dict(loaded)
    return record


def load_built(name: str, build, results_dir: Path | None = None) -> tuple[dict, dict | None]:
    """The networks kept as ``name`` (:func:`find`): built by ``build(record)`` ({name: module}, from the
    record's configuration), filled (:func:`load`) and in eval mode, with their record; ({}, None) where
    none are kept."""
    path = find(name, results_dir)
    if path is None:
        return {}, None
    networks = build(read_record(path))
    record = load(path, networks)
    return {key: network.eval() for key, network in networks.items()}, record


def agreement(live_test_error: dict, saved_test_error: dict, column: int, names) -> dict:
    """How closely networks trained again follow the saved run they stand for: per network, the largest
    epoch-by-epoch difference of the test error (points) and both final test errors.  ``live_test_error``
    holds one seed per epoch, ``saved_test_error`` the saved run's seeds, this seed in ``column``."""
    found = {}
    for name in names:
        live = [100 * epoch[0] for epoch in live_test_error[name]]
        saved = [100 * epoch[column] for epoch in saved_test_error[name]]
        found[name] = {
            "largest_difference_points": max(abs(a - b) for a, b in zip(live, saved)),
            "final_test_error": live[-1],
            "saved_final_test_error": saved[-1],
        }
    return found


def keep(path: Path, networks: dict[str, nn.Module], about: dict, members: str, load_earlier) -> dict:
    """Save ``networks`` with record ``about`` (:func:`save`), keeping the networks an earlier call kept in
    the same file when they were trained with the same configuration (but for its list of networks,
    ``about["config"][members]``).  ``load_earlier()`` returns the networks and record kept so far, or
    ({}, None).  A file lock lets a second process keep other networks of the same seed."""
    with runs.file_lock(path):
        earlier, record = load_earlier()
        if record is not None and record["config"] | {members: []} == about["config"] | {members: []}:
            kept_before = {name: network for name, network in earlier.items() if name not in networks}
            networks = kept_before | networks
            about["agreement_with_saved_run"] = {
                name: record["agreement_with_saved_run"][name] for name in kept_before
            } | about["agreement_with_saved_run"]
            about["config"][members] = list(networks)
        return save(path, networks, about)
