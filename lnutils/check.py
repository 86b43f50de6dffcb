"""Self-checks for students: compare your own normalization function with PyTorch's.

    from lnutils import check
    check.layer_norm(my_layer_norm)      # my_layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5)
    check.batch_norm(my_batch_norm)      # F.batch_norm's signature, training mode, running stats updated in place
    check.group_norm(my_group_norm)      # my_group_norm(input, num_groups, weight=None, bias=None, eps=1e-5)
    check.rms_norm(my_rms_norm)          # my_rms_norm(input, normalized_shape, weight=None, eps=None)

Each runs the cases the book's test suite runs against ``torch.nn.functional``,
smallest first, in float64: the output and, if your function is differentiable, the
gradients of the input and the parameters.  It prints one line per case and, for the
first failure, the smallest input that shows it.  Works offline; returns a
:class:`CheckReport` whose ``passed`` is True when every case passed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

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


def _inputs(case: Case, param_shape: tuple[int, ...], seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = (torch.randn(*case.shape, generator=generator, dtype=torch.float64) * 2 + 0.5).requires_grad_()
    if not case.affine:
        return x, None, None
    weight = (torch.rand(*param_shape, generator=generator, dtype=torch.float64) + 0.5).requires_grad_()
    bias = torch.randn(*param_shape, generator=generator, dtype=torch.float64).requires_grad_()
    return x, weight, bias


def _compare(yours, reference, tensors: list) -> tuple[bool, str]:
    mine = [t.detach().clone().requires_grad_() if t is not None else None for t in tensors]
    theirs = [t.detach().clone().requires_grad_() if t is not None else None for t in tensors]
    try:
        got = yours(*mine)
    except Exception as error:  # noqa: BLE001 - any error in student code is a failed case
        return False, f"raised {type(error).__name__}: {error}"
    expected = reference(*theirs)
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return False, f"returned shape {getattr(got, 'shape', type(got))}, expected {tuple(expected.shape)}"
    if not torch.allclose(got.to(expected.dtype), expected, atol=ATOL, rtol=RTOL):
        worst = (got - expected).abs().max().item()
        return False, f"output differs (largest |difference| {worst:.2e})\n      input:    {tensors[0].detach().flatten()[:8].tolist()}\n      expected: {expected.detach().flatten()[:8].tolist()}\n      got:      {got.detach().flatten()[:8].tolist()}"
    if got.requires_grad:
        upstream = torch.randn(expected.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        leaves_mine = [t for t in mine if t is not None]
        leaves_theirs = [t for t in theirs if t is not None]
        grads_mine = torch.autograd.grad(got, leaves_mine, upstream, allow_unused=True)
        grads_theirs = torch.autograd.grad(expected, leaves_theirs, upstream)
        for label, g_mine, g_theirs in zip(("input", "weight", "bias"), grads_mine, grads_theirs):
            if g_mine is None or not torch.allclose(g_mine, g_theirs, atol=1e-7, rtol=1e-7):
                worst = "no gradient" if g_mine is None else f"largest |difference| {(g_mine - g_theirs).abs().max().item():.2e}"
                return False, f"gradient of {label} differs ({worst})"
    return True, "output and gradients match" if got.requires_grad else "output matches (not differentiable: gradients not checked)"


def _run(name: str, cases: list[Case], make, verbose: bool) -> CheckReport:
    report = CheckReport(name)
    cases = sorted(cases, key=lambda c: c.size)
    print(f"checking {name} against torch.nn.functional ({len(cases)} cases, smallest first)")
    first_failure = None
    for case in cases:
        yours, reference, tensors, *after = make(case)
        ok, message = _compare(yours, reference, tensors)
        if ok and after and after[0]() is not None:
            ok, message = False, after[0]()
        report.results.append((case, ok, message))
        print(f"  {'PASS' if ok else 'FAIL'}  {case.description}" + ("" if ok else f": {message.splitlines()[0]}"))
        if not ok and first_failure is None:
            first_failure = (case, message)
    if first_failure is None:
        print(f"all {len(cases)} cases pass.")
    else:
        case, message = first_failure
        print(f"\nsmallest failing input: {case.description}\n  {message}")
    return report


def layer_norm(function, verbose: bool = True) -> CheckReport:
    """Check ``function(input, normalized_shape, weight=None, bias=None, eps=1e-5)`` against F.layer_norm."""
    cases = [
        Case(f"input {shape}, normalized_shape {ns}{'' if affine else ', no affine'}", shape, {"normalized_shape": ns}, affine)
        for shape, ns in [((1, 3), (3,)), ((2, 4), (4,)), ((4, 3, 6), (6,)), ((4, 3, 6), (3, 6)), ((2, 3, 4, 5), (3, 4, 5))]
        for affine in (False, True)
    ]

    def make(case):
        ns = case.extra["normalized_shape"]
        x, w, b = _inputs(case, ns)
        return (lambda x, w, b: function(x, ns, w, b, 1e-5)), (lambda x, w, b: F.layer_norm(x, ns, w, b, 1e-5)), [x, w, b]

    return _run("layer_norm", cases, make, verbose)


def batch_norm(function, verbose: bool = True) -> CheckReport:
    """Check ``function(input, running_mean, running_var, weight, bias, training=True, momentum=0.1, eps=1e-5)``:
    the output, the gradients, and the running statistics it updates in place."""
    cases = [Case(f"input {shape}, training{'' if affine else ', no affine'}", shape, {}, affine) for shape in [(2, 3), (5, 4), (4, 3, 5), (3, 2, 4, 4)] for affine in (False, True)]

    def make(case):
        channels = case.shape[1]
        x, w, b = _inputs(case, (channels,))
        yours_stats = (torch.zeros(channels, dtype=torch.float64), torch.ones(channels, dtype=torch.float64))
        torch_stats = (torch.zeros(channels, dtype=torch.float64), torch.ones(channels, dtype=torch.float64))

        def running_stats_message():
            for label, mine, theirs in zip(("running_mean", "running_var"), yours_stats, torch_stats):
                if not torch.allclose(mine, theirs, atol=ATOL, rtol=RTOL):
                    return f"{label} after one step is {mine.tolist()}, expected {theirs.tolist()} (momentum 0.1; running_var uses the unbiased variance)"
            return None

        yours = lambda x, w, b: function(x, *yours_stats, w, b, True, 0.1, 1e-5)  # noqa: E731
        reference = lambda x, w, b: F.batch_norm(x, *torch_stats, w, b, True, 0.1, 1e-5)  # noqa: E731
        return yours, reference, [x, w, b], running_stats_message

    return _run("batch_norm", cases, make, verbose)


def group_norm(function, verbose: bool = True) -> CheckReport:
    """Check ``function(input, num_groups, weight=None, bias=None, eps=1e-5)`` against F.group_norm."""
    cases = [Case(f"input {shape}, {groups} groups{'' if affine else ', no affine'}", shape, {"groups": groups}, affine) for shape, groups in [((2, 4, 3), 2), ((2, 6, 4, 4), 1), ((2, 6, 4, 4), 3), ((2, 6, 4, 4), 6)] for affine in (False, True)]

    def make(case):
        groups = case.extra["groups"]
        x, w, b = _inputs(case, (case.shape[1],))
        return (lambda x, w, b: function(x, groups, w, b, 1e-5)), (lambda x, w, b: F.group_norm(x, groups, w, b, 1e-5)), [x, w, b]

    return _run("group_norm", cases, make, verbose)


def rms_norm(function, verbose: bool = True) -> CheckReport:
    """Check ``function(input, normalized_shape, weight=None, eps=None)`` against F.rms_norm (eps=1e-6 here)."""
    cases = [Case(f"input {shape}, normalized_shape {ns}{'' if affine else ', no weight'}", shape, {"normalized_shape": ns}, affine) for shape, ns in [((2, 4), (4,)), ((4, 3, 6), (6,)), ((2, 3, 4, 5), (4, 5))] for affine in (False, True)]

    def make(case):
        ns = case.extra["normalized_shape"]
        x, w, _ = _inputs(case, ns)
        return (lambda x, w: function(x, ns, w, 1e-6)), (lambda x, w: F.rms_norm(x, ns, w, 1e-6)), [x, w]

    return _run("rms_norm", cases, make, verbose)
