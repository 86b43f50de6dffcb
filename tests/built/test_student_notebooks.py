"""Student notebooks are generated from the chapters and still run (the stubs' errors allowed)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def student_dir():
    subprocess.run([sys.executable, str(ROOT / "book" / "tools" / "make_student.py")], check=True)
    return ROOT / "_build" / "student"


@pytest.mark.parametrize("chapter", sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_only_solution_cells_change(student_dir, chapter):
    original = nbformat.read(ROOT / "notebooks" / chapter, as_version=4)
    student = nbformat.read(student_dir / chapter, as_version=4)
    assert len(original.cells) == len(student.cells)
    for before, after in zip(original.cells, student.cells):
        if "solution" in before.metadata.get("tags", []):
            assert "raise NotImplementedError" in after.source and "Exercise:" in after.source
        else:
            assert before.source == after.source


def test_student_notebooks_with_stubs_execute(student_dir, tmp_path):
    import papermill

    with_stubs = [p for p in sorted(student_dir.glob("*.ipynb")) if any("student-stub" in c.metadata.get("tags", []) for c in nbformat.read(p, as_version=4).cells)]
    assert with_stubs, "at least one chapter has an implement exercise with a solution cell"
    for path in with_stubs:  # chapters without stubs are identical to the chapters `make book` already ran
        executed = papermill.execute_notebook(str(path), str(tmp_path / path.name), cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False)
        outputs = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []))
        assert "FAIL" in outputs and "NotImplementedError" in outputs, "the self-check reports the unfinished stub"
