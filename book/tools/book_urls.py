"""Where the book is published, and the Markdown of a copy made for a reader outside the book.

A fork sets ``repository.url`` in ``_config.yml`` once; every URL here follows from it
(book/tools/make_colab.py rewrites the chapters, their copies and the book's pages with it).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def repository() -> str:
    """The repository URL of _config.yml (https://github.com/OWNER/NAME)."""
    match = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", (ROOT / "_config.yml").read_text(), re.M)
    return match.group(1).rstrip("/")


def published_book() -> str:
    """Where the GitHub Pages workflow (.github/workflows/book.yml) publishes the book."""
    owner, name = repository().removeprefix("https://github.com/").split("/")[:2]
    return f"https://{owner}.github.io/{name}"


BOOK_SENTENCE = re.compile(
    r"The solution cell below is folded in the book; in the student notebooks \(`make student`\) it is a stub\s+"
    r"for you to fill in\."
)


def for_notebook_readers(text: str, student: bool) -> str:
    """Markdown that reads right outside the book: links into the book go to the published book,
    and the sentences about the book's build say what a Colab reader or a student has."""
    book = published_book()
    text = re.sub(r"\]\(\.\./book/([\w-]+)\.md\)", lambda m: f"]({book}/book/{m.group(1)}.html)", text)
    text = re.sub(r"this(\s+)build's(\s+)time is on the", r"the book's\1build\2time is on its", text)
    solution = (
        "The code cell below is a stub for you to fill in." if student else "The solution is the code cell below."
    )
    return BOOK_SENTENCE.sub(solution, text)


def badge_cell(name: str, student: bool) -> str:
    folder = "notebooks/colab/student" if student else "notebooks/colab"
    colab = repository().replace("https://github.com/", "https://colab.research.google.com/github/")
    return f"[![Open In Colab]({BADGE})]({colab}/blob/main/{folder}/{name})"


def with_book_urls(text: str) -> str:
    """A chapter's JSON or a page's Markdown with the URLs of _config.yml's repository: the set-up cell's
    ``REPOSITORY`` and ``BOOK_URL`` (where the workflow publishes the book and the lnutils wheel the cell
    installs) and every Colab link.  A fork sets ``repository.url`` once and runs ``make colab``."""
    repo, book = repository(), published_book()
    colab = repo.replace("https://github.com/", "https://colab.research.google.com/github/")
    text = re.sub(r'(REPOSITORY = \\?")https://github\.com/[^"\\]+', lambda m: m.group(1) + repo, text)
    text = re.sub(r'(BOOK_URL = \\?")https://[^"\\]+', lambda m: m.group(1) + book, text)
    text = re.sub(r"https://[\w-]+\.github\.io/[\w.-]+", book, text)  # links to the published book
    return re.sub(r"https://colab\.research\.google\.com/github/[^/\s]+/[^/\s]+/blob/", colab + "/blob/", text)
