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
