"""Self-checks for students: compare your own normalization function with PyTorch's.

    from lnutils import check
    check.layer_norm(my_layer_norm)      # my_layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5)
    check.batch_norm(my_batch_norm)      # F.batch_norm's signature, training mode, running stats updated in place
    check.group_norm(my_group_norm)      # my_group_norm(input, num_groups, weight=None, bias=None, eps=1e-5)
    check.rms_norm(my_rms_norm)          # my_rms_norm(input, normalized_shape, weight=None, eps=None)
    check.layer_norm_chw(my_fn)          # chapter 3: my_fn(input, weight=None, bias=None, eps=1e-5), LN over (C, H, W)
    check.mlp(make_my_model)             # chapter 2: the paper's 784-1000-1000-10 layer-norm network in torch.nn
    check.layer_norm_rnn_cell(MyCell)    # chapter 4: h_t = tanh(LN(W_hh h_{t-1} + W_ih x_t)), Ba et al. 2016 Eq. 4
    check.dynamic_tanh(my_dyt)           # chapter 5: my_dyt(input, alpha, weight=None, bias=None) = γ ⊙ tanh(αx) + β

Each runs its own list of cases (defined in this module) against ``torch.nn.functional``
(or, for the networks, the cell and DyT, against a reference built from ``torch.nn`` or the formula),
smallest first, in float64: the output and, if your function is differentiable, the
gradients of the input and the parameters.  It prints one line per case and, for the
first failure, the smallest input that shows it.  Works offline; returns a
:class:`CheckReport` whose ``passed`` is True when every case passed.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from lnutils.mlp import MLPStack

ATOL = RTOL = 1e-8  # float64; a correct implementation differs from PyTorch by ~1e-15
SECONDS_PER_CALL = 5  # a student function still running after this is reported as a failure; a correct
# one takes milliseconds on these inputs, and after one time-out the check stops (the rest would loop too)


class StudentCodeError(Exception):
    """Your code raised, returned the wrong kind of value, or ran too long; the message says which."""


class StudentCodeTimeout(StudentCodeError):
    """Your code was still running after :data:`SECONDS_PER_CALL`; the check stops there."""


@contextlib.contextmanager
def _time_limit(seconds: float):
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


def _finishes(function, args, seconds: float) -> bool:
    """Does ``function(*args)`` finish (return or raise) within ``seconds``?  Tried in a forked copy of
    this process, which is killed (SIGKILL, which no ``except:`` can catch) if it is still running, so
    that an endless loop cannot hang the check.  True where fork is unavailable (then only the alarm
    of :func:`_time_limit` guards)."""
    if not hasattr(os, "fork") or threading.current_thread() is not threading.main_thread():
        return True
    sys.stdout.flush(), sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the copy: run it, say nothing, leave without running any clean-up of the parent's
        try:
            _die_with_parent()
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


def _die_with_parent() -> None:
    """Linux: the forked copy is killed when the process that forked it dies (a kernel shut down hard
    must not leave a copy spinning).  Elsewhere nothing: the parent's clean-up kills it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _call(what: str, function, *args):
    """``function(*args)``, with any exception or time-out turned into a StudentCodeError."""
    started = time.monotonic()
    if not _finishes(function, args, SECONDS_PER_CALL):
        raise StudentCodeTimeout(
            f"{what} is still running after {SECONDS_PER_CALL:g} s (an endless loop?); the check stops here"
        )
    try:
        with _time_limit(SECONDS_PER_CALL):
            return function(*args)
    except BaseException as error:  # noqa: BLE001 - any error in student code is a failed case
        if isinstance(error, KeyboardInterrupt) and time.monotonic() - started < SECONDS_PER_CALL:
            raise  # the student pressed stop
        if isinstance(error, TimeoutError) or time.monotonic() - started >= SECONDS_PER_CALL:
            raise StudentCodeTimeout(
                f"{what} is still running after {SECONDS_PER_CALL:g} s (an endless loop?); the check stops here"
            ) from None
        raise StudentCodeError(f"{what} raised {type(error).__name__}: {error}") from None


def _gradients(output: torch.Tensor, leaves: list, upstream: torch.Tensor):
    """∂(output · upstream)/∂leaf for each leaf (None for a leaf your code does not use)."""
    return torch.autograd.grad(output, leaves, upstream, allow_unused=True)


def _as_tensor(value, expected: torch.Tensor) -> torch.Tensor:
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


