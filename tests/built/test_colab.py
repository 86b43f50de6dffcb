"""Every notebook runs the way Google Colab runs it, offline.

A fresh virtual environment holds only what Colab preinstalls (numpy, torch, matplotlib,
ipykernel, tqdm; not lnutils).  The package is served from 127.0.0.1 as a wheel, so the
notebook's first cell installs it exactly as it would from the repository
(``LNUTILS_PIP_SOURCE`` points the cell at the local server).  The data is put where a
download would have put it (``~/.cache/lnutils/<name>/``, with a private HOME).  Each
notebook runs in an empty working folder with papermill, in the quick profile shrunk by
its own parameters, so this stays a few minutes.  Nothing reaches the internet.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from loopback import serve  # tests/built/loopback.py
from small_runs import SMALL_RUN_PARAMETERS as SHRINK  # tests/built/small_runs.py

ROOT = Path(__file__).resolve().parents[2]


def pinned(name: str) -> str:
    match = re.search(rf"^{name}==(\S+)", (ROOT / "requirements.txt").read_text(), re.M)
    return f"{name}=={match.group(1)}" if match else name


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    )
    return result


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    root = tmp_path_factory.mktemp("colab")
    venv = root / "venv"
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "venv", str(venv)])
    run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            *(pinned(n) for n in ("torch", "numpy", "matplotlib", "ipykernel", "tqdm")),
        ]
    )
    torch_before = run(
        [str(python), "-c", "import torch, numpy; print(torch.__version__, numpy.__version__)"], cwd=root
    ).stdout.strip()
    assert (
        run(
            [str(python), "-c", "import importlib.util; print(importlib.util.find_spec('lnutils'))"], cwd=root
        ).stdout.strip()
        == "None"
    )
    run([str(python), "-m", "ipykernel", "install", "--prefix", str(root / "jupyter"), "--name", "colab-like"])

    dist = root / "dist"
    source = root / "source"  # build the wheel from a copy: setuptools writes build/ next to the sources
    shutil.copytree(ROOT / "lnutils", source / "lnutils", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(source),
        ]
    )
    wheel = next(dist.glob("lnutils-*.whl"))

    home = root / "home"
    from lnutils.data import load_dataset

    for name in ("mnist", "fashion-mnist"):  # where a download would have put the files
        cache = home / ".cache" / "lnutils" / name
        cache.mkdir(parents=True)
        for record in load_dataset(name, download=False).provenance.records:
            shutil.copy(record.path, cache / Path(record.path).name)

    env = {k: v for k, v in os.environ.items() if k not in ("LNUTILS_DATA", "VIRTUAL_ENV", "PYTHONPATH")}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        JUPYTER_PATH=str(root / "jupyter" / "share" / "jupyter"),
        MPLBACKEND="agg",
    )
    with serve(dist) as url:
        env["LNUTILS_PIP_SOURCE"] = url + wheel.name
        yield {"root": root, "python": python, "env": env, "torch_before": torch_before}


@pytest.mark.parametrize("chapter", sorted(SHRINK))
def test_notebook_runs_like_in_colab(colab, chapter, tmp_path):
    content = tmp_path / "content"  # Colab's empty working folder: nothing of the repository is on the path
    content.mkdir()
    out = tmp_path / f"{chapter}.ipynb"
    parameters = [arg for key, value in SHRINK[chapter].items() for arg in ("-p", key, str(value))]
    run(
        [
            str(Path(sys.executable).parent / "papermill"),
            str(ROOT / "notebooks" / "colab" / f"{chapter}.ipynb"),  # the copy Colab opens
            str(out),
            "-k",
            "colab-like",
            "--cwd",
            str(content),
            "-p",
            "profile",
            "quick",
            *parameters,
        ],
        env=colab["env"],
        timeout=900,
    )
    executed = json.loads(out.read_text())
    first_output = "".join(
        "".join(o.get("text", ""))
        for o in executed["cells"][next(i for i, c in enumerate(executed["cells"]) if c["cell_type"] == "code")].get(
            "outputs", []
        )
    )
    assert "lnutils 0.1.0" in first_output and "WARNING" not in first_output, first_output
    installed = run(
        [
            str(colab["python"]),
            "-c",
            "import lnutils, torch, numpy; print(lnutils.__file__); print(torch.__version__, numpy.__version__)",
        ],
        cwd=tmp_path,
    ).stdout.splitlines()
    assert "site-packages" in installed[0], "lnutils came from the served wheel, not the checkout"
    assert installed[1] == colab["torch_before"], "the set-up cell must not reinstall torch or numpy"
