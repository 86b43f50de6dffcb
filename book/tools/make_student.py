"""Generate student notebooks: every cell tagged ``solution`` becomes a stub.

    python book/tools/make_student.py            # writes _build/student/*.ipynb

The same student notebook, with a Colab badge and a first cell on how to use it, is what
book/tools/make_colab.py commits as notebooks/colab/student/ (:func:`student_copy`).

Markdown cells are turned into plain Markdown that Jupyter and Colab render (citations
as text, labelled equations tagged, exercises as quotes) and the written solutions are
left out, with the same rewriting as the slides (book/tools/build_slides.py).

A solution cell starts with a ``# Hint: ...`` comment.  Its stub keeps the comments,
the imports, each top-level function's signature and each class with its methods'
signatures, and every body raises NotImplementedError with the hint, so the notebook
still runs top to bottom (the self-check after the stub reports the failure instead
of crashing).  Every other code cell is copied unchanged.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
from book_urls import BADGE, badge_cell, for_notebook_readers  # noqa: E402  (book/tools/book_urls.py)
from build_slides import bibliography, slide_markdown  # noqa: E402  (book/tools/build_slides.py)


def stub_for(source: str) -> str:
    lines = source.splitlines()
    hint = "see the exercise above"
    for index, line in enumerate(lines):
        if line.startswith("# Hint:"):  # the hint may go on over the next comment lines
            parts = [line.split(":", 1)[1].strip()]
            for following in lines[index + 1 :]:
                if not following.startswith("# "):
                    break
                parts.append(following[2:].strip())
            hint = " ".join(parts)
            break
    out = [line for line in lines if line.startswith("#")]
    out.append("# Your solution: replace the NotImplementedError below.")
    raise_line = f"raise NotImplementedError({('Exercise: ' + hint)!r})"

    def signature(node) -> list[str]:  # the def or class line(s), up to the first statement of the body
        body_start = node.body[0].lineno - 1
        if isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            body_start = node.body[0].end_lineno  # keep a docstring
        return lines[node.lineno - 1 : body_start]

    for node in ast.parse(source).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):  # the stub needs the same names
            out += lines[node.lineno - 1 : node.end_lineno]
        elif isinstance(node, ast.FunctionDef):
            out += ["", ""] + signature(node) + ["    " + raise_line]
        elif isinstance(node, ast.ClassDef):  # keep the class and its methods' signatures
            out += ["", ""] + signature(node)
            methods = [child for child in node.body if isinstance(child, ast.FunctionDef)]
            for method in methods:
                out += signature(method) + ["        " + raise_line]
            if not methods:
                out.append("    pass")
    return "\n".join(out)


def student_notebook(path: Path) -> tuple[nbformat.NotebookNode, int]:
    references = bibliography()
    notebook = nbformat.read(path, as_version=4)
    stubs = 0
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = slide_markdown(cell.source, references)
        if cell.cell_type == "code" and "solution" in cell.metadata.get("tags", []):
            cell.source = stub_for(cell.source)
            cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t not in ("solution", "hide-input")] + [
                "student-stub"
            ]
            stubs += 1
    return notebook, stubs


HOW_TO_USE = """**How to use this notebook.** It is the chapter with the exercises left for you.

1. **Save a copy first** (Colab: *File → Save a copy in Drive*; Jupyter: *File → Save Notebook As*),
   so that your work is yours and survives the session.
2. **Choose a runtime.** A CPU is enough: the `profile = "quick"` runs take a few minutes.
   A GPU (Colab: *Runtime → Change runtime type*) makes `profile = "paper"` practical.
3. **Run the cells from the top** (*Runtime → Run all*): the first code cell installs `lnutils`.
   Every chapter runs as it is, your exercises included.
4. **The exercises are at the end.** Each one you write is a code cell that raises
   `NotImplementedError("Exercise: …")` with a hint: replace the `raise` line with your code.
   The cell after it (`check.…`) checks your code and says which case fails and why.
5. **"Predict, then run"** exercises: write your prediction in a text cell *before* you run the
   code cell under them, then compare."""


def student_copy(path: Path) -> str:
    """The student copy of one chapter, as the JSON text written to notebooks/colab/student/: the
    chapter with its solutions left out, and a first cell that says how to use it."""
    student, _ = student_notebook(path)
    notebook = json.loads(json.dumps(student))  # plain dicts, in the chapter's own JSON layout
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if BADGE in text:
            text = badge_cell(path.name, student=True)
            badge_at = index
        cell["source"] = for_notebook_readers(text, student=True).splitlines(keepends=True)
    how_to_use = {"cell_type": "markdown", "metadata": {}, "source": HOW_TO_USE.splitlines(keepends=True)}
    if "id" in notebook["cells"][0]:
        how_to_use["id"] = "how-to-use"
    notebook["cells"].insert(badge_at + 1, how_to_use)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and isinstance(cell["source"], str):
            cell["source"] = cell["source"].splitlines(keepends=True)
    notebook["metadata"]["lnutils"] = {
        "generated_from": f"notebooks/{path.name}",
        "note": "generated by book/tools/make_colab.py: the student notebook, solutions left out",
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def main(argv=None) -> int:
    out_dir = ROOT / "_build" / "student"
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text = student_copy(path)
        (out_dir / path.name).write_text(text)
        stubs = text.count('"student-stub"')
        print(f"{path.name}: {stubs} solution cell(s) replaced by stubs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
