"""The layers against PyTorch's own test inputs: the OpInfo sample and error inputs that
PyTorch's suite runs for F.layer_norm, batch_norm, group_norm, instance_norm and
rms_norm (``torch.testing._internal.common_methods_invocations``).  For every sample:
the same output, the same gradients (float64) and the same running statistics; for
every error input: an error from ours too."""

from __future__ import annotations

import copy

import pytest
import torch

from lnutils import norms

common = pytest.importorskip("torch.testing._internal.common_methods_invocations", reason="needs expecttest")

OURS = {
    "nn.functional.layer_norm": norms.layer_norm,
    "nn.functional.batch_norm": norms.batch_norm,
    "nn.functional.group_norm": norms.group_norm,
    "nn.functional.instance_norm": norms.instance_norm,
    "nn.functional.rms_norm": norms.rms_norm,
}
OPS = [op for op in common.op_db if op.name in OURS and op.variant_test_name == ""]


def _clone(value):
    if isinstance(value, torch.Tensor):
        cloned = value.detach().clone()
        return cloned.requires_grad_() if value.requires_grad else cloned
    return copy.deepcopy(value)


def _samples(op, dtype):
    return list(op.sample_inputs("cpu", dtype, requires_grad=dtype.is_floating_point and dtype == torch.float64))


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name.split(".")[-1])
def test_sample_inputs_match_torch(op):
    samples = _samples(op, torch.float64)
    assert samples, "no sample inputs"
    for index, sample in enumerate(samples):
        mine = [_clone(t) for t in (sample.input, *sample.args)]
        mine_kwargs = {k: _clone(v) for k, v in sample.kwargs.items()}
        theirs = [_clone(t) for t in (sample.input, *sample.args)]
        theirs_kwargs = {k: _clone(v) for k, v in sample.kwargs.items()}
        label = f"{op.name} sample {index}: input {tuple(sample.input.shape)}, kwargs {sorted(sample.kwargs)}"
        expected = op.op(*theirs, **theirs_kwargs)
        got = OURS[op.name](*mine, **mine_kwargs)
        torch.testing.assert_close(got, expected, msg=lambda m: f"{label}: output: {m}")
        for name, ours_value in mine_kwargs.items():  # running statistics updated in place
            if isinstance(ours_value, torch.Tensor) and name.startswith("running"):
                torch.testing.assert_close(ours_value, theirs_kwargs[name], msg=lambda m: f"{label}: {name}: {m}")
        leaves = [(i, t) for i, t in enumerate(theirs) if isinstance(t, torch.Tensor) and t.requires_grad]
        leaves += [(k, v) for k, v in theirs_kwargs.items() if isinstance(v, torch.Tensor) and v.requires_grad]
        if expected.requires_grad and expected.numel() and leaves:
            upstream = torch.randn(expected.shape, generator=torch.Generator().manual_seed(index), dtype=expected.dtype)
            mine_leaves = [mine[key] if isinstance(key, int) else mine_kwargs[key] for key, _ in leaves]
            grads_theirs = torch.autograd.grad(expected, [t for _, t in leaves], upstream, allow_unused=True)
            grads_mine = torch.autograd.grad(got, mine_leaves, upstream, allow_unused=True)
            for (key, _), g_mine, g_theirs in zip(leaves, grads_mine, grads_theirs):
                if g_theirs is None:
                    continue
                torch.testing.assert_close(g_mine, g_theirs, msg=lambda m: f"{label}: gradient of {key}: {m}")


def _call(function, sample, dtype=None):
    convert = (
        (lambda t: t.detach().to(dtype) if isinstance(t, torch.Tensor) and t.is_floating_point() else _clone(t))
        if dtype
        else _clone
    )
    return function(
        convert(sample.input), *map(convert, sample.args), **{k: convert(v) for k, v in sample.kwargs.items()}
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name.split(".")[-1])
def test_sample_inputs_in_lower_precision_are_as_accurate_as_torch(op, dtype):
    """float16 / bfloat16 / float32: the output dtype of torch, and an error against the float64
    result no larger than torch's own (plus one unit in the last place)."""
    resolution = torch.finfo(dtype).eps
    for index, sample in enumerate(_samples(op, dtype)):
        expected = _call(op.op, sample)
        got = _call(OURS[op.name], sample)
        assert got.dtype == expected.dtype, f"{op.name} sample {index}: dtype {got.dtype}, torch {expected.dtype}"
        exact = _call(op.op, sample, torch.float64)
        torch_error = (expected.double() - exact).abs().max().item() if exact.numel() else 0.0
        ours_error = (got.double() - exact).abs()
        allowed = torch_error + resolution * (1 + exact.abs())
        assert bool((ours_error <= allowed).all()), (
            f"{op.name} sample {index} in {dtype}: error {ours_error.max().item():.3g}, torch's {torch_error:.3g}"
        )


@pytest.mark.parametrize(
    "op", [op for op in OPS if op.error_inputs_func is not None], ids=lambda op: op.name.split(".")[-1]
)
def test_error_inputs_raise(op):
    for error in op.error_inputs("cpu"):
        sample = error.sample_input
        with pytest.raises(Exception):
            OURS[op.name](sample.input, *sample.args, **sample.kwargs)
