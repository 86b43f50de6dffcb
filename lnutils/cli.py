"""The one command-line contract of the four experiments.

Every experiment takes the same options, checked before any work starts (a bad value is
an argparse error, exit status 2)::

    --profile PROFILE         which configuration (required for `run`): quick (minutes) or paper (a GPU);
                              conv, rnn and transformer also have cpu (the saved CPU evidence, one core);
                              mnist, rnn and transformer have budget (the saved run's budget check)
    --device DEVICE           cpu, cuda, cuda:N or mps (default: the GPU when there is one)
    --epochs N                override the profile's epochs (N >= 1)
    --seeds S [S ...]         override the profile's seeds (distinct, >= 0)
    --time-budget SECONDS     stop after the epoch that passes this many seconds (resume later)
    --results-dir DIR         write result files here (default: see lnutils.runs.results_dir)
    --checkpoint-dir DIR      write checkpoints here (default: see lnutils.runs.checkpoint_dir)
    --overwrite               replace a saved result of another configuration
"""

from __future__ import annotations

import argparse
import os

import torch

from lnutils import environment

PROFILES = ("quick", "paper", "budget")  # mnist's; budget: the paper run's budget check


MAX_SEED = 2**31 - 1  # numpy's and every generator's seeds fit; a larger one is a typo
MAX_COUNT = 10_000_000  # epochs, steps, images: more is a typo that would run until killed


def _whole_number(text: str, minimum: int, maximum: int = MAX_COUNT) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    if value > maximum:
        raise argparse.ArgumentTypeError(f"must be at most {maximum:,}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


def whole_number(text: str) -> int:
    return _whole_number(text, 0)


def epoch_count(text: str) -> int:
    return _whole_number(text, 1, 10_000)


def seed(text: str) -> int:
    return _whole_number(text, 0, MAX_SEED)


def folder(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; name a folder (it is created if missing)")
    return text


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value}")
    return value


def check_device(text: str) -> torch.device:
    """A device this machine has: 'cpu', 'cuda', 'cuda:N' or 'mps'."""
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError("no CUDA GPU is available here; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(
            f"there is no {device}: this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise argparse.ArgumentTypeError("Apple MPS is not available here; use --device cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"unsupported device {text!r}; use cpu, cuda, cuda:N or mps")
    return device


def add_common_arguments(parser: argparse.ArgumentParser, profile: bool = True, epochs: bool = True) -> None:
    if profile:
        parser.add_argument(
            "--profile",
            choices=PROFILES,
            default=None,
            help="quick (minutes), paper (the full experiment) or budget (its budget check); required for run",
        )
    parser.add_argument(
        "--device",
        type=check_device,
        default=None,
        help="cpu, cuda, cuda:N or mps (default: the GPU when there is one)",
    )
    if epochs:
        parser.add_argument("--epochs", type=epoch_count, default=None, help="override the profile's epochs")
    parser.add_argument("--seeds", type=seed, nargs="+", default=None, help="override the profile's seeds (distinct)")
    parser.add_argument(
        "--time-budget", type=positive_float, default=None, help="stop after the epoch that passes this many seconds"
    )
    parser.add_argument("--results-dir", type=folder, default=None, help="write result files here")
    parser.add_argument("--checkpoint-dir", type=folder, default=None, help="write checkpoints here")
    parser.add_argument("--overwrite", action="store_true", help="replace a saved result of another configuration")


def check_writable(parser: argparse.ArgumentParser, what: str, path) -> None:
    """A folder the run will write to exists (or is created) and takes a file: checked before any
    training, so that a typo costs seconds, not the hours of a first epoch or part."""
    if os.path.exists(path) and not os.path.isdir(path):
        parser.error(f"cannot write the {what} to {path}: it is a file, not a folder; choose a folder")
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".lnutils-write-test-{os.getpid()}")
        with open(probe, "wb"):
            pass
        os.remove(probe)
    except OSError as error:
        parser.error(f"cannot write the {what} to {path}: {error.strerror or error}; choose another folder")


def resolve_common(parser: argparse.ArgumentParser, args: argparse.Namespace) -> torch.device:
    """Check what argparse cannot check alone; set the folders; return the device."""
    if args.seeds is not None and len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must be distinct (repeated seeds make the seed spread zero), got {args.seeds}")
    if getattr(args, "command", None) == "run" and hasattr(args, "profile") and args.profile is None:
        choices = next(a.choices for a in parser._actions if a.dest == "profile")
        parser.error(f"run needs --profile, one of {', '.join(choices)} (quick takes minutes; the others, hours)")
    if args.results_dir:
        os.environ["LNUTILS_RESULTS"] = str(args.results_dir)
    if args.checkpoint_dir:
        os.environ["LNUTILS_CHECKPOINTS"] = str(args.checkpoint_dir)
    return args.device or environment.pick_device()
