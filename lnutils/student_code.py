"""Calling a student's code safely: a time limit that no ``except:`` can swallow, and errors that say
what went wrong (an exception, a wrong kind of return value, an input changed in place, a lost dtype).
The self-checks of :mod:`lnutils.check` call every student function through :func:`call`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

import numpy as np
import torch

SECONDS_PER_CALL = 5  # a student function still running after this is reported as a failure; a correct
# one takes milliseconds on these inputs, and after one time-out the check stops (the rest would loop too)


class StudentCodeError(Exception):
    """Your code raised, returned the wrong kind of value, or ran too long; the message says which."""


class StudentCodeTimeout(StudentCodeError):
    """Your code was still running after :data:`SECONDS_PER_CALL`; the check stops there."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise TimeoutError in the main thread after ``seconds`` (POSIX); elsewhere no limit."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds:g} s (an endless loop?)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def finishes(function, args, seconds: float) -> bool:
    """Does ``function(*args)`` finish (return or raise) within ``seconds``?  Tried in a forked copy of
    this process, which is killed (SIGKILL, which no ``except:`` can catch) if it is still running, so
    that an endless loop cannot hang the check.  True where fork is unavailable (then only the alarm
    of :func:`time_limit` guards)."""
    if not hasattr(os, "fork") or threading.current_thread() is not threading.main_thread():
        return True
    sys.stdout.flush(), sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the copy: run it, say nothing, leave without running any clean-up of the parent's
        try:
            die_with_parent()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1), os.dup2(devnull, 2)
            torch.set_num_threads(1)
            function(*args)
        except BaseException:  # noqa: BLE001 - raising is finishing
            pass
        finally:
            os._exit(0)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                pid = None
                return True
            time.sleep(0.005)
        return False
    finally:  # out of time, or the student pressed stop (Ctrl-C, Jupyter's interrupt): the copy goes too
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


def die_with_parent() -> None:
    """Linux: the forked copy is killed when the process that forked it dies (a kernel shut down hard
    must not leave a copy spinning).  Elsewhere nothing: the parent's clean-up kills it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def call(what: str, function, *args):
    """``function(*args)``, with any exception or time-out turned into a StudentCodeError."""
    started = time.monotonic()
    if not finishes(function, args, SECONDS_PER_CALL):
        raise StudentCodeTimeout(
            f"{what} is still running after {SECONDS_PER_CALL:g} s (an endless loop?); the check stops here"
        )
    try:
        with time_limit(SECONDS_PER_CALL):
            return function(*args)
    except BaseException as error:  # noqa: BLE001 - any error in student code is a failed case
        if isinstance(error, KeyboardInterrupt) and time.monotonic() - started < SECONDS_PER_CALL:
            raise  # the student pressed stop
        if isinstance(error, TimeoutError) or time.monotonic() - started >= SECONDS_PER_CALL:
            raise StudentCodeTimeout(
                f"{what} is still running after {SECONDS_PER_CALL:g} s (an endless loop?); the check stops here"
            ) from None
        raise StudentCodeError(f"{what} raised {type(error).__name__}: {error}") from None


def gradients(output: torch.Tensor, leaves: list, upstream: torch.Tensor):
    """∂(output · upstream)/∂leaf for each leaf (None for a leaf your code does not use)."""
    return torch.autograd.grad(output, leaves, upstream, allow_unused=True)


def as_tensor(value, expected: torch.Tensor) -> torch.Tensor:
    """Your return value, if it is a tensor; else a StudentCodeError that says what it was."""
    if isinstance(value, np.ndarray):
        raise StudentCodeError(
            "returned a NumPy array; return a torch.Tensor (stay with torch operations, so autograd can follow)"
        )
    if isinstance(value, (list, tuple)):
        raise StudentCodeError(f"returned a {type(value).__name__}; return one tensor of shape {tuple(expected.shape)}")
    if not isinstance(value, torch.Tensor):
        raise StudentCodeError(
            f"returned {type(value).__name__}, expected a tensor of shape {tuple(expected.shape)} (a missing `return`?)"
        )
    if value.layout != torch.strided:
        raise StudentCodeError(f"returned a {value.layout} tensor; return an ordinary dense one (.to_dense())")
    if value.device != expected.device:
        raise StudentCodeError(
            f"returned a tensor on {value.device}, but the inputs are on {expected.device}: make new tensors on "
            "the input's device (torch.zeros(..., device=x.device) or torch.zeros_like(x))"
        )
    if value.is_complex():
        raise StudentCodeError(f"returned complex numbers ({value.dtype}); every step here stays real")
    return value


def unchanged(originals: list, given: list) -> str | None:
    """None if the student's function left its inputs as they were; else which one it changed in place."""
    for index, (original, passed) in enumerate(zip(originals, given)):
        if original is not None and not torch.equal(original, passed.detach()):
            label = ("input", "weight", "bias", "alpha")[index] if index < 4 else f"argument {index}"
            return (
                f"your function changed its {label} in place (x -= ..., x.sub_(...), x[...] = ...); "
                "compute a new tensor instead: the caller's data must stay as it was"
            )
    return None


def dtype_hint(got: torch.Tensor, expected: torch.Tensor) -> str:
    if got.dtype == expected.dtype:
        return ""
    if not got.is_floating_point():
        return (
            f" Your result is {got.dtype}, an integer type: an integer division (//), a .long() or a tensor made "
            "from integers (torch.tensor(0)) dropped the fractions."
        )
    return (
        f" Your result is {got.dtype}, the inputs are {expected.dtype}: a tensor made without dtype= "
        "(torch.zeros(n), torch.tensor(0.)) or a .float() lowers the precision."
    )
