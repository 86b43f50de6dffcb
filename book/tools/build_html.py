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


def fill_build_info(page: Path) -> None:
    """Replace the BUILD-INFO marker with this build's versions, commit, device, data and timings."""
    import json
    import platform
    import warnings

    from lnutils import environment
    from lnutils.data import DataError, load_dataset

    lines = ["## Software and machine", "", "| item | value |", "|---|---|"]
    for name, version in environment.versions().items():
        lines.append(f"| {name} | {version} |")
    lines += [
        f"| commit | `{environment.git_commit() or 'unknown (not a git checkout)'}` |",
        f"| device | {environment.device_name(environment.pick_device())} |",
        f"| platform | {platform.platform()} |",
        "",
        "## Data",
        "",
    ]
    for name in ("mnist", "fashion-mnist"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                provenance = load_dataset(name, download=False).provenance
            lines += [provenance._repr_markdown_(), ""]
        except DataError:
            lines += [f"{name}: not found on the build machine.", ""]
    timings_path = ROOT / "_build" / "timings.json"
    if timings_path.exists():
        lines += ["## How long each notebook took", "", "| notebook | profile | seconds | finished |", "|---|---|---|---|"]
        for notebook, info in json.loads(timings_path.read_text()).items():
            lines.append(f"| {notebook} | {info['profile']} | {info['seconds']:.0f} | {info['finished']} |")
    page.write_text(page.read_text().replace("<!-- BUILD-INFO -->", "\n".join(lines)))


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
    fill_build_info(source / "book" / "reproducibility.md")
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
