"""Checks on what `make book` and `make slides` produced (run by `make test` after the build)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_executed_without_errors_and_rendered(chapter):
    executed = json.loads((ROOT / "_build" / "src" / "notebooks" / f"{chapter}.ipynb").read_text())
    errors = [
        o
        for c in executed["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
        if o["output_type"] == "error"
    ]
    assert not errors, f"{chapter}: {errors[0]['ename']}: {errors[0]['evalue']}"
    html = (ROOT / "_build" / "html" / "notebooks" / f"{chapter}.html").read_text()
    assert "<img" in html, f"{chapter}: no figure rendered"
    assert "Traceback" not in html


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_slide_deck_exists_with_several_slides(chapter):
    deck = (ROOT / "_build" / "slides" / f"{chapter}.slides.html").read_text()
    assert len(re.findall(r"<section", deck)) >= 3
    assert "BOOK_VERSION" not in deck, "the set-up cell is skipped in the slides"
    assert not re.search(r'class="jp-(Input|Output)Prompt', deck), "no notebook prompts on the slides"
    assert "{solution}" not in deck and "{cite:" not in deck
    slides = re.sub(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+", "", deck[deck.index('<div class="reveal">') :])
    assert "jp-CodeMirrorEditor" not in slides, "no code on the slides (a cell tagged slide-code would show it)"
    assert '<aside class="notes">' in slides, "the prose beyond each slide's first paragraph is in the speaker notes"
    assert not re.search(r"\b[0-9a-f]{40}\b", slides), "commit hashes are cut to 10 characters on the slides"
    assert not re.search(r"\\tag\{[a-z]", slides), "equations are tagged by number, not by label"


def test_timings_recorded():
    timings = json.loads((ROOT / "_build" / "timings.json").read_text())
    assert set(CHAPTERS) <= set(timings)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_figure_cells_have_exactly_one_output(chapter):
    """A cell with figure metadata (caption, alt) must output one image only, or Sphinx sees duplicate targets."""
    executed = json.loads((ROOT / "_build" / "src" / "notebooks" / f"{chapter}.ipynb").read_text())
    for cell in executed["cells"]:
        if cell["cell_type"] == "code" and "figure" in cell.get("metadata", {}).get("mystnb", {}):
            shown = [o for o in cell.get("outputs", []) if o["output_type"] in ("display_data", "execute_result")]
            assert len(shown) == 1 and "image/png" in shown[0]["data"], (
                f"{chapter}: figure cell {cell['source'][:60]!r} has {len(shown)} outputs"
            )


def test_no_raw_markdown_tables_in_any_page():
    """Tables that cells display are rendered as tables: a paragraph starting with '|' is a
    pipe table that was left as text (myst-nb's CommonMark default has no tables)."""
    pages = sorted((ROOT / "_build" / "html").rglob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text(errors="replace")
        raw = re.findall(r"<p>\s*\|[^<]{0,80}", html)
        assert not raw, f"{page.relative_to(ROOT)}: raw pipe table {raw[0]!r}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_progress_bars_or_warnings_in_the_chapters(chapter):
    """Executed pages show results: no tqdm bars, no stderr warnings in cell outputs."""
    executed = json.loads((ROOT / "_build" / "src" / "notebooks" / f"{chapter}.ipynb").read_text())
    for cell in executed["cells"]:
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", ""))
            assert "it/s]" not in text and "s/it]" not in text, f"{chapter}: a progress bar in {cell['source'][:60]!r}"
            assert not (output.get("name") == "stderr" and "Warning" in text), (
                f"{chapter}: a warning in {cell['source'][:60]!r}: {text[:200]}"
            )


def test_no_machine_path_in_any_built_file():
    """What the build publishes names files, never where this machine keeps them (papermill's
    input_path, a repr of a data record)."""
    machine = [str(ROOT), str(ROOT.parent / "shared")]  # the checkout, and the data beside it
    offenders = [
        str(path.relative_to(ROOT))
        for folder in (ROOT / "_build" / "html", ROOT / "_build" / "slides")
        if folder.exists()
        for path in folder.rglob("*")
        if path.is_file()
        and path.suffix in (".html", ".ipynb", ".txt", ".json", ".js", ".md")
        and any(place in path.read_text(errors="ignore") for place in machine)
    ]
    assert not offenders, f"{len(offenders)} built files name {machine}: {offenders[:5]}"
