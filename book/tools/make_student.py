"""Generate student notebooks: every cell tagged ``solution`` becomes a stub.

    python book/tools/make_student.py            # writes _build/student/*.ipynb

A solution cell starts with a ``# Hint: ...`` comment.  Its stub keeps that comment
and each top-level function's signature, and the body raises NotImplementedError with
the hint, so the notebook still runs top to bottom (the self-check after the stub
reports the failure instead of crashing).  Every other cell is copied unchanged.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]


def stub_for(source: str) -> str:
    lines = source.splitlines()
    hint = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("# Hint:")), "see the exercise above")
    out = [line for line in lines if line.startswith("#")]
    out.append("# Your solution: replace the NotImplementedError below.")
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            header_end = node.body[0].lineno - 1  # the signature may span several lines
            out += lines[node.lineno - 1 : header_end]
            out.append(f"    raise NotImplementedError({('Exercise: ' + hint)!r})")
    return "\n".join(out)


def student_notebook(path: Path) -> tuple[nbformat.NotebookNode, int]:
    notebook = nbformat.read(path, as_version=4)
    stubs = 0
    for cell in notebook.cells:
        if cell.cell_type == "code" and "solution" in cell.metadata.get("tags", []):
            cell.source = stub_for(cell.source)
            cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t not in ("solution", "hide-input")] + ["student-stub"]
            stubs += 1
    return notebook, stubs


def main(argv=None) -> int:
    out_dir = ROOT / "_build" / "student"
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        notebook, stubs = student_notebook(path)
        nbformat.write(notebook, out_dir / path.name)
        print(f"{path.name}: {stubs} solution cell(s) replaced by stubs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
