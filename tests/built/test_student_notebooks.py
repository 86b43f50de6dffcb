"""Student notebooks are generated from the chapters and still run (the stubs' errors allowed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from small_runs import SMALL_RUN_PARAMETERS  # tests/built/small_runs.py

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def student_dir():
    subprocess.run([sys.executable, str(ROOT / "book" / "tools" / "make_student.py")], check=True)
    return ROOT / "_build" / "student"


@pytest.mark.parametrize("chapter", sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_solutions_removed_and_markdown_plain(student_dir, chapter):
    """Solution code cells become stubs, written solutions are gone, and no MyST is left that
    Jupyter or Colab would show raw; every other code cell is unchanged."""
    import re

    original = nbformat.read(ROOT / "notebooks" / chapter, as_version=4)
    student = nbformat.read(student_dir / chapter, as_version=4)
    how_to_use = [c for c in student.cells if c.source.startswith("**How to use this notebook.**")]
    assert len(how_to_use) == 1, "the student notebook says once how to use it"
    cells = [c for c in student.cells if c is not how_to_use[0]]  # the chapter's cells, one for one
    assert len(original.cells) == len(cells)
    for before, after in zip(original.cells, cells):
        if "solution" in before.metadata.get("tags", []):
            assert "raise NotImplementedError" in after.source and "Exercise:" in after.source
        elif before.cell_type == "code":
            assert before.source == after.source
        else:
            assert not re.search(r"\{(cite:[pt]|eq|doc|exercise|solution)\}|\$\$ \(|:class: dropdown", after.source), (
                after.source[:200]
            )


@pytest.mark.parametrize("chapter", sorted(SMALL_RUN_PARAMETERS))
def test_every_chapter_has_an_implement_exercise_with_a_stub(student_dir, chapter):
    student = nbformat.read(student_dir / f"{chapter}.ipynb", as_version=4)
    stubs = [i for i, c in enumerate(student.cells) if "student-stub" in c.metadata.get("tags", [])]
    assert stubs, f"{chapter}: no solution cell became a stub"
    assert all("from lnutils import check" in student.cells[i + 1].source for i in stubs), (
        "each stub is followed by its self-check"
    )


@pytest.mark.parametrize("chapter", sorted(SMALL_RUN_PARAMETERS))
def test_student_notebook_with_stubs_executes(student_dir, chapter, tmp_path):
    """The stubbed notebook runs top to bottom (the quick profile, shrunk) and its self-check reports the stub."""
    import papermill

    parameters = dict(profile="quick", **SMALL_RUN_PARAMETERS[chapter])
    executed = papermill.execute_notebook(
        str(student_dir / f"{chapter}.ipynb"),
        str(tmp_path / f"{chapter}.ipynb"),
        parameters=parameters,
        cwd=str(ROOT / "notebooks"),
        kernel_name="python3",
        progress_bar=False,
    )
    outputs = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "FAIL" in outputs and "NotImplementedError" in outputs and "Exercise:" in outputs, (
        "the self-check reports the unfinished stub"
    )
