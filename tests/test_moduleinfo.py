"""The modules against PyTorch's own ModuleInfo inputs (torch.testing._internal.common_modules):
the same constructor arguments and forward inputs that PyTorch's suite uses for its
BatchNorm1d/2d, GroupNorm, InstanceNorm2d, LayerNorm and RMSNorm, in train and eval mode.
For each: the same output, the same gradients (float64) and the same buffers afterwards;
for each error input, an error from ours too."""

from __future__ import annotations

import pytest
import torch

from lnutils import layers

common = pytest.importorskip("torch.testing._internal.common_modules", reason="needs expecttest")

OURS = {
    "BatchNorm1d": layers.BatchNorm1d,
    "BatchNorm2d": layers.BatchNorm2d,
    "GroupNorm": layers.GroupNorm,
    "InstanceNorm2d": layers.InstanceNorm2d,
    "LayerNorm": layers.LayerNorm,
    "RMSNorm": layers.RMSNorm,
}
MODULES = [info for info in common.module_db if info.module_cls.__name__ in OURS]


def _clone(value):
    if isinstance(value, torch.Tensor):
        cloned = value.detach().clone()
        return cloned.requires_grad_(value.requires_grad)
    return value


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("info", MODULES, ids=lambda info: info.module_cls.__name__)
def test_module_inputs_match_torch(info, training):
    name = info.module_cls.__name__
    inputs = info.module_inputs_func(info, device="cpu", dtype=torch.float64, requires_grad=True, training=training)
    assert inputs
    for case in inputs:
        mode = "train" if training else "eval"
        label = f"{name}{case.constructor_input.args} {case.constructor_input.kwargs} ({case.desc}, {mode})"
        theirs = info.module_cls(*case.constructor_input.args, **case.constructor_input.kwargs).double()
        ours = OURS[name](*case.constructor_input.args, **case.constructor_input.kwargs).double()
        assert sorted(ours.state_dict()) == sorted(theirs.state_dict()), label
        ours.load_state_dict(theirs.state_dict())
        theirs.train(training), ours.train(training)
        args_theirs = [_clone(a) for a in case.forward_input.args]
        args_ours = [_clone(a) for a in case.forward_input.args]
        expected, got = theirs(*args_theirs), ours(*args_ours)
        torch.testing.assert_close(got, expected, msg=lambda m: f"{label}: output: {m}")
        for (key, mine), (_, reference) in zip(sorted(ours.state_dict().items()), sorted(theirs.state_dict().items())):
            torch.testing.assert_close(mine, reference, msg=lambda m: f"{label}: {key} after forward: {m}")
        if expected.requires_grad and expected.numel():
            upstream = torch.randn(expected.shape, generator=torch.Generator().manual_seed(0), dtype=expected.dtype)
            leaves_theirs = [a for a in args_theirs if isinstance(a, torch.Tensor) and a.requires_grad] + list(
                theirs.parameters()
            )
            leaves_ours = [a for a in args_ours if isinstance(a, torch.Tensor) and a.requires_grad] + list(
                ours.parameters()
            )
            grads_theirs = torch.autograd.grad(expected, leaves_theirs, upstream, allow_unused=True)
            grads_ours = torch.autograd.grad(got, leaves_ours, upstream, allow_unused=True)
            for index, (mine, reference) in enumerate(zip(grads_ours, grads_theirs)):
                if reference is not None:
                    torch.testing.assert_close(mine, reference, msg=lambda m: f"{label}: gradient {index}: {m}")


@pytest.mark.parametrize(
    "info", [info for info in MODULES if info.module_error_inputs_func], ids=lambda info: info.module_cls.__name__
)
def test_module_error_inputs_raise(info):
    name = info.module_cls.__name__
    for error in info.module_error_inputs_func(
        info, device="cpu", dtype=torch.float64, requires_grad=True, training=True
    ):
        case = error.module_error_input
        with pytest.raises(Exception):
            module = OURS[name](*case.constructor_input.args, **case.constructor_input.kwargs)
            module(*case.forward_input.args, **case.forward_input.kwargs)
