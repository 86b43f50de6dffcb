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

import hashlib
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lnutils.datafiles import (  # noqa: F401  (DataError and search_dirs: part of this module's interface)
    DataError,
    cache_dir,
    download_file,
    find_file,
    read_bytes,
    search_dirs,
    search_steps,
)

__all__ = [
    "DataError",
    "Dataset",
    "FileRecord",
    "Provenance",
    "load_mnist",
    "load_fashion_mnist",
    "load_dataset",
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


def _download_from_mirrors(spec, filename, mirrors, cache, canonical_md5, progress, timeout, dirs) -> Path:
    """The verified file in the cache, from the first mirror that serves it; else a DataError listing each try."""
    destination = cache / (filename + ".gz")
    failures = []
    for mirror in mirrors:
        try:
            download_file(mirror + filename + ".gz", destination, canonical_md5, progress, timeout)
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
        content = read_bytes(path)
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
    found = next(
        ((step, p) for step, p in ((step, find_file(d, filename)) for step, d in steps) if p is not None), None
    )
    source, path = found if found is not None else ("", None)
    if path is not None and source == "user cache" and download:
        # the cache is lnutils' own: a file there that cannot be read (truncated, corrupt) is fetched again
        try:
            parse_idx(read_bytes(path), str(path), expected_ndim=3 if key.endswith("images") else 1)
        except DataError as error:
            warnings.warn(f"{path} in the download cache is corrupt ({error}); fetching it again.", stacklevel=4)
            path.unlink()
            path = None
    if path is None and download:
        path = _download_from_mirrors(spec, filename, mirrors, cache_dir(name), canonical_md5, progress, timeout, dirs)
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
