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

import torch
import torch.nn.functional as F

from lnutils.check_mistakes import (
    batch_norm_mistakes,
    dynamic_tanh_mistakes,
    group_norm_mistakes,
    labelled,
    layer_norm_chw_mistakes,
    layer_norm_mistakes,
)
from lnutils.check_report import (  # noqa: F401  (Case and CheckReport: part of the interface)
    ATOL,
    RTOL,
    Case,
    CheckReport,
    case_inputs,
    differs,
    finish,
    printing_if_verbose,
    record_case,
    report_case,
)
from lnutils.mlp import MLPStack
from lnutils.student_code import (  # noqa: F401  (StudentCodeError: part of the interface)
    StudentCodeError,
    StudentCodeTimeout,
    as_tensor,
    call,
    dtype_hint,
    gradients,
    unchanged,
)


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
        got = as_tensor(call("your function", yours, *mine), expected)
    except StudentCodeTimeout:
        raise
    except StudentCodeError as error:
        return False, str(error)
    if (changed := unchanged(originals, mine)) is not None:
        return False, changed
    if got.shape != expected.shape:
        return False, f"returned shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    if not torch.allclose(got.detach().to(expected.dtype), expected, atol=ATOL, rtol=RTOL):
        worst = (got.detach().to(expected.dtype) - expected).abs().max().item()
        return (
            False,
            f"output differs (largest |difference| {worst:.2e}).{_recognised(got, tensors, mistakes)}"
            f"{dtype_hint(got, expected)}"
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
            grads_mine = call("your backward pass", gradients, got, [m for _, m, _ in rows], upstream)
        except StudentCodeTimeout:
            raise
        except StudentCodeError as error:
            return False, str(error)
        grads_theirs = torch.autograd.grad(expected, [t for _, _, t in rows], upstream)
        for (label, _, _), g_mine, g_theirs in zip(rows, grads_mine, grads_theirs):
            if g_mine is None:
                return False, f"gradient of {label} differs (no gradient: {label} does not reach the output)"
            if (message := differs(f"gradient of {label}", g_mine, g_theirs)) is not None:
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
            record_case(report, case, False, str(error))
            for skipped in cases[number + 1 :]:
                report.results.append((skipped, False, "not run: an earlier case ran out of time"))
            break
        if ok and after and after[0]() is not None:
            ok, message = False, after[0]()
        record_case(report, case, ok, message)
    return finish(report, "smallest failing input")


@printing_if_verbose
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
        x, w, b = case_inputs(case, ns)
        return (
            (lambda x, w, b: function(x, ns, w, b, 1e-5)),
            (lambda x, w, b: F.layer_norm(x, ns, w, b, 1e-5)),
            [x, w, b],
            layer_norm_mistakes(len(ns), 1e-5),
        )

    return _run("layer_norm", cases, make)


@printing_if_verbose
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
        x, w, b = case_inputs(case, (channels,))
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


@printing_if_verbose
def group_norm(function) -> CheckReport:
    """Check ``function(input, num_groups, weight=None, bias=None, eps=1e-5)`` against F.group_norm."""
    cases = [
        Case(f"input {shape}, {groups} groups{'' if affine else ', no affine'}", shape, {"groups": groups}, affine)
        for shape, groups in [((2, 4, 3), 2), ((2, 6, 4, 4), 1), ((2, 6, 4, 4), 3), ((2, 6, 4, 4), 6)]
        for affine in (False, True)
    ]

    def make(case):
        groups = case.extra["groups"]
        x, w, b = case_inputs(case, (case.shape[1],))
        return (
            (lambda x, w, b: function(x, groups, w, b, 1e-5)),
            (lambda x, w, b: F.group_norm(x, groups, w, b, 1e-5)),
            [x, w, b],
            group_norm_mistakes(groups, 1e-5),
        )

    return _run("group_norm", cases, make)


@printing_if_verbose
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
        x, w, _ = case_inputs(case, ns)
        return (
            (lambda x, w: function(x, ns, w, 1e-6)),
            (lambda x, w: F.rms_norm(x, ns, w, 1e-6)),
            [x, w],
            layer_norm_mistakes(len(ns), 1e-6, center=False),
        )

    return _run("rms_norm", cases, make)


@printing_if_verbose
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
        x, w, b = case_inputs(case, (case.shape[-1],))
        alpha = torch.tensor([case.extra["alpha"]], dtype=torch.float64, requires_grad=True)
        return (lambda x, w, b, a: function(x, a, w, b)), reference, [x, w, b, alpha], dynamic_tanh_mistakes()

    return _run("dynamic_tanh", cases, make, against="γ ⊙ tanh(α x) + β")


@printing_if_verbose
def layer_norm_chw(function) -> CheckReport:
    """Check ``function(input, weight=None, bias=None, eps=1e-5)``: layer norm of an (N, C, H, W) tensor over
    (C, H, W), with one gain and bias per channel (shape (C,)), against ``F.group_norm(input, 1, ...)``."""
    cases = [
        Case(f"input {shape}{'' if affine else ', no affine'}", shape, {}, affine)
        for shape in [(1, 2, 3, 3), (2, 3, 4, 4), (4, 6, 5, 7)]
        for affine in (False, True)
    ]

    def make(case):
        x, w, b = case_inputs(case, (case.shape[1],))
        return (
            (lambda x, w, b: function(x, w, b, 1e-5)),
            (lambda x, w, b: F.group_norm(x, 1, w, b, 1e-5)),
            [x, w, b],
            layer_norm_chw_mistakes(1e-5),
        )

    return _run("layer_norm_chw", cases, make)


@printing_if_verbose
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
        model = make_model if isinstance(make_model, torch.nn.Module) else call("building your model", make_model)
    except StudentCodeError as error:
        report_case(report, "build the model", str(error))
        return finish(report)
    if not isinstance(model, torch.nn.Module):
        report_case(
            report, "build the model", f"got {type(model).__name__}, expected a torch.nn.Module (a missing `return`?)"
        )
        return finish(report)
    reference = MLPStack(method, [0]).to_sequential(0).double()
    model = model.double().cpu()  # the check runs in float64 on the CPU, whatever device you trained on
    yours, theirs = list(model.parameters()), list(reference.parameters())
    shapes_yours, shapes_theirs = [tuple(p.shape) for p in yours], [tuple(p.shape) for p in theirs]
    if shapes_yours != shapes_theirs:
        report_case(
            report,
            "parameter shapes, in order",
            f"yours are {shapes_yours}, the paper's {method} network has {shapes_theirs} "
            "(Linear weights are (out, in); a Linear followed by a normalization has no bias; no normalization "
            "before the softmax layer for layer norm)",
        )
        return finish(report)
    report_case(report, "parameter shapes, in order", None)
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
                got = as_tensor(call("your model", model, given), expected)
            except StudentCodeTimeout as error:
                report_case(report, description, str(error))
                return finish(report)
            except StudentCodeError as error:
                report_case(report, description, str(error))
                continue
            if (changed := unchanged([images], [given])) is not None:
                report_case(report, description, changed.replace("function", "model's forward"))
                continue
            message = differs("logits", got.detach(), expected, 1e-8)
            if message is None and mode == "train":
                description += " and gradients"
                labels = [f"parameter {index} {shape}" for index, shape in enumerate(shapes_theirs)]
                try:
                    message = _gradients_message(got, yours, expected, theirs, labels, generator, "logits carry")
                except StudentCodeTimeout as error:
                    report_case(report, description, str(error))
                    return finish(report)
            report_case(report, description, message)
    return finish(report)


def _gradients_message(got, yours, expected, theirs, labels, generator, what: str, through: str = "") -> str | None:
    """What is wrong with the gradients of a student's output ``got`` with respect to ``yours``, against the
    reference ``expected`` with respect to ``theirs`` (None: nothing), for one random upstream gradient.
    ``what`` names the output in the message ("logits carry"); a timeout is raised for the caller to stop."""
    if not got.requires_grad:
        return f"your {what} no gradient (a .detach(), .item(), numpy or torch.no_grad() in forward?)"
    upstream = torch.randn(expected.shape, generator=generator, dtype=torch.float64)
    try:
        grads_yours = call("your backward pass", gradients, got, yours, upstream)
    except StudentCodeTimeout:
        raise
    except StudentCodeError as error:
        return str(error)
    grads_theirs = torch.autograd.grad(expected, theirs, upstream)
    for label, mine, reference in zip(labels, grads_yours, grads_theirs):
        if (message := differs(f"gradient of {label}{through}", mine, reference)) is not None:
            return message
    return None


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


def _unrolled(cell, inputs, reference_parameters) -> tuple:
    """Run a student's cell over ``inputs`` (steps, batch, input_size) beside the reference, Ba et al. 2016,
    Eq. 4: (the last hidden state, the reference's, what differs first or None); a timeout is raised."""
    weight_ih, weight_hh, gain, bias = reference_parameters
    hidden_size = weight_hh.shape[0]
    hidden = reference_hidden = torch.zeros(inputs.shape[1], hidden_size, dtype=torch.float64)
    snapshot = inputs.detach().clone()
    message = None
    try:
        for step in range(inputs.shape[0]):
            hidden = as_tensor(call("your forward", cell, inputs[step], hidden), reference_hidden)
            if not torch.equal(inputs.detach(), snapshot):
                raise StudentCodeError(
                    "your forward changed its input x in place (x -= ..., x.mul_(...)); compute a new tensor"
                )
            summed = reference_hidden @ weight_hh.T + inputs[step] @ weight_ih.T  # a_t = W_hh h_{t-1} + W_ih x_t
            reference_hidden = torch.tanh(F.layer_norm(summed, (hidden_size,), gain, bias, 1e-5))  # Eq. 4
            message = message or differs(f"hidden state at step {step + 1}", hidden, reference_hidden, 1e-8)
    except StudentCodeTimeout:
        raise
    except StudentCodeError as error:
        message = str(error)
    return hidden, reference_hidden, message


@printing_if_verbose
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
            cell = call("building the cell", cell_class, input_size, hidden_size)
            if not isinstance(cell, torch.nn.Module):
                raise StudentCodeError(f"cell_class(...) gave {type(cell).__name__}, expected a torch.nn.Module")
            cell = cell.double().cpu()
            parameters = _cell_parameters(cell)
        except StudentCodeTimeout as error:
            report_case(report, description, str(error))
            return finish(report)
        except StudentCodeError as error:
            report_case(report, description, str(error))
            continue
        expected_shapes = [(hidden_size, input_size), (hidden_size, hidden_size), (hidden_size,), (hidden_size,)]
        if [tuple(p.shape) for p in parameters] != expected_shapes:
            report_case(
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
        try:
            hidden, reference_hidden, message = _unrolled(cell, inputs, reference_parameters)
        except StudentCodeTimeout as error:
            report_case(report, description + " (hidden states and gradients)", str(error))
            return finish(report)
        if message is None:
            try:
                message = _gradients_message(
                    hidden,
                    [*parameters, inputs],
                    reference_hidden,
                    [*reference_parameters, inputs],
                    ("weight_ih", "weight_hh", "norm.weight", "norm.bias", "inputs"),
                    generator,
                    "hidden state carries",
                    through=f" through {steps} step(s)",
                )
            except StudentCodeTimeout as error:
                report_case(report, description + " (hidden states and gradients)", str(error))
                return finish(report)
        report_case(report, description + " (hidden states and gradients)", message)
    return finish(report)
