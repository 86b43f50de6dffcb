"""Render every executed chapter as a reveal.js slide deck: _build/slides/<chapter>.slides.html.

Cells carry ``slideshow.slide_type`` metadata: a heading starts a slide, and a sub-slide
starts with each exercise and each paragraph that follows a code cell, the set-up and parameters cells
are skipped, and the Colab badge and the
solution code cells are left out.  For presenting (:func:`for_presenting`) the title has a slide of
its own, every heading starts a slide (the Summary is the takeaway slide), code is hidden and only
its output shown (a cell tagged ``slide-code`` keeps its code), equations are numbered as in the
book, and commit hashes are cut to 10 characters.  Each slide fits 960×700 without scrolling: it
keeps one idea (the heading, the first paragraph, equations, lists, one figure or table, long tables
cut), and the rest of the prose goes to the speaker notes (`s` in the browser).  Present a deck by opening it in a
browser (arrow keys move, `s` opens the speaker notes).

The decks work offline: reveal.js, MathJax 2, require.js, jQuery and Font Awesome (what
nbconvert's reveal template loads) are copied into _build/slides/lib/ with `npm pack`,
and the decks point there instead of at the CDNs.  Without npm they use the CDNs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
from npm_assets import install  # noqa: E402  (book/tools/npm_assets.py)

# (npm package, version, subfolder of the package, paths left out, nbconvert option, URL relative to the deck)
LIBRARIES = [
    (
        "reveal.js",
        "4.0.2",
        "",
        ("examples", "test", "js", "css", "gulpfile"),
        "SlidesExporter.reveal_url_prefix",
        "lib/reveal.js",
    ),
    (
        "mathjax",
        "2.7.7",
        "",
        (
            "unpacked",
            "test",
            "localization",
            "fonts/HTML-CSS/STIX-Web",
            "fonts/HTML-CSS/Asana-Math",
            "fonts/HTML-CSS/Gyre",
            "fonts/HTML-CSS/Latin-Modern",
            "fonts/HTML-CSS/Neo-Euler",
        ),
        "SlidesExporter.mathjax_url",
        "lib/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
    ),
    ("requirejs", "2.3.6", "", ("bin",), "SlidesExporter.require_js_url", "lib/requirejs/require.js"),
    ("jquery", "3.5.1", "dist", (), "SlidesExporter.jquery_url", "lib/jquery/jquery.min.js"),
    (
        "font-awesome",
        "4.7.0",
        "",
        ("less", "scss"),
        "SlidesExporter.font_awesome_url",
        "lib/font-awesome/css/font-awesome.css",
    ),
]


def install_libraries(out_dir: Path) -> list[str]:
    """Copy the libraries into <out_dir>/lib/ and return the nbconvert options that use them."""
    options = []
    for package, version, subfolder, skip, option, url in LIBRARIES:
        if install(package, version, out_dir / "lib" / url.split("/")[1], subfolder, skip):
            options.append(f"--{option}={url}")
    return options


def without_mermaid(html: str) -> str:
    """Drop the template's Mermaid loader: the chapters have no Mermaid diagrams, and nbconvert
    always imports it from a CDN (its URL is not configurable), which fails offline."""
    return re.sub(r"<script type=\"module\">\s*import mermaid from [^<]*</script>\n?", "", html)


def bibliography(path: Path = ROOT / "book" / "references.bib") -> dict[str, tuple[str, str]]:
    """Citation key -> (authors as cited, year), e.g. 'ba2016layer' -> ('Ba et al.', '2016').
    Read with pybtex, the parser the book's bibliography (sphinxcontrib-bibtex) already uses."""
    from pybtex.database import parse_file

    entries = {}
    for key, entry in parse_file(str(path)).entries.items():
        surnames = [" ".join(person.last_names) for person in entry.persons["author"]]
        cited = (
            surnames[0]
            if len(surnames) == 1
            else " & ".join(surnames)
            if len(surnames) == 2
            else f"{surnames[0]} et al."
        )
        entries[key] = (cited, entry.fields["year"])
    return entries


