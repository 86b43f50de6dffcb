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
    errors = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, f"{chapter}: {errors[0]['ename']}: {errors[0]['evalue']}"
    html = (ROOT / "_build" / "html" / "notebooks" / f"{chapter}.html").read_text()
    assert "<img" in html, f"{chapter}: no figure rendered"
    assert "Traceback" not in html


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_slide_deck_exists_with_several_slides(chapter):
    deck = (ROOT / "_build" / "slides" / f"{chapter}.slides.html").read_text()
    assert len(re.findall(r"<section", deck)) >= 3
    assert "BOOK_VERSION" not in deck, "the set-up cell is skipped in the slides"


def test_timings_recorded():
    timings = json.loads((ROOT / "_build" / "timings.json").read_text())
    assert set(CHAPTERS) <= set(timings)
