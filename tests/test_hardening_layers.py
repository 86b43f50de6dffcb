"""Hardening, second round (4, 9): the layers behave as torch's where the first round did not look:
momentum=None in instance norm, reset_parameters, old state dicts, odd inputs, second derivatives."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lnutils import norms

PAIRS = [
    (lambda: norms.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3)),
    (lambda: norms.InstanceNorm2d(3, affine=True), lambda: torch.nn.InstanceNorm2d(3, affine=True)),
    (lambda: norms.GroupNorm(1, 3), lambda: torch.nn.GroupNorm(1, 3)),
    (lambda: norms.LayerNorm([3, 4, 4]), lambda: torch.nn.LayerNorm([3, 4, 4])),
]


def test_instance_norm_with_momentum_none_keeps_its_buffers_as_torch_does():
    ours = norms.InstanceNorm2d(3, momentum=None, track_running_stats=True)
    theirs = torch.nn.InstanceNorm2d(3, momentum=None, track_running_stats=True)
    for shift in range(3):
        x = torch.randn(2, 3, 4, 4) * 3 + 2 + shift
        torch.testing.assert_close(ours(x), theirs(x))
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    torch.testing.assert_close(ours.running_var, theirs.running_var)
    ours.eval(), theirs.eval()
    x = torch.randn(2, 3, 4, 4) * 3 + 2
    torch.testing.assert_close(ours(x), theirs(x))


@pytest.mark.parametrize("make", [pair[0] for pair in PAIRS] + [lambda: norms.RMSNorm(4), lambda: norms.DynamicTanh(4)])
def test_every_module_resets_its_parameters_as_torch_does(make):
    module = make()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(torch.randn_like(parameter))
    if isinstance(module, norms.BatchNorm2d):
        module(torch.randn(4, 3, 2, 2) * 5)
    module.reset_parameters()
    fresh = make()
    for (name, value), (_, expected) in zip(module.state_dict().items(), fresh.state_dict().items()):
        torch.testing.assert_close(value, expected, msg=name)


def test_a_batch_norm_state_dict_of_torchs_version_1_loads():
    old = torch.nn.BatchNorm2d(3).state_dict()
    del old["num_batches_tracked"]
    old._metadata = {"": {"version": 1}}
    ours = norms.BatchNorm2d(3)
    ours.load_state_dict(old)
    assert int(ours.num_batches_tracked) == 0
    theirs = torch.nn.BatchNorm2d(3)
    theirs.load_state_dict(old)
    with pytest.raises(RuntimeError, match="num_batches_tracked"):  # a current-format dict must be whole
        current = torch.nn.BatchNorm2d(3).state_dict()
        del current["num_batches_tracked"]
        norms.BatchNorm2d(3).load_state_dict(current)


def _outcome(module, x) -> str:
    try:
        y = module(x)
        return f"{y.dtype} {tuple(y.shape)}"
    except (RuntimeError, NotImplementedError, ValueError):
        return "error"


@pytest.mark.parametrize("pair", PAIRS, ids=["batch", "instance", "group", "layer"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize(
    "x",
    [
        torch.randn(2, 3, 0, 4),
        torch.randint(0, 5, (2, 3, 4, 4)),
        torch.randn(2, 3, 4, 4, dtype=torch.float64),
        torch.randn(2, 3, 4, 4, dtype=torch.complex64),
    ],
    ids=["empty spatial", "int64", "float64 into float32", "complex"],
)
def test_odd_inputs_behave_as_in_torch(pair, training, x):
    ours, theirs = pair[0]().train(training), pair[1]().train(training)
    if isinstance(ours, norms.LayerNorm) and x.shape[2] == 0:
        pytest.skip("the normalized shape is (3, 4, 4): an empty spatial input does not fit it in either")
    assert _outcome(ours, x) == _outcome(theirs, x)


def test_a_wrong_dtype_error_says_how_to_fix_it():
    with pytest.raises(RuntimeError, match=r"floating-point input, got torch.int64; convert it with \.float\(\)"):
        norms.LayerNorm(4)(torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(RuntimeError, match=r"mixed dtype.*module\.to\(torch\.float64\)"):
        norms.LayerNorm(4)(torch.ones(2, 4, dtype=torch.float64))


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda x, w, b: norms.layer_norm(x, (6,), w, b), lambda x, w, b: F.layer_norm(x, (6,), w, b)),
        (
            lambda x, w, b: norms.batch_norm(x, None, None, w, b, True),
            lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
        ),
        (
            lambda x, w, b: norms.group_norm(x.reshape(4, 6, 1), 2, w, b),
            lambda x, w, b: F.group_norm(x.reshape(4, 6, 1), 2, w, b),
        ),
    ],
    ids=["layer", "batch", "group"],
)
def test_second_derivatives_are_correct(ours, theirs):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, dtype=torch.float64, generator=generator, requires_grad=True)
    w = (torch.rand(6, dtype=torch.float64, generator=generator) + 0.5).requires_grad_()
    b = torch.randn(6, dtype=torch.float64, generator=generator, requires_grad=True)
    assert torch.autograd.gradgradcheck(ours, (x, w, b))
    # the gradient-penalty path that used to return None silently (allow_unused=True)
    for function in (ours, theirs):
        (gradient,) = torch.autograd.grad(function(x, w, b).square().sum(), x, create_graph=True)
        penalty = torch.autograd.grad(gradient.square().sum(), (x, w), allow_unused=True)
        assert all(p is not None for p in penalty)
        if function is ours:
            mine = penalty
    torch.testing.assert_close(mine, penalty)


# ----------------------------------------------------------------------------- 3: self-checks on ordinary mistakes

from lnutils import check  # noqa: E402


def _messages(report) -> str:
    return " | ".join(message for _, _, message in report.results)


class LinearCell(torch.nn.Module):
    """A natural student cell: nn.Linear layers instead of bare weights."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.weight_ih = torch.nn.Linear(input_size, hidden_size, bias=False)
        self.weight_hh = torch.nn.Linear(hidden_size, hidden_size, bias=False)
        self.norm = torch.nn.LayerNorm(hidden_size)

    def forward(self, x, h):
        return torch.tanh(self.norm(self.weight_hh(h) + self.weight_ih(x)))