def slide_markdown(text: str, references: dict[str, tuple[str, str]], solutions: str = "drop") -> str:
    """MyST that only Jupyter Book understands, rewritten as plain Markdown for nbconvert,
    Jupyter and Colab: citations as 'Ba et al. (2016)', labelled equations tagged with their
    label, exercises as quoted blocks.  ``solutions="drop"`` leaves the written solutions out
    (slides and student notebooks: students find them in the book); ``"details"`` folds each
    into a ``<details>`` block that Jupyter and Colab open on a click (the Colab copies)."""
    if solutions not in ("drop", "details"):
        raise ValueError(f"solutions must be 'drop' or 'details', got {solutions!r}")

    def cite(match, textual):
        keys = [key.strip() for key in match.group(1).split(",")]
        if textual:
            return "; ".join(f"{references[key][0]} ({references[key][1]})" for key in keys)
        return "(" + "; ".join(f"{references[key][0]} {references[key][1]}" for key in keys) + ")"

    text = re.sub(r"\{cite:t\}`([^`]*)`", lambda m: cite(m, True), text)
    text = re.sub(r"\{cite:p\}`([^`]*)`", lambda m: cite(m, False), text)
    text = re.sub(r"\{eq\}`([^`]*)`", r"(\1)", text)
    text = re.sub(r"\{doc\}`([^`<]*?)\s*(<[^`]*>)?`", lambda m: m.group(1) or "the chapter", text)
    text = re.sub(
        r"\$\$\n(.*?)\n\$\$ \(([\w-]+)\)", lambda m: f"$$\n{m.group(1)} \\tag{{{m.group(2)}}}\n$$", text, flags=re.S
    )
    if solutions == "drop":
        text = re.sub(r"\n?````\{solution\}.*?\n````\n?", "\n", text, flags=re.S)
    else:

        def folded(match):
            body = "\n".join(line for line in match.group(1).splitlines() if not re.match(r":\w+:", line)).strip()
            return f"<details>\n<summary>Solution</summary>\n\n{body}\n\n</details>"

        text = re.sub(r"````\{solution\}[^\n]*\n(.*?)\n````", folded, text, flags=re.S)

    def exercise(match):
        body = "\n".join(line for line in match.group(2).splitlines() if not re.match(r":\w+:", line)).strip()
        return f"> **Exercise. {match.group(1).strip()}**\n>\n" + "\n".join(
            f"> {line}".rstrip() for line in body.splitlines()
        )

    return re.sub(r"```\{exercise\}([^\n]*)\n(.*?)\n```", exercise, text, flags=re.S)


FULL_HASH = re.compile(r"\b([0-9a-f]{10})[0-9a-f]{30}\b")


def numbered_equations(text: str, numbers: dict[str, int]) -> str:
    """Labelled equations tagged and cited by number, (1), (2), ..., in the order they first appear in
    the chapter, as the book numbers them, instead of by label name."""
    for label in re.findall(r"\$\$ \(([\w-]+)\)", text):
        numbers.setdefault(label, len(numbers) + 1)
    text = re.sub(
        r"\$\$\n(.*?)\n\$\$ \(([\w-]+)\)",
        lambda m: f"$$\n{m.group(1)} \\tag{{{numbers[m.group(2)]}}}\n$$",
        text,
        flags=re.S,
    )
    return re.sub(r"\{eq\}`([\w-]+)`", lambda m: f"({numbers.get(m.group(1), m.group(1))})", text)


def split_at_headings(cell) -> list:
    """A Markdown cell cut before each heading after its first line, so that every heading starts a
    slide of its own (a chapter's Conclusion, Summary and Exercises are separate slides), and a title
    cell (``# ...``) cut after its heading: the title slide holds the title alone."""
    import nbformat

    text = cell.source
    pieces = re.split(r"\n(?=#{1,2} )", text)
    if pieces[0].startswith("# ") and "\n" in pieces[0].strip():
        title, rest = pieces[0].split("\n", 1)
        pieces = [title, rest.strip()] + pieces[1:]
    cells = []
    for index, piece in enumerate(p for p in pieces if p.strip()):
        new = nbformat.v4.new_markdown_cell(piece.strip())
        kind = cell.metadata.get("slideshow", {}).get("slide_type", "-") if index == 0 else "subslide"
        if piece.startswith("#"):
            kind = "slide"
        new.metadata = {**cell.metadata, "slideshow": {"slide_type": kind}}
        cells.append(new)
    return cells


