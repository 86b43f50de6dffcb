"""Render every executed chapter as a reveal.js slide deck: _build/slides/<chapter>.slides.html.

Cells carry ``slideshow.slide_type`` metadata: a heading starts a slide, an exercise a
sub-slide, the set-up and parameters cells are skipped.  Present a deck by opening it
in a browser (reveal.js is loaded from its CDN by nbconvert's template).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    executed = sorted((ROOT / "_build" / "src" / "notebooks").glob("*.ipynb"))
    if not executed:
        print("no executed notebooks in _build/src/notebooks; run `make book` first", file=sys.stderr)
        return 1
    out_dir = ROOT / "_build" / "slides"
    command = [sys.executable, "-m", "nbconvert", "--to", "slides", "--output-dir", str(out_dir), *map(str, executed)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        return result.returncode
    for path in executed:
        print(f"slides: {out_dir / (path.stem + '.slides.html')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