def _unchanged(originals: list, given: list) -> str | None:
    """None if the student's function left its inputs as they were; else which one it changed in place."""
    for index, (original, passed) in enumerate(zip(originals, given)):
        if original is not None and not torch.equal(original, passed.detach()):
            label = ("input", "weight", "bias", "alpha")[index] if index < 4 else f"argument {index}"
            return (
                f"your function changed its {label} in place (x -= ..., x.sub_(...), x[...] = ...); "
                "compute a new tensor instead: the caller's data must stay as it was"
            )
    return None


def _dtype_hint(got: torch.Tensor, expected: torch.Tensor) -> str:
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


LABELS = ("input", "weight", "bias", "alpha")  # the tensors of every check, in the order they are passed


def labelled(tensors: list, *others: list) -> list[tuple]:
    """(label, tensor, matching tensors of ``others``...) for each tensor that is not None: the labels follow
    the positions, so a missing weight never shifts the name of the gradient after it."""
    return [(label, *row) for label, *row in zip(LABELS, tensors, *others) if row[0] is not None]


def _layer_statistics(x: torch.Tensor, dims: int, correction: int = 0):
    axes = tuple(range(x.dim() - dims, x.dim()))
    mean = x.mean(dim=axes, keepdim=True)
    variance = ((x - mean) ** 2).sum(dim=axes, keepdim=True) / (int(torch.tensor(x.shape[-dims:]).prod()) - correction)
    return mean, variance


def layer_norm_mistakes(dims: int, eps: float, center: bool = True) -> list[tuple[str, object]]:
    """The common mistakes of a layer norm over the last ``dims`` axes (``center=False``: RMSNorm), each as
    (what it is, the function it computes) for :func:`_compare` to recognise in a wrong output."""

    def affine(y, w, b):
        return y if w is None else y * w + (0 if b is None else b)

    def unbiased(x, w=None, b=None, *_):
        mean, variance = _layer_statistics(x, dims, correction=1)
        return affine((x - mean) / torch.sqrt(variance + eps), w, b)

    def eps_outside(x, w=None, b=None, *_):
        mean, variance = _layer_statistics(x, dims)
        if not center:
            mean, variance = 0, (x**2).mean(dim=tuple(range(x.dim() - dims, x.dim())), keepdim=True)
        return affine((x - mean) / (torch.sqrt(variance) + eps), w, b)

    def no_affine(x, *_):
        mean, variance = _layer_statistics(x, dims)
        if not center:
            mean, variance = 0, (x**2).mean(dim=tuple(range(x.dim() - dims, x.dim())), keepdim=True)
        return (x - mean) / torch.sqrt(variance + eps)

    def subtracts_the_mean(x, w=None, *_):
        mean, variance = _layer_statistics(x, dims)
        return affine((x - mean) / torch.sqrt(variance + eps), w, None)

    def over_the_batch(x, w=None, b=None, *_):
        mean = x.mean(dim=0, keepdim=True)
        variance = ((x - mean) ** 2).mean(dim=0, keepdim=True)
        return affine((x - mean) / torch.sqrt(variance + eps), w, b)

    found = [
        ("ε added outside the square root: σ + ε instead of √(σ² + ε)", eps_outside),
        ("the gain and bias (g, b) were not applied", no_affine),
    ]
    if center:
        found.insert(0, ("the unbiased variance (dividing by H − 1; the paper's σ² divides by H)", unbiased))
        found.append(
            ("statistics over the batch (axis 0), batch norm's, instead of over each case's units", over_the_batch)
        )
    else:
        found.append(
            ("the mean subtracted: RMSNorm divides by the root mean square and does not center", subtracts_the_mean)
        )
    return found


def _channel_shape(x: torch.Tensor) -> tuple[int, ...]:
    return (1, x.shape[1]) + (1,) * (x.dim() - 2)


def _channel_affine(y, w, b, x):
    return y if w is None else y * w.reshape(_channel_shape(x)) + (0 if b is None else b.reshape(_channel_shape(x)))


def batch_norm_mistakes(eps: float) -> list[tuple[str, object]]:
    """Common mistakes of batch norm in training mode (Ioffe & Szegedy 2015, Alg. 1) for :func:`_compare`."""

    def per_channel(x, correction=0):
        axes = (0,) + tuple(range(2, x.dim()))
        mean = x.mean(dim=axes, keepdim=True)
        count = x.numel() // x.shape[1]
        return mean, ((x - mean) ** 2).sum(dim=axes, keepdim=True) / (count - correction)

    def unbiased(x, w=None, b=None):
        mean, variance = per_channel(x, correction=1)
        return _channel_affine((x - mean) / torch.sqrt(variance + eps), w, b, x)

    def eps_outside(x, w=None, b=None):
        mean, variance = per_channel(x)
        return _channel_affine((x - mean) / (torch.sqrt(variance) + eps), w, b, x)

    def per_case(x, w=None, b=None):
        mean, variance = _layer_statistics(x, x.dim() - 1)
        return _channel_affine((x - mean) / torch.sqrt(variance + eps), w, b, x)

    return [
        (
            "normalized with the unbiased variance: the training output divides by the batch's own σ² (over m); "
            "only running_var uses the unbiased one",
            unbiased,
        ),
        ("ε added outside the square root: σ + ε instead of √(σ² + ε)", eps_outside),
        ("statistics over each case's features (layer norm's) instead of over the batch for each channel", per_case),
    ]


