"""What every notebook prints first: versions and the device it will run on."""

from __future__ import annotations

import contextlib
import platform
import re
import subprocess
from pathlib import Path

import numpy as np
import torch

import lnutils


def pick_device() -> torch.device:
    """The GPU when one is available (CUDA, then Apple MPS), else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads, {platform.processor() or platform.machine()})"
    return str(device)


def recorded_cpu_threads(device: str | None) -> int | None:
    """The CPU thread count a result's provenance records ("cpu (1 threads, x86_64)"); None for a GPU
    run or a record without one."""
    found = re.match(r"cpu \((\d+) threads", device or "")
    return int(found.group(1)) if found else None


@contextlib.contextmanager
def cpu_threads(count: int | None):
    """Run the block with ``count`` torch CPU threads (None: as they are), then restore them.  A live
    check that retrains a saved run uses the run's own count: another count sums in another order, and
    training amplifies that rounding (a row-by-row LN-LSTM's first epoch: 7.32 % on 2 threads, 6.04 % on
    the saved run's 1, saved 6.29 %)."""
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def checkout_root() -> Path | None:
    """The book's checkout when lnutils is imported from one (an editable install or
    ``PYTHONPATH``), else None (an installed wheel, as in Colab)."""
    root = Path(__file__).resolve().parent.parent
    if (root / ".git").exists() and (root / "book" / "_toc.yml").exists():
        return root
    return None


def git_commit() -> str | None:
    """The commit of the book's checkout, when lnutils runs from one (else None: an
    installed lnutils must not report the commit of a repository around site-packages)."""
    root = checkout_root()
    if root is None:
        return None
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    if out.returncode != 0 or not commit:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=5
    )
    return commit + ("-dirty" if dirty.stdout.strip() else "")


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "lnutils": lnutils.__version__,
    }


def describe(notebook_version: str | None = None) -> torch.device:
    """Print versions and the device; warn if the notebook and lnutils come from different releases.

    Returns the device the notebook should use.
    """
    device = pick_device()
    info = versions()
    print(" | ".join(f"{name} {version}" for name, version in info.items()) + f" | device: {device_name(device)}")
    if notebook_version is not None and notebook_version != lnutils.__version__:
        print(
            f"WARNING: this notebook is from release {notebook_version} of the book but the installed "
            f"lnutils is {lnutils.__version__}; results may differ. Reinstall lnutils from the "
            "same release as the notebook."
        )
    return device
