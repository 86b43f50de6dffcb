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
sys.path.insert(0, str(Path(__file__).parent))
from npm_assets import install  # noqa: E402  (book/tools/npm_assets.py)

MATHJAX_VERSION = "3.2.2"


def install_mathjax(static_dir: Path) -> bool:
    """Put MathJax (npm package mathjax@3.2.2, its es5 build) under <static_dir>/mathjax/ so the
    book typesets math offline.  Returns False (the CDN is then used) when npm is missing.

    ``static_dir`` is an html_extra_path folder, not _static: Jupyter Book adds a <script> tag
    for every .js file in _static, and MathJax has dozens."""
    target = static_dir / "mathjax"
    return install("mathjax", MATHJAX_VERSION, target, subfolder="es5") and (target / "tex-mml-chtml.js").exists()


def markdown_outputs(notebook, tag: str) -> list[str]:
    """The markdown outputs of a notebook's code cells tagged ``tag``."""
    return [
        "".join(output["data"]["text/markdown"])
        for cell in notebook.cells
        if cell.cell_type == "code" and tag in cell.metadata.get("tags", [])
        for output in cell.get("outputs", [])
        if output.get("output_type") in ("display_data", "execute_result") and "text/markdown" in output.get("data", {})
    ]


def fill_glance(page: Path, executed_dir: Path) -> None:
    """Replace the GLANCE marker with every chapter's key answers (cells tagged ``answers``), then the
    markdown outputs of every cell tagged ``headline``."""
    import nbformat

    answers, sections = [], []
    for path in sorted(executed_dir.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        title = next(
            (
                line[2:].strip()
                for c in notebook.cells
                if c.cell_type == "markdown"
                for line in c.source.splitlines()
                if line.startswith("# ")
            ),
            path.stem,
        )
        link = f"{{doc}}`{title} <../notebooks/{path.stem}>`"
        for found in markdown_outputs(notebook, "answers"):
            answers.append(f"**{link}**\n\n{found}")
        tables = markdown_outputs(notebook, "headline")
        profile = notebook.metadata.get("papermill", {}).get("parameters", {}).get("profile", "quick")
        evidence = (
            f"This build ran the chapter's **{profile}** profile; the tables here are its saved runs."
            if profile == "quick"
            else f"This build ran the chapter's **{profile}** profile."
        )
        if tables:
            source = f"From {{doc}}`../notebooks/{path.stem}`. {evidence}"
            sections.append(f"### {title}\n\n{source}\n\n" + "\n\n".join(tables))
    text = ""
    if answers:
        text += "## The answers\n\n" + "\n\n".join(answers) + "\n\n"
    if sections:
        text += "## The evidence, chapter by chapter\n\n" + "\n\n".join(sections)
    page.write_text(page.read_text().replace("<!-- GLANCE -->", text or "No chapter has been executed in this build."))


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
        lines += [
            "## How long each notebook took",
            "",
            "| notebook | profile | seconds | finished |",
            "|---|---|---|---|",
        ]
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
    fill_glance(source / "book" / "glance.md", executed)
    if not install_mathjax(source / "_extra"):
        config = (source / "_config.yml").read_text().replace("    mathjax_path: ../mathjax/tex-mml-chtml.js\n", "")
        (source / "_config.yml").write_text(config)
    command = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build",
        str(source),
        "--path-output",
        str(ROOT),
        "--toc",
        str(source / "book" / "_toc.yml"),
        "--config",
        str(source / "_config.yml"),
    ]
    if strict:
        command += ["-W", "--keep-going"]
    status = subprocess.call(command)
    if status == 0:
        dedupe_inline_scripts(ROOT / "_build" / "html")
    return status


def dedupe_inline_scripts(html_dir: Path) -> None:
    """Remove repeated identical inline <script> lines from every page.

    sphinx-thebe and sphinx-togglebutton (loaded by Jupyter Book 1.x) each emit their inline
    configuration twice, so every page declares `const THEBE_JS_URL` twice and the browser
    logs "Identifier 'THEBE_JS_URL' has already been declared".  The first copy is kept.
    """
    for page in html_dir.rglob("*.html"):
        seen, kept, changed = set(), [], False
        for line in page.read_text().splitlines(keepends=True):
            stripped = line.strip()
            if stripped.startswith("<script>") and stripped.endswith("</script>"):
                if stripped in seen:
                    changed = True
                    continue
                seen.add(stripped)
            kept.append(line)
        if changed:
            page.write_text("".join(kept))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
