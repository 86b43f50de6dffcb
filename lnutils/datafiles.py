"""Data files found, read and downloaded safely: what every dataset of the book shares.

Where a dataset's files are looked for, in order (:func:`search_steps`):

1. ``root`` (the folder that holds the files), when given;
2. ``$LNUTILS_DATA/<name>/``;
3. the user cache ``~/.cache/lnutils/<name>/`` (``$XDG_CACHE_HOME`` is honoured);
4. ``/usr/share/datasets/<name>/`` (Debian's ``dataset-fashion-mnist`` installs there).

A download (:func:`download_file`) writes a temporary file beside its target, checks it and only then
renames it, so a failed download leaves no partial file behind; a killed process's temporary files are
removed by the next run (:func:`remove_orphaned_temporaries`).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

__all__ = [
    "DataError",
    "read_bytes",
    "search_steps",
    "search_dirs",
    "find_file",
    "cache_dir",
    "temporary_prefix",
    "remove_orphaned_temporaries",
    "download_file",
]


class DataError(RuntimeError):
    """A data file is missing, corrupt, truncated or not what it claims to be."""


def read_bytes(path: Path) -> bytes:
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


def cache_dir(name: str) -> Path:
    """lnutils' own download cache for dataset ``name``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lnutils" / name


def search_steps(name: str, root: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """(step, folder) pairs the loader looks in for dataset ``name``, in order."""
    steps: list[tuple[str, Path]] = []
    if root is not None:
        steps.append(("root argument", Path(root)))
    if os.environ.get("LNUTILS_DATA"):
        steps.append(("$LNUTILS_DATA", Path(os.environ["LNUTILS_DATA"]) / name))
    steps.append(("user cache", cache_dir(name)))
    steps.append(("/usr/share/datasets", Path("/usr/share/datasets") / name))
    return steps


def search_dirs(name: str, root: str | os.PathLike | None = None) -> list[Path]:
    """The folders the loader looks in for dataset ``name``, in order."""
    return [folder for _, folder in search_steps(name, root)]


def find_file(directory: Path, filename: str) -> Path | None:
    """The file (or its .gz) in ``directory``; None if absent or the folder cannot be read."""
    for candidate in (directory / filename, directory / (filename + ".gz")):
        try:
            if candidate.is_file():
                return candidate
        except OSError:  # an unreadable folder: look in the next one
            return None
    return None


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


def download_file(url: str, destination: Path, canonical_md5: str, progress: bool, timeout: float) -> None:
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
            content = read_bytes(temp_path)
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