SLIDE_TABLE_ROWS = 11  # a longer table is cut into slides of this many lines of rows, its header repeated on each


def blocks_of(text: str) -> list[str]:
    """Markdown cut at blank lines, with a heading split from the text under it."""
    blocks = []
    for block in re.split(r"\n\s*\n", text.strip()):
        if block.startswith("#") and "\n" in block:
            heading, rest = block.split("\n", 1)
            blocks += [heading, *blocks_of(rest)]
        elif not block.startswith("|") and "\n|" in block:  # a table right under its lead-in line
            lead, table = block.split("\n|", 1)
            blocks += [lead, "|" + table]
        else:
            blocks.append(block)
    return [block for block in blocks if block.strip()]


def is_prose(block: str) -> bool:
    """A paragraph of text: not a heading, display equation, list, quote, table or HTML block."""
    return not re.match(r"(#|\$\$|[-*] |\d+\. |>|\||<|```)", block.lstrip())


SLIDE_PARAGRAPH_WORDS = 45  # a longer paragraph keeps its first sentences on the slide, all of it in the notes


def shortened(paragraph: str, words: int = SLIDE_PARAGRAPH_WORDS) -> tuple[str, str | None]:
    """A paragraph for a slide: itself when short, else its first sentences up to about two thirds of
    ``words`` (at least one), with the whole paragraph returned for the speaker notes."""
    if len(paragraph.split()) <= words:
        return paragraph, None
    sentences = re.split(r"(?<=[.!?])(?<!\bal\.)(?<!\be\.g\.)(?<!\bi\.e\.)\s+(?=[A-Z(*])", paragraph)
    kept = [sentences[0]]
    for sentence in sentences[1:]:
        if len(" ".join(kept + [sentence]).split()) > 2 * words // 3:
            break
        kept.append(sentence)
    return " ".join(kept), paragraph


def slide_and_notes(text: str) -> tuple[list[str], list[str]]:
    """A Markdown cell's pieces for one slide each, and its speaker notes.  A slide keeps what carries the
    idea: the heading, the first paragraph, every display equation with the paragraph that leads into it,
    lists and tables; the other paragraphs become the speaker notes, in full.  Each exercise (a quoted
    block) starts a slide of its own."""
    blocks = blocks_of(text)
    slides, notes, current, has_prose = [], [], [], False
    for index, block in enumerate(blocks):
        following = blocks[index + 1] if index + 1 < len(blocks) else ""
        if block.startswith("> **Exercise") and any(not b.startswith("#") for b in current):
            slides.append(current)
            current, has_prose = [], False
        if is_prose(block) and has_prose and not following.startswith("$$"):
            notes.append(block)
            continue
        if is_prose(block):
            block, whole = shortened(block)
            if whole is not None:
                notes.append(whole)
        if block.startswith("|"):  # a long table: the first rows here, the rest on slides of their own
            first, *rest = output_pieces(block)[0]
            current.append(first)
            for piece in rest:
                slides.append(current)
                current = [piece]
            continue
        current.append(block)
        has_prose = has_prose or is_prose(block) or block.startswith("> **Exercise")  # its text is the slide
    slides.append(current)
    return ["\n\n".join(piece) for piece in slides if piece], notes


def table_rows(lines: list[str], start: int) -> int:
    """The index after the last row of the pipe table whose header is ``lines[start]``."""
    end = start + 2
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return end


TABLE_LINE_CHARACTERS = 90  # characters on one line of a slide's table, shared by its columns