def group_norm_mistakes(groups: int, eps: float) -> list[tuple[str, object]]:
    """Common mistakes of group norm (Wu & He 2018) for :func:`_compare`."""

    def grouped(x, w, b, interleaved=False, correction=0):
        n, c = x.shape[:2]
        parts = x.reshape(n, c // groups, groups, -1).transpose(1, 2) if interleaved else x.reshape(n, groups, -1)
        flat = parts.reshape(n, groups, -1)
        mean = flat.mean(-1, keepdim=True)
        variance = ((flat - mean) ** 2).sum(-1, keepdim=True) / (flat.shape[-1] - correction)
        y = ((flat - mean) / torch.sqrt(variance + eps)).reshape(parts.shape)
        y = (y.transpose(1, 2) if interleaved else y).reshape(x.shape)
        return _channel_affine(y, w, b, x)

    return [
        (
            "channels grouped by c mod G (interleaved) instead of in consecutive blocks of C/G",
            lambda x, w=None, b=None: grouped(x, w, b, interleaved=True),
        ),
        ("the unbiased variance (dividing by n − 1)", lambda x, w=None, b=None: grouped(x, w, b, correction=1)),
    ]


def dynamic_tanh_mistakes() -> list[tuple[str, object]]:
    """Common mistakes of DyT (Zhu et al. 2025, Eq. 1) for :func:`_compare`."""

    def affine(y, w, b):
        return y if w is None else y * w + b

    return [
        (
            "α applied after the tanh: α·tanh(x) instead of tanh(α x)",
            lambda x, w, b, a: affine(a * torch.tanh(x), w, b),
        ),
        ("the gain and bias (γ, β) were not applied", lambda x, w, b, a: torch.tanh(a * x)),
    ]


def layer_norm_chw_mistakes(eps: float) -> list[tuple[str, object]]:
    """Common mistakes of LN over (C, H, W) for :func:`_compare`."""

    def over(x, w, b, axes):
        mean = x.mean(dim=axes, keepdim=True)
        variance = ((x - mean) ** 2).mean(dim=axes, keepdim=True)
        return _channel_affine((x - mean) / torch.sqrt(variance + eps), w, b, x)

    return [
        (
            "statistics over (H, W) for each channel: instance norm, not layer norm",
            lambda x, w=None, b=None: over(x, w, b, (2, 3)),
        ),
        (
            "statistics over the channels at each position (C only): the whole image is one layer",
            lambda x, w=None, b=None: over(x, w, b, (1,)),
        ),
    ]


@dataclass
class Case:
    description: str
    shape: tuple[int, ...]
    extra: dict = field(default_factory=dict)
    affine: bool = True

    @property
    def size(self) -> int:
        return int(torch.tensor(self.shape).prod())


@dataclass
class CheckReport:
    name: str
    results: list[tuple[Case, bool, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.results)

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        failed = sum(not ok for _, ok, _ in self.results)
        return f"CheckReport({self.name}: {len(self.results) - failed}/{len(self.results)} cases passed)"


def _printing_if_verbose(check):
    """``verbose=False`` silences a check's printout; the returned report is the same."""

    @functools.wraps(check)
    def wrapper(*args, verbose: bool = True, **kwargs):
        if verbose:
            return check(*args, **kwargs)
        with contextlib.redirect_stdout(io.StringIO()):
            return check(*args, **kwargs)

    return wrapper


def _inputs(case: Case, param_shape: tuple[int, ...], seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = (torch.randn(*case.shape, generator=generator, dtype=torch.float64) * 2 + 0.5).requires_grad_()
    if not case.affine:
        return x, None, None
    weight = (torch.rand(*param_shape, generator=generator, dtype=torch.float64) + 0.5).requires_grad_()
    bias = torch.randn(*param_shape, generator=generator, dtype=torch.float64).requires_grad_()
    return x, weight, bias


def _differs(label: str, got: torch.Tensor, expected: torch.Tensor, tolerance: float = 1e-7) -> str | None:
    """None when ``got`` matches ``expected`` (float64 tolerance), else what is wrong with it."""
    if got is None:
        return f"{label}: no gradient (is it used in the forward pass?)"
    if got.shape != expected.shape:
        return f"{label} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    if not torch.allclose(got.to(expected.dtype), expected, atol=tolerance, rtol=tolerance):
        worst = (got.to(expected.dtype) - expected).abs().max().item()
        return f"{label} differs (largest |difference| {worst:.2e})." + _dtype_hint(got, expected)
    return None


def _record(report: CheckReport, case: Case, ok: bool, message: str) -> None:
    """Add one case to the report and print its PASS/FAIL line."""
    report.results.append((case, ok, message))
    print(f"  {'PASS' if ok else 'FAIL'}  {case.description}" + ("" if ok else f": {message.splitlines()[0]}"))


def _report_case(report: CheckReport, description: str, message: str | None) -> None:
    _record(report, Case(description, ()), message is None, message or "matches")


def _finish(report: CheckReport, failure_heading: str = "first failing case") -> CheckReport:
    """Print the summary: all cases pass, or the first failing case in full."""
    failures = [(case, message) for case, ok, message in report.results if not ok]
    if not failures:
        print(f"all {len(report.results)} cases pass.")
    else:
        case, message = failures[0]
        print(f"\n{failure_heading}: {case.description}\n  {message}")
    return report


def _recognised(got: torch.Tensor, tensors: list, mistakes) -> str:
    """The first mistake (:func:`layer_norm_mistakes` and the others) whose output ``got`` matches, in words;
    "" if none."""
    plain = [t.detach() if t is not None else None for t in tensors]
    for description, wrong in mistakes or ():
        try:
            candidate = wrong(*plain)
        except Exception:  # a mistake that does not apply to these inputs
            continue
        if candidate.shape == got.shape and torch.allclose(got.detach().to(candidate.dtype), candidate, atol=1e-6):
            return f" It matches a common mistake: {description}."
    return ""


def _compare(yours, reference, tensors: list, mistakes=None) -> tuple[bool, str]:
    mine = [t.detach().clone().requires_grad_() if t is not None else None for t in tensors]
    theirs = [t.detach().clone().requires_grad_() if t is not None else None for t in tensors]
    expected = reference(*theirs)
    originals = [t.detach().clone() if t is not None else None for t in tensors]
    try:
        got = _as_tensor(_call("your function", yours, *mine), expected)
    except StudentCodeTimeout:
        raise
    except StudentCodeError as error:
        return False, str(error)
    if (changed := _unchanged(originals, mine)) is not None:
        return False, changed
    if got.shape != expected.shape:
        return False, f"returned shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    if not torch.allclose(got.detach().to(expected.dtype), expected, atol=ATOL, rtol=RTOL):
        worst = (got.detach().to(expected.dtype) - expected).abs().max().item()
        return (
            False,
            f"output differs (largest |difference| {worst:.2e}).{_recognised(got, tensors, mistakes)}"
            f"{_dtype_hint(got, expected)}"
            f"\n      input:    {tensors[0].detach().flatten()[:8].tolist()}"
            f"\n      expected: {expected.detach().flatten()[:8].tolist()}"
            f"\n      got:      {got.detach().flatten()[:8].tolist()}",
        )
    if expected.requires_grad and not got.requires_grad:
        return (
            False,
            "the output is right but carries no gradient: it left PyTorch's graph (a NumPy round trip, .detach(), "
            ".item() or torch.no_grad()); write it with torch operations so that backward() reaches the inputs",
        )
    if got.requires_grad:
        upstream = torch.randn(expected.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        rows = labelled(mine, theirs)
        try:
            grads_mine = _call("your backward pass", _gradients, got, [m for _, m, _ in rows], upstream)
        except StudentCodeTimeout:
            raise
        except StudentCodeError as error:
            return False, str(error)
        grads_theirs = torch.autograd.grad(expected, [t for _, _, t in rows], upstream)
        for (label, _, _), g_mine, g_theirs in zip(rows, grads_mine, grads_theirs):
            if g_mine is None:
                return False, f"gradient of {label} differs (no gradient: {label} does not reach the output)"
            if (message := _differs(f"gradient of {label}", g_mine, g_theirs)) is not None:
                return False, message
    return (
        True,
        "output and gradients match"
        if got.requires_grad
        else "output matches (not differentiable: gradients not checked)",
    )


def _run(name: str, cases: list[Case], make, against: str = "torch.nn.functional") -> CheckReport:
    report = CheckReport(name)
    cases = sorted(cases, key=lambda c: c.size)
    print(f"checking {name} against {against} ({len(cases)} cases, smallest first)")
    for number, case in enumerate(cases):
        yours, reference, tensors, *after = make(case)
        mistakes = after.pop(0) if after and isinstance(after[0], list) else None
        try:
            ok, message = _compare(yours, reference, tensors, mistakes)
        except StudentCodeTimeout as error:
            _record(report, case, False, str(error))
            for skipped in cases[number + 1 :]:
                report.results.append((skipped, False, "not run: an earlier case ran out of time"))
            break
        if ok and after and after[0]() is not None:
            ok, message = False, after[0]()
        _record(report, case, ok, message)
    return _finish(report, "smallest failing input")


@_printing_if_verbose
def layer_norm(function) -> CheckReport:
    """Check ``function(input, normalized_shape, weight=None, bias=None, eps=1e-5)`` against F.layer_norm."""
    cases = [
        Case(
            f"input {shape}, normalized_shape {ns}{'' if affine else ', no affine'}",
            shape,
            {"normalized_shape": ns},
            affine,
        )
        for shape, ns in [
            ((1, 3), (3,)),
            ((2, 4), (4,)),
            ((4, 3, 6), (6,)),
            ((4, 3, 6), (3, 6)),
            ((2, 3, 4, 5), (3, 4, 5)),
        ]
        for affine in (False, True)
    ]

    def make(case):
        ns = case.extra["normalized_shape"]
        x, w, b = _inputs(case, ns)
        return (
            (lambda x, w, b: function(x, ns, w, b, 1e-5)),
            (lambda x, w, b: F.layer_norm(x, ns, w, b, 1e-5)),
            [x, w, b],
            layer_norm_mistakes(len(ns), 1e-5),
        )

    return _run("layer_norm", cases, make)


@_printing_if_verbose
def batch_norm(function) -> CheckReport:
    """Check ``function(input, running_mean, running_var, weight, bias, training=True, momentum=0.1, eps=1e-5)``:
    the output, the gradients, and the running statistics it updates in place."""
    cases = [
        Case(f"input {shape}, training{'' if affine else ', no affine'}", shape, {}, affine)
        for shape in [(2, 3), (5, 4), (4, 3, 5), (3, 2, 4, 4)]
        for affine in (False, True)
    ]

    def make(case):
        channels = case.shape[1]
        x, w, b = _inputs(case, (channels,))
        yours_stats = (torch.zeros(channels, dtype=torch.float64), torch.ones(channels, dtype=torch.float64))
        torch_stats = (torch.zeros(channels, dtype=torch.float64), torch.ones(channels, dtype=torch.float64))

        def running_stats_message():
            for label, mine, theirs in zip(("running_mean", "running_var"), yours_stats, torch_stats):
                if not torch.allclose(mine, theirs, atol=ATOL, rtol=RTOL):
                    axes = [0] + list(range(2, x.dim()))
                    biased = 0.9 + 0.1 * x.detach().var(axes, unbiased=False)
                    named = (
                        " It matches a common mistake: running_var updated with the biased variance (over m); "
                        "Ioffe & Szegedy's Alg. 2 and PyTorch use the unbiased one (over m − 1)."
                        if label == "running_var" and torch.allclose(mine, biased, atol=1e-6)
                        else ""
                    )
                    return (
                        f"{label} after one step is {mine.tolist()}, expected {theirs.tolist()} (momentum 0.1; "
                        f"running_var uses the unbiased variance).{named}"
                    )
            return None

        yours = lambda x, w, b: function(x, *yours_stats, w, b, True, 0.1, 1e-5)  # noqa: E731
        reference = lambda x, w, b: F.batch_norm(x, *torch_stats, w, b, True, 0.1, 1e-5)  # noqa: E731
        return yours, reference, [x, w, b], batch_norm_mistakes(1e-5), running_stats_message

    return _run("batch_norm", cases, make)


@_printing_if_verbose
def group_norm(function) -> CheckReport:
    """Check ``function(input, num_groups, weight=None, bias=None, eps=1e-5)`` against F.group_norm."""
    cases = [
        Case(f"input {shape}, {groups} groups{'' if affine else ', no affine'}", shape, {"groups": groups}, affine)
        for shape, groups in [((2, 4, 3), 2), ((2, 6, 4, 4), 1), ((2, 6, 4, 4), 3), ((2, 6, 4, 4), 6)]
        for affine in (False, True)
    ]

    def make(case):
        groups = case.extra["groups"]
        x, w, b = _inputs(case, (case.shape[1],))
        return (
            (lambda x, w, b: function(x, groups, w, b, 1e-5)),
            (lambda x, w, b: F.group_norm(x, groups, w, b, 1e-5)),
            [x, w, b],
            group_norm_mistakes(groups, 1e-5),
        )

    return _run("group_norm", cases, make)


@_printing_if_verbose
def rms_norm(function) -> CheckReport:
    """Check ``function(input, normalized_shape, weight=None, eps=None)`` against F.rms_norm (eps=1e-6 here)."""
    cases = [
        Case(
            f"input {shape}, normalized_shape {ns}{'' if affine else ', no weight'}",
            shape,
            {"normalized_shape": ns},
            affine,
        )
        for shape, ns in [((2, 4), (4,)), ((4, 3, 6), (6,)), ((2, 3, 4, 5), (4, 5))]
        for affine in (False, True)
    ]

    def make(case):
        ns = case.extra["normalized_shape"]
        x, w, _ = _inputs(case, ns)
        return (
            (lambda x, w: function(x, ns, w, 1e-6)),
            (lambda x, w: F.rms_norm(x, ns, w, 1e-6)),
            [x, w],
            layer_norm_mistakes(len(ns), 1e-6, center=False),
        )

    return _run("rms_norm", cases, make)


@_printing_if_verbose
def dynamic_tanh(function) -> CheckReport:
    """Check ``function(input, alpha, weight=None, bias=None)`` against γ ⊙ tanh(α x) + β (Zhu et al.
    2025, Eq. 1; torch has no DyT), outputs and the gradients of x, γ, β and α."""
    cases = [
        Case(f"input {shape}, alpha {alpha}{'' if affine else ', no weight or bias'}", shape, {"alpha": alpha}, affine)
        for shape, alpha in [((2, 4), 0.5), ((3, 2, 6), 1.5), ((2, 3, 8), 0.1)]
        for affine in (False, True)
    ]

    def reference(x, w, b, alpha):
        output = torch.tanh(alpha * x)
        return output if w is None else output * w + b

    def make(case):
        x, w, b = _inputs(case, (case.shape[-1],))
        alpha = torch.tensor([case.extra["alpha"]], dtype=torch.float64, requires_grad=True)
        return (lambda x, w, b, a: function(x, a, w, b)), reference, [x, w, b, alpha], dynamic_tanh_mistakes()

    return _run("dynamic_tanh", cases, make, against="γ ⊙ tanh(α x) + β")


@_printing_if_verbose
def layer_norm_chw(function) -> CheckReport:
    """Check ``function(input, weight=None, bias=None, eps=1e-5)``: layer norm of an (N, C, H, W) tensor over
    (C, H, W), with one gain and bias per channel (shape (C,)), against ``F.group_norm(input, 1, ...)``."""
    cases = [
        Case(f"input {shape}{'' if affine else ', no affine'}", shape, {}, affine)
        for shape in [(1, 2, 3, 3), (2, 3, 4, 4), (4, 6, 5, 7)]
        for affine in (False, True)
    ]

    def make(case):
        x, w, b = _inputs(case, (case.shape[1],))
        return (
            (lambda x, w, b: function(x, w, b, 1e-5)),
            (lambda x, w, b: F.group_norm(x, 1, w, b, 1e-5)),
            [x, w, b],
            layer_norm_chw_mistakes(1e-5),
        )

    return _run("layer_norm_chw", cases, make)


@_printing_if_verbose
def mlp(make_model, method: str = "layer norm") -> CheckReport:
    """Check a torch.nn version of the paper's 784-1000-1000-10 network (chapter 2).

    ``make_model`` is your model or a function with no arguments that returns it.  The check copies the
    weights of the book's reference network (``MLPStack(method, [0]).to_sequential(0)``) into your
    model, parameter by parameter in order, so the order and shapes of your parameters must match:
    Linear weights (out, in), no Linear bias where a normalization follows, gain and bias of each
    normalization.  It then compares, in float64, the logits (train and eval mode) and the gradients.
    """
    report = CheckReport(f"mlp ({method})")
    print(f"checking your {method} network against the book's reference built from torch.nn")
    try:
        model = make_model if isinstance(make_model, torch.nn.Module) else _call("building your model", make_model)
    except StudentCodeError as error:
        _report_case(report, "build the model", str(error))
        return _finish(report)
    if not isinstance(model, torch.nn.Module):
        _report_case(
            report, "build the model", f"got {type(model).__name__}, expected a torch.nn.Module (a missing `return`?)"
        )
        return _finish(report)
    reference = MLPStack(method, [0]).to_sequential(0).double()
    model = model.double().cpu()  # the check runs in float64 on the CPU, whatever device you trained on
    yours, theirs = list(model.parameters()), list(reference.parameters())
    shapes_yours, shapes_theirs = [tuple(p.shape) for p in yours], [tuple(p.shape) for p in theirs]
    if shapes_yours != shapes_theirs:
        _report_case(
            report,
            "parameter shapes, in order",
            f"yours are {shapes_yours}, the paper's {method} network has {shapes_theirs} "
            "(Linear weights are (out, in); a Linear followed by a normalization has no bias; no normalization "
            "before the softmax layer for layer norm)",
        )
        return _finish(report)
    _report_case(report, "parameter shapes, in order", None)
    with torch.no_grad():
        for mine, reference_parameter in zip(yours, theirs):
            mine.copy_(reference_parameter)
    generator = torch.Generator().manual_seed(0)
    for batch_size in (2, 4, 32):
        images = torch.rand(batch_size, 784, generator=generator, dtype=torch.float64)
        for mode in ("train", "eval"):
            model.train(mode == "train")
            reference.train(mode == "train")
            description = f"batch of {batch_size}, {mode} mode: logits"
            expected = reference(images)
            given = images.clone()  # yours gets its own copy: an in-place change cannot break the reference
            try:
                got = _as_tensor(_call("your model", model, given), expected)
            except StudentCodeTimeout as error:
                _report_case(report, description, str(error))
                return _finish(report)
            except StudentCodeError as error:
                _report_case(report, description, str(error))
                continue
            if (changed := _unchanged([images], [given])) is not None:
                _report_case(report, description, changed.replace("function", "model's forward"))
                continue
            message = _differs("logits", got.detach(), expected, 1e-8)
            if message is None and mode == "train":
                description += " and gradients"
                if not got.requires_grad:
                    _report_case(
                        report,
                        description,
                        "your logits carry no gradient (a .detach(), .item(), numpy or torch.no_grad() in forward?)",
                    )
                    continue
                upstream = torch.randn(expected.shape, generator=generator, dtype=torch.float64)
                try:
                    grads_yours = _call("your backward pass", _gradients, got, yours, upstream)
                except StudentCodeTimeout as error:
                    _report_case(report, description, str(error))
                    return _finish(report)
                except StudentCodeError as error:
                    _report_case(report, description, str(error))
                    continue
                grads_theirs = torch.autograd.grad(expected, theirs, upstream)
                for index, (g_mine, g_theirs) in enumerate(zip(grads_yours, grads_theirs)):
                    message = message or _differs(
                        f"gradient of parameter {index} {shapes_theirs[index]}", g_mine, g_theirs
                    )
            _report_case(report, description, message)
    return _finish(report)


def _cell_parameters(cell: torch.nn.Module) -> list[torch.Tensor]:
    """weight_ih, weight_hh, norm.weight and norm.bias of a student's cell, or a StudentCodeError that says
    which is missing and how the check expects it (an nn.Linear, a LayerNorm without affine)."""
    found = []
    for owner, name in (
        (cell, "weight_ih"),
        (cell, "weight_hh"),
        (getattr(cell, "norm", None), "weight"),
        (getattr(cell, "norm", None), "bias"),
    ):
        label = name if owner is cell else f"norm.{name}"
        value = getattr(owner, name, None) if owner is not None else None
        if isinstance(value, torch.nn.Linear):
            raise StudentCodeError(
                f"{label} is an nn.Linear; the check needs the weight itself: self.{label} = "
                "nn.Parameter(torch.randn(...)) (or keep the Linear under another name and point to its .weight)"
            )
        if not isinstance(value, torch.Tensor):
            what = "None (LayerNorm(..., elementwise_affine=False)?)" if value is None else type(value).__name__
            hint = (
                "the cell has no `norm` (a LayerNorm over the H hidden units)"
                if owner is None
                else f"{label} is {what}"
            )
            raise StudentCodeError(
                f"{hint}; the check needs weight_ih (H, input_size), weight_hh (H, H) and a norm with a gain "
                "and a bias, norm.weight and norm.bias (H,) (Ba et al. 2016, Eq. 4 has g and b)"
            )
        found.append(value)
    return found


@_printing_if_verbose
def layer_norm_rnn_cell(cell_class) -> CheckReport:
    """Check a layer-normalized vanilla RNN cell (chapter 4): ``h_t = tanh(LN(W_hh h_{t-1} + W_ih x_t))``,
    Ba et al. 2016, Eq. 4, with μ and σ over the H hidden units and the gain g and bias b of the LN.

    ``cell_class(input_size, hidden_size)`` must build a module with parameters ``weight_ih`` (H, input_size),
    ``weight_hh`` (H, H) and a ``norm`` with ``weight`` and ``bias`` of shape (H,) and ε = 1e-5, whose
    ``forward(x, h)`` returns the next hidden state.  The check runs sequences of several steps in float64
    and compares every hidden state and the gradients of all four parameters and of the inputs.
    """
    report = CheckReport("layer_norm_rnn_cell")
    print(
        "checking your layer-normalized RNN cell against tanh(F.layer_norm(h W_hhᵀ + x W_ihᵀ)) (Ba et al. 2016, Eq. 4)"
    )
    for input_size, hidden_size, batch_size, steps in [(2, 3, 1, 1), (3, 4, 2, 3), (5, 8, 4, 6)]:
        description = f"input {input_size}, hidden {hidden_size}, batch {batch_size}, {steps} step(s)"
        try:
            cell = _call("building the cell", cell_class, input_size, hidden_size)
            if not isinstance(cell, torch.nn.Module):
                raise StudentCodeError(f"cell_class(...) gave {type(cell).__name__}, expected a torch.nn.Module")
            cell = cell.double().cpu()
            parameters = _cell_parameters(cell)
        except StudentCodeTimeout as error:
            _report_case(report, description, str(error))
            return _finish(report)
        except StudentCodeError as error:
            _report_case(report, description, str(error))
            continue
        expected_shapes = [(hidden_size, input_size), (hidden_size, hidden_size), (hidden_size,), (hidden_size,)]
        if [tuple(p.shape) for p in parameters] != expected_shapes:
            _report_case(
                report,
                description,
                f"weight_ih, weight_hh, norm.weight, norm.bias have shapes {[tuple(p.shape) for p in parameters]}, "
                f"expected {expected_shapes}",
            )
            continue
        generator = torch.Generator().manual_seed(input_size)
        with torch.no_grad():  # random values, so that a swapped or unused parameter shows
            for parameter in parameters:
                parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
        reference_parameters = [p.detach().clone().requires_grad_() for p in parameters]
        inputs = torch.randn(
            steps, batch_size, input_size, generator=generator, dtype=torch.float64, requires_grad=True
        )
        hidden = reference_hidden = torch.zeros(batch_size, hidden_size, dtype=torch.float64)
        message = None
        snapshot = inputs.detach().clone()
        try:
            for step in range(steps):
                hidden = _as_tensor(_call("your forward", cell, inputs[step], hidden), reference_hidden)
                if not torch.equal(inputs.detach(), snapshot):
                    raise StudentCodeError(
                        "your forward changed its input x in place (x -= ..., x.mul_(...)); compute a new tensor"
                    )
                weight_ih, weight_hh, gain, bias = reference_parameters
                summed = reference_hidden @ weight_hh.T + inputs[step] @ weight_ih.T  # a_t = W_hh h_{t-1} + W_ih x_t
                reference_hidden = torch.tanh(F.layer_norm(summed, (hidden_size,), gain, bias, 1e-5))  # Eq. 4
                message = message or _differs(f"hidden state at step {step + 1}", hidden, reference_hidden, 1e-8)
        except StudentCodeTimeout as error:
            _report_case(report, description + " (hidden states and gradients)", str(error))
            return _finish(report)
        except StudentCodeError as error:
            message = str(error)
        if message is None and not hidden.requires_grad:
            message = (
                "your hidden state carries no gradient (a .detach(), .item(), numpy or torch.no_grad() in forward?)"
            )
        if message is None:
            upstream = torch.randn(hidden.shape, generator=generator, dtype=torch.float64)
            try:
                grads_yours = _call("your backward pass", _gradients, hidden, [*parameters, inputs], upstream)
            except StudentCodeTimeout as error:
                _report_case(report, description + " (hidden states and gradients)", str(error))
                return _finish(report)
            except StudentCodeError as error:
                _report_case(report, description + " (hidden states and gradients)", str(error))
                continue
            grads_theirs = torch.autograd.grad(reference_hidden, [*reference_parameters, inputs], upstream)
            for label, g_mine, g_theirs in zip(
                ("weight_ih", "weight_hh", "norm.weight", "norm.bias", "inputs"), grads_yours, grads_theirs
            ):
                message = message or _differs(f"gradient of {label} through {steps} step(s)", g_mine, g_theirs)
        _report_case(report, description + " (hidden states and gradients)", message)
    return _finish(report)
