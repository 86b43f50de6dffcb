"""Browser libraries for the book and the slides, fetched once with `npm pack` and served locally.

The rendered book and the slide decks must work offline (a seminar room without internet, a
reader with a file:// copy), so the JavaScript they need is copied next to them instead of
being loaded from a CDN.  The tarballs are cached in _build/cache/.  Without npm the callers
fall back to the CDN and say so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "_build" / "cache"


def npm_tarball(package: str, version: str) -> Path | None:
    """The npm tarball of package@version, from the cache or `npm pack`; None without npm."""
    tarball = CACHE / f"{package.replace('/', '-').lstrip('@')}-{version}.tgz"
    if tarball.exists():
        return tarball
    if shutil.which("npm") is None:
        print(
            f"npm not found: {package} will load from its CDN (install Node.js/npm for offline pages)", file=sys.stderr
        )
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--pack-destination", str(CACHE)], capture_output=True, text=True
    )
    if result.returncode != 0 or not tarball.exists():
        print(
            f"`npm pack {package}@{version}` failed; it will load from its CDN.\n{result.stderr[-1000:]}",
            file=sys.stderr,
        )
        return None
    return tarball


def install(package: str, version: str, target: Path, subfolder: str = "", skip: tuple[str, ...] = ()) -> bool:
    """Extract ``subfolder`` of package@version's tarball into ``target`` (replacing it, unless
    the same extraction is already there).  Paths starting with one of ``skip`` (relative to the
    subfolder) are left out.  Returns False when the package could not be fetched."""
    stamp = target / ".npm-package"  # what is extracted there, so a rebuild does not extract it again
    wanted = f"{package}@{version} {subfolder} {sorted(skip)}"
    if stamp.exists() and stamp.read_text() == wanted:
        return True
    tarball = npm_tarball(package, version)
    if tarball is None:
        return False
    prefix = "package/" + (subfolder.strip("/") + "/" if subfolder else "")
    if target.exists():
        shutil.rmtree(target)
    with tarfile.open(tarball) as archive:
        members = []
        for member in archive.getmembers():
            if not member.name.startswith(prefix):
                continue
            member.name = member.name[len(prefix) :]
            if member.name and not member.name.startswith(skip):
                members.append(member)
        archive.extractall(target, members=members, filter="data")
    stamp.write_text(wanted)
    return True
