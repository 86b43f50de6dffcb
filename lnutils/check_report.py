"""What every self-check of :mod:`lnutils.check` shares: a case, the report that collects the cases'
results and prints them, and how a difference from the reference is worded."""

from __future__ import annotations

import contextlib
import functools
import io
from dataclasses import dataclass, field

import torch

from lnutils.student_code import dtype_hint

ATOL = RTOL = 1e-8  # float64; a correct implementation differs from PyTorch by ~1e-15


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


def printing_if_verbose(check):
    """``verbose=False`` silences a check's printout; the returned report is the same."""

    @functools.wraps(check)
    def wrapper(*args, verbose: bool = True, **kwargs):
        if verbose:
            return check(*args, **kwargs)
        with contextlib.redirect_stdout(io.StringIO()):
            return check(*args, **kwargs)

    return wrapper


def case_inputs(case: Case, param_shape: tuple[int, ...], seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = (torch.randn(*case.shape, generator=generator, dtype=torch.float64) * 2 + 0.5).requires_grad_()
    if not case.affine:
        return x, None, None
    weight = (torch.rand(*param_shape, generator=generator, dtype=torch.float64) + 0.5).requires_grad_()
    bias = torch.randn(*param_shape, generator=generator, dtype=torch.float64).requires_grad_()
    return x, weight, bias


def differs(label: str, got: torch.Tensor, expected: torch.Tensor, tolerance: float = 1e-7) -> str | None:
    """None when ``got`` matches ``expected`` (float64 tolerance), else what is wrong with it."""
    if got is None:
        return f"{label}: no gradient (is it used in the forward pass?)"
    if got.shape != expected.shape:
        return f"{label} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    if not torch.allclose(got.to(expected.dtype), expected, atol=tolerance, rtol=tolerance):
        worst = (got.to(expected.dtype) - expected).abs().max().item()
        return f"{label} differs (largest |difference| {worst:.2e})." + dtype_hint(got, expected)
    return None


def record_case(report: CheckReport, case: Case, ok: bool, message: str) -> None:
    """Add one case to the report and print its PASS/FAIL line."""
    report.results.append((case, ok, message))
    print(f"  {'PASS' if ok else 'FAIL'}  {case.description}" + ("" if ok else f": {message.splitlines()[0]}"))


def report_case(report: CheckReport, description: str, message: str | None) -> None:
    record_case(report, Case(description, ()), message is None, message or "matches")


def finish(report: CheckReport, failure_heading: str = "first failing case") -> CheckReport:
    """Print the summary: all cases pass, or the first failing case in full."""
    failures = [(case, message) for case, ok, message in report.results if not ok]
    if not failures:
        print(f"all {len(report.results)} cases pass.")
    else:
        case, message = failures[0]
        print(f"\n{failure_heading}: {case.description}\n  {message}")
    return report
