"""How long work reports itself: one progress bar, and one way to say what is happening.

The experiments, the trainer and the result writers report through here (``tests/test_layout.py``
keeps ``print`` out of them): a note is written through tqdm, so it never breaks a bar that is
drawing, and the book's build can turn the bars off in one place.
"""

from __future__ import annotations

import os
import sys

try:  # tqdm is optional
    from tqdm import tqdm
except ImportError:  # pragma: no cover - tqdm is in requirements.txt
    tqdm = None

__all__ = ["progress_enabled", "progress_bar", "say"]


def progress_enabled(requested: bool = True) -> bool:
    """Progress bars in an interactive session; off in CI and when ``LNUTILS_PROGRESS=0``
    (the book's build sets it for the notebooks it executes)."""
    if not requested or os.environ.get("LNUTILS_PROGRESS", "1") == "0":
        return False
    return os.environ.get("CI", "").lower() not in ("1", "true", "yes")


def progress_bar(iterable, enabled: bool = True, **kwargs):
    """A tqdm bar when tqdm is installed and :func:`progress_enabled`; else the iterable itself."""
    if not progress_enabled(enabled) or tqdm is None:
        return iterable
    return tqdm(iterable, file=sys.stdout, mininterval=30, **kwargs)


def say(message: str) -> None:
    """One line on what long work is doing (a part starting, a time budget spent), written above any
    progress bar that is drawing.  Always shown: it says what a reader must do (run again to resume)."""
    if tqdm is not None:
        tqdm.write(message, file=sys.stdout)
    else:
        print(message)
    sys.stdout.flush()
