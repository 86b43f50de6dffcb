"""Execute every chapter notebook with papermill into _build/src/notebooks/.

    python book/tools/execute.py --profile quick          # all notebooks
    python book/tools/execute.py --profile paper 02_mnist  # only those whose name contains '02_mnist'

Prints one line per notebook with its wall time and writes _build/timings.json, which
the book's reproducibility page reads.  A notebook that fails stops the build with the
cell that failed (papermill's report) and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ("quick", "paper")


RUN_TIME_MARKER = "<!-- RUN-TIME -->"


def stamp_run_time(path: Path, seconds: float, profile: str) -> None:
    """Write the measured time of this execution where a chapter's text has the RUN-TIME marker (a hidden
    comment in the sources, so Colab's copy says only 'a few minutes'): no fixed time claim on the page."""
    import nbformat

    from lnutils import environment

    notebook = nbformat.read(path, as_version=4)
    words = (
        f" (in this build, the {profile} profile took {seconds:.0f} s on "
        f"{environment.device_name(environment.pick_device())})"
    )
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and RUN_TIME_MARKER in cell.source:
            cell.source = cell.source.replace(RUN_TIME_MARKER, words)
    nbformat.write(notebook, path)


def hide_injected_parameters(path: Path) -> None:
    """Tag papermill's injected-parameters cell remove-cell: the book shows the notebook's own parameters cell."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = tags + ["remove-cell"]
    # papermill records where it read and wrote: the book publishes file names, never a machine's paths
    record = notebook.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if record.get(key):
            record[key] = Path(record[key]).name
    nbformat.write(notebook, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", help="quick (CI, minutes) or paper (the full experiments)")
    parser.add_argument("only", nargs="*", help="run only notebooks whose file name contains one of these")
    args = parser.parse_args(argv)
    if args.profile not in PROFILES:
        parser.error(f"unknown profile {args.profile!r}; choose one of {', '.join(PROFILES)}")

    import papermill

    # Executed pages show results, not progress bars: the kernels inherit this.
    os.environ["LNUTILS_PROGRESS"] = "0"

    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.only:
        notebooks = [nb for nb in notebooks if any(key in nb.name for key in args.only)]
    out_dir = ROOT / "_build" / "src" / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    timings_path = ROOT / "_build" / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    for notebook in notebooks:
        start = time.perf_counter()
        print(f"executing {notebook.name} (profile {args.profile}) ...", flush=True)
        papermill.execute_notebook(
            str(notebook),
            str(out_dir / notebook.name),
            parameters={"profile": args.profile},
            cwd=str(ROOT / "notebooks"),
            kernel_name="python3",
            progress_bar=False,
        )
        seconds = time.perf_counter() - start
        hide_injected_parameters(out_dir / notebook.name)
        stamp_run_time(out_dir / notebook.name, seconds, args.profile)
        timings[notebook.stem] = {
            "seconds": round(seconds, 1),
            "profile": args.profile,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        timings_path.write_text(json.dumps(timings, indent=2))
    summary = ", ".join(
        f"{name} {info['seconds']:.0f}s" for name, info in timings.items() if any(name == nb.stem for nb in notebooks)
    )
    print(f"notebook times ({args.profile}): {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
