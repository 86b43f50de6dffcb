"""Generate student notebooks: every cell tagged ``solution`` becomes a stub.

    python book/tools/make_student.py            # writes _build/student/*.ipynb

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
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]


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
    sys.path.insert(0, str(Path(__file__).parent))
    from build_slides import bibliography, slide_markdown

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


def main(argv=None) -> int:
    from make_colab import student_copy  # the same notebook as the student Colab copy, badge included

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
