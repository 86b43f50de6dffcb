"""Build the HTML book from the executed notebooks.

Stages the book's sources in _build/src/ (the repository's layout: _config.yml,
book/, and notebooks/ holding the *executed* copies that execute.py wrote), then
runs jupyter-book on it, writing _build/html/.  ``--strict`` turns Sphinx warnings
into errors (what ``make test`` uses).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    strict = "--strict" in argv
    source = ROOT / "_build" / "src"
    executed = source / "notebooks"
    missing = [nb.name for nb in sorted((ROOT / "notebooks").glob("*.ipynb")) if not (executed / nb.name).exists()]
    if missing:
        print(f"not executed yet: {', '.join(missing)}; run `make execute` (or `make book`) first.", file=sys.stderr)
        return 1
    shutil.copy(ROOT / "_config.yml", source / "_config.yml")
    if (source / "book").exists():
        shutil.rmtree(source / "book")
    shutil.copytree(ROOT / "book", source / "book", ignore=shutil.ignore_patterns("tools", "__pycache__"))
    command = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", str(source),
        "--path-output", str(ROOT),
        "--toc", str(source / "book" / "_toc.yml"),
        "--config", str(source / "_config.yml"),
    ]
    if strict:
        command += ["-W", "--keep-going"]
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