def cells_of(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def column_shares(rows: list[str]) -> list[int]:
    """Characters per line of each column: the line's width shared in proportion to each column's longest
    cell (as a browser lays out a table), at least 8 each."""
    longest = [0] * max(len(cells_of(row)) for row in rows)
    for row in rows:
        for column, cell in enumerate(cells_of(row)):
            longest[column] = max(longest[column], len(cell), 1)
    total = sum(longest)
    return [max(8, TABLE_LINE_CHARACTERS * length // total) for length in longest]


def row_lines(row: str, shares: list[int] | None = None) -> int:
    """The lines a table row takes on a slide: its cells wrapped in their columns' ``shares`` of the width
    (:func:`column_shares`; by default an equal share each), the tallest cell deciding."""
    cells = cells_of(row)
    shares = shares or [max(8, TABLE_LINE_CHARACTERS // max(1, len(cells)))] * len(cells)
    return max(1, *(-(-len(cell) // share) for cell, share in zip(cells, shares)))


def row_chunks(body: list[str], rows: int, header: str | None = None) -> list[list[str]]:
    """Table rows in chunks of at most ``rows`` lines, a long row counting as several (it wraps in its
    columns' shares of the width, measured with the ``header``)."""
    shares = column_shares(([header] if header else []) + body) if body else None
    chunks: list[list[str]] = [[]]
    weight = 0
    for row in body:
        height = row_lines(row, shares)
        if chunks[-1] and weight + height > rows:
            chunks.append([])
            weight = 0
        chunks[-1].append(row)
        weight += height
    return chunks


def output_pieces(text: str, rows: int = SLIDE_TABLE_ROWS) -> tuple[list[str], list[str]]:
    """A Markdown output for slides: each table on a slide of its own, cut into pieces of ``rows`` rows
    with the header repeated; the (shortened) text before the first table stays with it, and the text
    after a table goes to the speaker notes."""
    lines = text.split("\n")
    starts = [
        i
        for i in range(len(lines) - 1)
        if lines[i].startswith("|") and re.match(r"\|(\s*:?-+:?\s*\|)+\s*$", lines[i + 1])
    ]
    if not starts:
        return (code_pieces(text) if "```" in text else list_pieces(text)), []
    pieces, notes = [], []
    lead = "\n".join(lines[: starts[0]]).strip()
    if lead:
        lead, whole = shortened(lead)
        notes += [whole] if whole else []
    for number, start in enumerate(starts):
        end = table_rows(lines, start)
        header, body = lines[start : start + 2], lines[start + 2 : end]
        for chunk in row_chunks(body, rows, header[0]):
            pieces.append("\n".join(header + chunk))
        after = "\n".join(lines[end : starts[number + 1] if number + 1 < len(starts) else len(lines)]).strip()
        if after:
            notes.append(after)
    if lead:
        pieces[0] = lead + "\n\n" + pieces[0]
    return pieces, notes


SLIDE_CODE_LINES = 14  # a code listing longer than this goes on over several slides (the book shows it whole)


def code_pieces(text: str, lines: int = SLIDE_CODE_LINES) -> list[str]:
    """A Markdown output made of code listings (``report.cells.listing``: a caption line, then a fenced
    block) for slides: each listing on slides of its own, cut into pieces of at most ``lines`` lines,
    each piece fenced again under its caption with "(part i of n)"."""
    pieces = []
    for caption, code in re.findall(r"(?:^|\n)([^\n]*)\n*```python\n(.*?)\n```", text, flags=re.S):
        rows = code.split("\n")
        chunks = [rows[i : i + lines] for i in range(0, len(rows), lines)]
        for number, chunk in enumerate(chunks, 1):
            part = f" (part {number} of {len(chunks)})" if len(chunks) > 1 else ""
            title = caption.rstrip(":") + part + ":" if caption else ""
            pieces.append(f"{title}\n\n```python\n" + "\n".join(chunk) + "\n```")
    return pieces or [text]


SLIDE_LIST_WORDS = 110  # a longer list (a Summary's verdict sentences) is cut into slides of about this many words


def list_pieces(text: str, words: int = SLIDE_LIST_WORDS) -> list[str]:
    """A Markdown output for slides: itself, or, when it is a list of more than ``words`` words, its items
    in pieces of about ``words`` words (at least one item each; the text before the list stays with the
    first)."""
    if len(text.split()) <= words:
        return [text]
    blocks = re.split(r"\n(?=- )", text.strip())
    pieces: list[list[str]] = [[]]
    for block in blocks:
        if pieces[-1] and len(" ".join(pieces[-1] + [block]).split()) > words:
            pieces.append([])
        pieces[-1].append(block)
    return ["\n".join(piece) for piece in pieces]


def is_long(markdown: str) -> bool:
    """Markdown output that fills a slide by itself (a piece of a long list)."""
    return len(markdown.split()) > SLIDE_LIST_WORDS // 2


SLIDE_OUTPUT_LINES = 12  # printed output beyond this many lines is cut on the slide (the book has it all)


def is_large(output) -> bool:
    """A figure, a table or printed output of several lines: one per slide."""
    if output.get("output_type") == "stream":
        return len("".join(output["text"]).strip().split("\n")) > SLIDE_OUTPUT_LINES // 2
    data = output.get("data", {})
    markdown = data.get("text/markdown", "")
    markdown = "".join(markdown)
    return (
        any(kind.startswith("image/") for kind in data)
        or re.search(r"(^|\n)\|", markdown) is not None
        or "```" in markdown
        or is_long(markdown)
    )


def cut_stream(output, lines: int = SLIDE_OUTPUT_LINES):
    """A printed output of at most ``lines`` lines, saying how many were cut."""
    text = output["text"] if isinstance(output["text"], str) else "".join(output["text"])
    kept = text.rstrip("\n").split("\n")
    if len(kept) <= lines + 2:
        return output
    import nbformat

    cut = "\n".join(kept[:lines] + [f"… {len(kept) - lines} more lines (in the book)"]) + "\n"
    return nbformat.from_dict({**output, "text": cut})


SLIDE_WORDS = 130  # a table or list that would bring a slide past this many words starts a slide of its own


def output_words(output) -> int:
    text = output.get("text") or output.get("data", {}).get("text/markdown", "")
    return len((text if isinstance(text, str) else "".join(text)).split())


def output_slides(outputs: list) -> list[tuple[list, list[str]]]:
    """A code cell's outputs as (outputs, speaker notes) per slide: at most one figure or table on a
    slide (:func:`output_pieces` cuts Markdown with tables), printed output cut to
    :data:`SLIDE_OUTPUT_LINES` lines; small outputs stay on the slide of what follows them."""
    import nbformat

    slides: list[tuple[list, list[str]]] = [([], [])]
    for output in outputs:
        pieces, notes = [output], []
        if output.get("output_type") == "stream":
            pieces = [cut_stream(output)]
        elif "text/markdown" in output.get("data", {}):
            value = output["data"]["text/markdown"]
            texts, notes = output_pieces(value if isinstance(value, str) else "".join(value))
            pieces = [
                nbformat.from_dict({**output, "data": {**output["data"], "text/markdown": text}}) for text in texts
            ]
        for piece in pieces:
            current, _ = slides[-1]
            crowded = is_large(piece) and sum(map(output_words, current)) + output_words(piece) > SLIDE_WORDS
            if any(is_large(shown) for shown in current) or (current and crowded):
                slides.append(([], []))
            slides[-1][0].append(piece)
        slides[-1][1].extend(notes)
    return [slide for slide in slides if slide[0] or slide[1]]


def notes_cell(notes: list[str]):
    import nbformat

    cell = nbformat.v4.new_markdown_cell("\n\n".join(notes))
    cell.metadata = {"slideshow": {"slide_type": "notes"}}
    return cell


def for_presenting(notebook, references: dict) -> None:
    """What a deck shows, from an executed chapter: plain Markdown (:func:`slide_markdown`) with
    numbered equations, one heading per slide, the prose beyond each slide's first paragraph in the
    speaker notes (:func:`slide_and_notes`), one figure or table per slide (a long table cut into
    several), no code unless a cell is tagged ``slide-code`` (the outputs stay: a figure with its
    reading, a table with its sentence), no cell that shows nothing, and commit hashes cut to 10
    characters."""
    import copy

    import nbformat

    numbers: dict[str, int] = {}
    cells = []
    slide_has_output, slide_words = False, 0
    for cell in with_answers_first(notebook.cells):
        if cell.cell_type == "markdown":
            cell.source = slide_markdown(numbered_equations(cell.source, numbers), references)
            for piece in split_at_headings(cell):
                texts, notes = slide_and_notes(piece.source)
                for index, text in enumerate(texts):
                    new = nbformat.v4.new_markdown_cell(text)
                    kind = piece.metadata["slideshow"]["slide_type"] if index == 0 else "subslide"
                    new.metadata = {**piece.metadata, "slideshow": {"slide_type": kind}}
                    cells.append(new)
                    if kind in ("slide", "subslide"):
                        slide_has_output, slide_words = False, 0
                    slide_words += len(text.split())
                    # an exercise or a table fills its slide: what follows goes on the next
                    slide_has_output = (
                        slide_has_output or "> **Exercise" in text or text.startswith("|") or "\n|" in text
                    )
                if notes:
                    cells.append(notes_cell(notes))
            continue
        tags = cell.metadata.setdefault("tags", [])
        if cell.cell_type == "code" and "slide-code" not in tags:
            tags.append("remove-input" if cell.get("outputs") else "remove-cell")
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = FULL_HASH.sub(r"\1", output["text"])
            for kind, value in output.get("data", {}).items():
                if kind.startswith("text/"):
                    output["data"][kind] = FULL_HASH.sub(r"\1", value if isinstance(value, str) else "".join(value))
        if not cell.get("outputs"):  # nothing shown (removed), or code alone (slide-code)
            cells.append(cell)
            continue
        for index, (outputs, notes) in enumerate(output_slides(cell.get("outputs", []))):
            shown = copy.deepcopy(cell)
            shown.outputs = outputs
            if index > 0 and "id" in shown:
                shown["id"] = f"{cell['id']}-{index}"  # one cell on several slides: cell ids stay unique
            words = sum(map(output_words, outputs))
            crowded = slide_words + words > SLIDE_WORDS and any(is_large(output) for output in outputs)
            if slide_has_output or index > 0 or crowded:
                shown.metadata["slideshow"] = {"slide_type": "subslide"}
                slide_words = 0
            cells.append(shown)
            slide_has_output, slide_words = bool(outputs), slide_words + words
            if notes:
                cells.append(notes_cell(notes))
    notebook.cells = with_notes_everywhere(without_near_empty_slides(cells))


def with_answers_first(cells: list) -> list:
    """The chapter's cells with its answers (the Summary's cell tagged ``answers``) copied right after the
    title, under "The answers": the first slide after the title says what the chapter found.  The rest
    of the title's cell (what the chapter shows) follows them on a slide of its own."""
    import copy

    import nbformat

    answers = [cell for cell in cells if "answers" in cell.get("metadata", {}).get("tags", [])]
    if not answers or not answers[0].get("outputs"):
        return list(cells)
    heading = nbformat.v4.new_markdown_cell(
        "## The answers\n\nFrom the saved runs, each with its 95 % interval; the evidence follows."
    )
    heading.metadata = {"slideshow": {"slide_type": "slide"}}
    shown = copy.deepcopy(answers[0])
    shown.metadata["slideshow"] = {"slide_type": "-"}
    if "id" in shown:
        shown["id"] = f"{shown['id']}-answers"  # a copy: cell ids stay unique
    title = copy.deepcopy(cells[0])
    title_line, _, rest = title.source.strip().partition("\n")
    title.source = title_line
    after = [heading, shown]
    if rest.strip():
        introduction = nbformat.v4.new_markdown_cell(rest.strip())
        introduction.metadata = {"slideshow": {"slide_type": "slide"}}
        after.append(introduction)
    return [title, *after, *cells[1:]]


def slide_type(cell) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def slide_groups(cells: list) -> list[list]:
    """Cells grouped by the slide they show on (a "slide" or "subslide" cell starts one)."""
    groups: list[list] = [[]]
    for cell in cells:
        if slide_type(cell) in ("slide", "subslide") and groups[-1]:
            groups.append([])
        groups[-1].append(cell)
    return groups


def shown_words(cell) -> int:
    """Words a cell shows on its slide (notes and removed cells show none)."""
    if slide_type(cell) in ("notes", "skip") or "remove-cell" in cell.get("metadata", {}).get("tags", []):
        return 0
    if cell.cell_type == "markdown":
        return len(cell.source.split())
    words = 0
    for output in cell.get("outputs", []):
        text = output.get("text") or output.get("data", {}).get("text/markdown", "")
        words += len((text if isinstance(text, str) else "".join(text)).split())
    return words


def shows_large(cell) -> bool:
    """A figure, table, code listing or a long printed output on the slide."""
    if cell.cell_type == "markdown":
        return "\n|" in "\n" + cell.source or "```" in cell.source
    return any(is_large(output) for output in cell.get("outputs", []))


NEAR_EMPTY_WORDS = 15  # a slide showing fewer words, and nothing large, joins the slide before it
MERGED_WORDS = 110  # ... when the two together stay this short


def without_near_empty_slides(cells: list) -> list:
    """A sub-slide that would show almost nothing (one short sentence) continues the slide before it,
    when that slide shows nothing large and the two together stay short."""
    groups = slide_groups(cells)
    for before, group in zip(groups, groups[1:]):
        words = sum(shown_words(cell) for cell in group)
        if slide_type(group[0]) != "subslide" or words >= NEAR_EMPTY_WORDS or any(shows_large(c) for c in group):
            continue
        if any(c.cell_type == "markdown" and "> **Exercise" in c.source for c in group):
            continue  # an exercise has its slide
        if any(shows_large(c) for c in before) or sum(shown_words(c) for c in before) + words > MERGED_WORDS:
            continue
        group[0].metadata["slideshow"] = {"slide_type": "-"}
    return cells


def section_of(cells: list, index: int) -> str:
    """The title of the book section (## heading) the cell at ``index`` belongs to."""
    for cell in reversed(cells[: index + 1]):
        if cell.cell_type == "markdown" and (found := re.match(r"#{1,2} (.+)", cell.source.lstrip())):
            return found.group(1).strip()
    return ""


def default_notes(group: list, section: str) -> str:
    """Speaker notes for a slide that has none: what its figure shows (the caption and its description),
    where its whole table is, how to run an exercise, and the book section it comes from."""
    notes = []
    for cell in group:
        figure = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
        if figure.get("caption"):
            alt = cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt", "")
            notes.append(f"The figure: {figure['caption']} {alt}".strip())
        elif cell.cell_type == "markdown" and "> **Exercise" in cell.source:
            notes.append(
                "Give the class a few minutes to write an answer before going on; the solution is folded "
                "under the exercise in the book."
            )
        elif shows_large(cell) and cell.cell_type == "code":
            notes.append("The whole table, with the sentences that read it, is in the book.")
    where = f"In the book: “{section}”." if section else ""
    return " ".join(notes + [where]).strip()


def with_notes_everywhere(cells: list) -> list:
    """Every slide that shows something gets speaker notes: its own where the chapter's prose gave some,
    else :func:`default_notes`."""
    out, index = [], 0
    for group in slide_groups(cells):
        out.extend(group)
        index += len(group)
        has_notes = any(slide_type(cell) == "notes" for cell in group)
        if not has_notes and sum(shown_words(cell) for cell in group) + sum(shows_large(c) for c in group) > 0:
            if text := default_notes(group, section_of(cells, index - 1)):
                out.append(notes_cell([text]))
                out[-1].metadata["default_notes"] = True
    return out


def slide_sources(executed: list[Path], staging: Path) -> list[Path]:
    """Copies of the executed notebooks made ready for presenting (:func:`for_presenting`)."""
    import nbformat

    references = bibliography()
    staging.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        for_presenting(notebook, references)
        nbformat.write(notebook, staging / path.name)
        copies.append(staging / path.name)
    return copies


# Sized for a 960×700 slide, which reveal.js scales by 1.1 to fill a 1280×800 screen (700 px and a 4 %
# margin in 800): text of 19 px (prose) and 18.5 px (tables, printed output, code) projects at 20 px or
# more; a figure takes the slide's width up to 410 px of height, with room for its one-line reading,
# and up to 590 px on a slide of its own.
SLIDE_STYLE = """<style>
.reveal .slides section .jp-RenderedHTMLCommon { font-size: 19px; }
.reveal .jp-OutputArea-output img, .reveal .jp-OutputArea-output svg {
  width: 100% !important; height: auto !important; max-height: 410px !important; object-fit: contain;
}
.reveal .slides section:not(:has(> section, > .jp-MarkdownCell, > .jp-CodeCell .jp-RenderedMarkdown))
  .jp-OutputArea-output img {
  max-height: 590px !important;
}
.reveal .jp-RenderedHTMLCommon table, .reveal table {
  font-size: 18.5px !important; table-layout: auto !important;
}
.reveal td .mjx-full-width { width: auto !important; }
.reveal td .MathJax, .reveal th .MathJax { font-size: 112% !important; }
.reveal .jp-RenderedText pre, .reveal .jp-OutputArea-output pre, .reveal pre, .reveal pre code {
  font-size: 18.5px; white-space: pre-wrap; overflow-wrap: anywhere;
}
</style>
"""


# → and ← (and the space bar) visit every slide in order, the vertical sub-slides included: reveal.js's
# default sends → to the next *section*, which skipped most of a chapter's slides.
# nbconvert loads reveal.js through require.js, which sets no global Reveal: ask require.js for it.
LINEAR_NAVIGATION = """<script>
window.addEventListener("load", function () {
  require(["lib/reveal.js/dist/reveal.js"], function (Reveal) {
    var linear = function () { Reveal.configure({ navigationMode: "linear" }); };
    if (Reveal.isReady()) { linear(); } else { Reveal.addEventListener("ready", linear); }
  });
});
</script>
"""


def with_slide_style(html: str) -> str:
    """The deck with :data:`SLIDE_STYLE` added to its head and :data:`LINEAR_NAVIGATION` to its body."""
    return html.replace("</head>", SLIDE_STYLE + "</head>", 1).replace("</body>", LINEAR_NAVIGATION + "</body>", 1)


def with_favicon(html: str) -> str:
    """The book's icon, so that the browser does not ask the server for a missing /favicon.ico."""
    return html.replace("</title>", '</title><link rel="icon" href="lib/favicon.svg" type="image/svg+xml"/>', 1)


def main() -> int:
    executed = sorted((ROOT / "_build" / "src" / "notebooks").glob("*.ipynb"))
    if not executed:
        print("no executed notebooks in _build/src/notebooks; run `make book` first", file=sys.stderr)
        return 1
    out_dir = ROOT / "_build" / "slides"
    out_dir.mkdir(parents=True, exist_ok=True)
    options = install_libraries(out_dir)
    (out_dir / "lib").mkdir(exist_ok=True)
    shutil.copy(ROOT / "book" / "_ext" / "favicon.svg", out_dir / "lib" / "favicon.svg")
    # Cells the book removes (the Colab badge) and the solutions are left out of the decks:
    # a teacher presents the exercises, and the students find the solutions in the book.
    # nbconvert's default theme ("simple") loads Google Fonts; white's fonts ship with reveal.js.
    # A slide taller than the screen scrolls instead of being cut off.
    # No "In [n]:" prompts: slides are for presenting, not a record of a session.
    style = ["--SlidesExporter.reveal_theme=white", "--SlidesExporter.reveal_scroll=True", "--no-prompt"]
    remove = [
        "--TagRemovePreprocessor.enabled=True",
        "--TagRemovePreprocessor.remove_cell_tags=remove-cell",
        "--TagRemovePreprocessor.remove_cell_tags=solution",
        "--TagRemovePreprocessor.remove_input_tags=remove-input",
    ]
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "nbconvert",
        "--to",
        "slides",
        "--output-dir",
        str(out_dir),
        *style,
        *remove,
        *options,
        *map(str, slide_sources(executed, ROOT / "_build" / "slides_src")),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        return result.returncode
    for path in executed:
        deck = out_dir / (path.stem + ".slides.html")
        deck.write_text(with_slide_style(with_favicon(without_mermaid(deck.read_text()))))
        print(f"slides: {deck}")
    where = (
        "local, in " + str(out_dir / "lib") if len(options) == len(LIBRARIES) else "some from their CDNs (see above)"
    )
    print(f"libraries: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