class NoAffineCell(torch.nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.weight_ih = torch.nn.Parameter(torch.randn(hidden_size, input_size))
        self.weight_hh = torch.nn.Parameter(torch.randn(hidden_size, hidden_size))
        self.norm = torch.nn.LayerNorm(hidden_size, elementwise_affine=False)

    def forward(self, x, h):
        return torch.tanh(self.norm(h @ self.weight_hh.T + x @ self.weight_ih.T))


@pytest.mark.parametrize("cell, says", [(LinearCell, "is an nn.Linear"), (NoAffineCell, "elementwise_affine=False")])
def test_the_rnn_check_fails_unusual_cells_with_a_hint_instead_of_crashing(cell, says):
    report = check.layer_norm_rnn_cell(cell, verbose=False)
    assert not report.passed and says in _messages(report)


def _layer_norm(x, shape, w=None, b=None, eps=1e-5):
    return norms.layer_norm(x, shape, w, b, eps)


@pytest.mark.parametrize(
    "student, says",
    [
        (lambda x, s, w=None, b=None, eps=1e-5: _layer_norm(x, s, w, b, eps).to_sparse(), "to_dense"),
        (lambda x, s, w=None, b=None, eps=1e-5: _layer_norm(x, s, w, b, eps).to("meta"), "device"),
        (lambda x, s, w=None, b=None, eps=1e-5: _layer_norm(x, s, w, b, eps).to(torch.complex128), "complex"),
    ],
    ids=["sparse", "other device", "complex"],
)
def test_odd_return_values_fail_with_a_hint(student, says):
    report = check.layer_norm(student, verbose=False)
    assert not report.passed and says in _messages(report)


def test_a_function_that_changes_its_input_in_place_fails():
    def mutating(x, shape, w=None, b=None, eps=1e-5):
        with torch.no_grad():
            x -= x.mean(-1, keepdim=True)  # silently changes the caller's data
        return _layer_norm(x, shape, w, b, eps)

    report = check.layer_norm(mutating, verbose=False)
    assert not report.passed and "in place" in _messages(report)


def test_a_model_that_changes_its_input_in_place_fails_without_breaking_the_reference():
    from lnutils.mlp import MLPStack

    class Mutating(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = MLPStack("layer norm", [0]).to_sequential(0)

        def forward(self, x):
            x.mul_(1.0)  # harmless, but the check must not depend on it
            x.add_(1.0)
            return self.inner(x)

    report = check.mlp(Mutating, verbose=False)
    assert not report.passed and "in place" in _messages(report)


def test_an_endless_loop_in_a_bare_except_fails_the_whole_check_in_seconds(monkeypatch):
    monkeypatch.setattr(check, "SECONDS_PER_CALL", 0.3)

    def stubborn(x, shape, w=None, b=None, eps=1e-5):
        while True:
            try:
                while True:
                    pass
            except:  # noqa: E722 - the student's bare except swallows every exception
                continue

    started = __import__("time").monotonic()
    report = check.layer_norm(stubborn, verbose=False)
    assert __import__("time").monotonic() - started < 3
    assert not report.passed and "still running after 0.3 s" in report.results[0][2]
    assert all("not run" in message for _, _, message in report.results[1:])
