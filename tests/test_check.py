"""The students' self-checks (lnutils.check) pass for correct code and catch the classic bugs."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lnutils import check, layers, norms, student_code
from lnutils.mlp import MLPStack


@pytest.mark.parametrize(
    "name,ours",
    [
        ("layer_norm", norms.layer_norm),
        ("batch_norm", norms.batch_norm),
        ("group_norm", norms.group_norm),
        ("rms_norm", norms.rms_norm),
    ],
)
def test_self_checks_pass_for_lnutils(name, ours, capsys):
    report = getattr(check, name)(ours)
    assert report.passed and "all" in capsys.readouterr().out


def test_self_check_finds_the_classic_wrong_layer_norm(capsys):
    def unbiased_std_layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
        mu = x.mean(-1, keepdim=True)
        out = (x - mu) / x.std(-1, keepdim=True)  # unbiased std, ε outside: a common bug
        return out * weight + bias if weight is not None else out

    report = check.layer_norm(unbiased_std_layer_norm)
    out = capsys.readouterr().out
    assert not report.passed
    assert "smallest failing input: input (1, 3), normalized_shape (3,), no affine" in out and "expected" in out


def test_self_check_batch_norm_catches_biased_running_var(capsys):
    def biased_running_var(x, running_mean, running_var, weight=None, bias=None, training=True, momentum=0.1, eps=1e-5):
        out = F.batch_norm(x, None, None, weight, bias, True, momentum, eps)
        with torch.no_grad():
            dims = [0] + list(range(2, x.dim()))
            running_mean.mul_(1 - momentum).add_(momentum * x.mean(dims))
            running_var.mul_(1 - momentum).add_(momentum * x.var(dims, unbiased=False))
        return out

    assert not check.batch_norm(biased_running_var).passed
    assert "running_var after one step" in capsys.readouterr().out


def test_verbose_false_prints_nothing(capsys):
    assert check.layer_norm(norms.layer_norm, verbose=False).passed
    assert capsys.readouterr().out == ""


def test_a_failing_check_is_falsy_and_counts_its_cases():
    def wrong(x, normalized_shape, weight=None, bias=None, eps=1e-5):
        return x - x.mean(-1, keepdim=True)

    report = check.layer_norm(wrong, verbose=False)
    assert not report and "0/10 cases passed" in repr(report)


# --------------------------------------------------------------- chapter 3: layer norm over (C, H, W)


def layer_norm_chw(x, weight=None, bias=None, eps=1e-5):
    y = F.layer_norm(x, x.shape[1:], eps=eps)
    if weight is not None:
        y = y * weight.view(1, -1, 1, 1)
    if bias is not None:
        y = y + bias.view(1, -1, 1, 1)
    return y


def test_layer_norm_chw_check_passes_for_group_norm_with_one_group():
    assert check.layer_norm_chw(layer_norm_chw, verbose=False).passed
    assert check.layer_norm_chw(
        lambda x, w=None, b=None, eps=1e-5: norms.group_norm(x, 1, w, b, eps), verbose=False
    ).passed


def test_layer_norm_chw_check_catches_normalizing_over_channels_only(capsys):
    def over_channels(x, weight=None, bias=None, eps=1e-5):  # LN(C) at each position: the other reading
        y = F.layer_norm(x.movedim(1, -1), x.shape[1:2], eps=eps).movedim(-1, 1)
        return y if weight is None else y * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)

    assert not check.layer_norm_chw(over_channels).passed
    assert "smallest failing input: input (1, 2, 3, 3), no affine" in capsys.readouterr().out


# --------------------------------------------------------------- chapter 2: the paper's network in torch.nn


def paper_layer_norm_mlp():
    return nn.Sequential(
        nn.Linear(784, 1000, bias=False),
        nn.LayerNorm(1000),
        nn.ReLU(),
        nn.Linear(1000, 1000, bias=False),
        nn.LayerNorm(1000),
        nn.ReLU(),
        nn.Linear(1000, 10),
    )


def test_mlp_check_passes_for_the_paper_network():
    report = check.mlp(paper_layer_norm_mlp, verbose=False)
    assert report.passed and len(report.results) == 7  # shapes + 3 batch sizes x (train, eval)


def test_mlp_check_passes_for_batch_norm_and_the_reference_itself():
    assert check.mlp(MLPStack("batch norm", [3]).to_sequential(0), method="batch norm", verbose=False).passed
    assert check.mlp(lambda: MLPStack("baseline", [1]).to_sequential(0), method="baseline", verbose=False).passed


def test_mlp_check_explains_a_layer_norm_before_the_softmax(capsys):
    def normalized_logits():
        return nn.Sequential(*paper_layer_norm_mlp(), nn.LayerNorm(10))

    assert not check.mlp(normalized_logits).passed
    out = capsys.readouterr().out
    assert "FAIL  parameter shapes" in out and "(10,)" in out and "no normalization before the softmax" in out


def test_mlp_check_catches_the_wrong_order_of_norm_and_nonlinearity(capsys):
    def relu_first():
        return nn.Sequential(
            nn.Linear(784, 1000, bias=False),
            nn.ReLU(),
            nn.LayerNorm(1000),
            nn.Linear(1000, 1000, bias=False),
            nn.ReLU(),
            nn.LayerNorm(1000),
            nn.Linear(1000, 10),
        )

    assert not check.mlp(relu_first).passed
    assert "logits differs" in capsys.readouterr().out


def test_mlp_check_reports_an_unfinished_stub(capsys):
    def stub():
        raise NotImplementedError("Exercise: build it")

    assert not check.mlp(stub).passed
    assert "NotImplementedError: Exercise: build it" in capsys.readouterr().out


# --------------------------------------------------------------- chapter 4: a layer-normalized RNN cell


class LNRNNCell(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.weight_ih = nn.Parameter(torch.randn(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.randn(hidden_size, hidden_size))
        self.norm = layers.LayerNorm(hidden_size)

    def forward(self, x, h):
        return torch.tanh(self.norm(h @ self.weight_hh.T + x @ self.weight_ih.T))


def test_rnn_cell_check_passes_for_eq_5():
    report = check.layer_norm_rnn_cell(LNRNNCell, verbose=False)
    assert report.passed and len(report.results) == 3


def test_rnn_cell_check_catches_separate_normalizations(capsys):
    class TwoNorms(LNRNNCell):  # normalizes the two terms separately, like the LN-LSTM: not Eq. 4
        def forward(self, x, h):
            return torch.tanh(self.norm(h @ self.weight_hh.T) + self.norm(x @ self.weight_ih.T))

    assert not check.layer_norm_rnn_cell(TwoNorms).passed
    out = capsys.readouterr().out
    assert "PASS  input 2, hidden 3, batch 1, 1 step(s)" not in out and "hidden state at step 1 differs" in out


def test_rnn_cell_check_catches_swapped_weights_and_unused_gain(capsys):
    class Transposed(LNRNNCell):
        def forward(self, x, h):
            return torch.tanh(
                F.layer_norm(h @ self.weight_hh + x @ self.weight_ih.T, (h.shape[-1],), None, self.norm.bias)
            )

    assert not check.layer_norm_rnn_cell(Transposed).passed
    assert "FAIL" in capsys.readouterr().out


def test_rnn_cell_check_reports_wrong_parameter_shapes_and_stubs(capsys):
    class Stub(nn.Module):
        def __init__(self, input_size, hidden_size):
            raise NotImplementedError("Exercise: write it")

    class WrongShapes(LNRNNCell):
        def __init__(self, input_size, hidden_size):
            super().__init__(input_size, hidden_size)
            self.weight_ih = nn.Parameter(torch.randn(input_size, hidden_size))

    assert not check.layer_norm_rnn_cell(Stub).passed
    assert not check.layer_norm_rnn_cell(WrongShapes).passed
    out = capsys.readouterr().out
    assert "NotImplementedError: Exercise: write it" in out and "have shapes" in out


# ----------------------------------------------------------------------------- student code that misbehaves


class _RaisesInBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        return input.clone()

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("my backward is not written yet")


def test_a_backward_that_raises_is_a_failure_not_a_crash():
    def layer_norm_with_broken_backward(input, normalized_shape, weight=None, bias=None, eps=1e-5):
        return _RaisesInBackward.apply(F.layer_norm(input, normalized_shape, weight, bias, eps))

    report = check.layer_norm(layer_norm_with_broken_backward, verbose=False)
    assert not report.passed
    assert any("backward pass raised RuntimeError" in message for _, _, message in report.results)


@pytest.mark.parametrize(
    "returned, hint",
    [
        (lambda x: x.detach().numpy(), "NumPy array"),
        (lambda x: [x], "returned a list"),
        (lambda x: None, "a missing `return`"),
        (lambda x: x.float(), "is torch.float32"),
    ],
)
def test_wrong_kinds_of_return_value_get_a_hint(returned, hint):
    def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
        return returned(F.layer_norm(input, normalized_shape, weight, bias, eps))

    report = check.layer_norm(layer_norm, verbose=False)
    assert not report.passed and any(hint in message for _, _, message in report.results), report.results[0]


def test_a_model_builder_that_returns_nothing_and_a_detached_model():
    report = check.mlp(lambda: None, verbose=False)
    assert not report.passed and "expected a torch.nn.Module" in report.results[0][2]

    class Detached(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = MLPStack("layer norm", [0]).to_sequential(0)

        def forward(self, x):
            return self.inner(x).detach()

    report = check.mlp(Detached, verbose=False)
    assert not report.passed and any("carry no gradient" in message for _, _, message in report.results)


def test_a_looping_student_function_times_out(monkeypatch):
    monkeypatch.setattr(student_code, "SECONDS_PER_CALL", 0.2)

    def loops_forever(input, normalized_shape, weight=None, bias=None, eps=1e-5):
        while True:
            pass

    report = check.layer_norm(loops_forever, verbose=False)
    assert not report.passed and "still running after 0.2 s" in report.results[0][2]


def _layer_norm_with(correction=0, eps_inside=True, affine=True):
    def function(x, shape, weight=None, bias=None, eps=1e-5):
        axes = tuple(range(x.dim() - len(shape), x.dim()))
        mean = x.mean(dim=axes, keepdim=True)
        variance = x.var(dim=axes, keepdim=True, correction=correction)
        y = (x - mean) / (torch.sqrt(variance + eps) if eps_inside else torch.sqrt(variance) + eps)
        return y * weight + bias if affine and weight is not None else y

    return function


@pytest.mark.parametrize(
    "mistake, named",
    [
        (dict(correction=1), "the unbiased variance"),
        (dict(eps_inside=False), "outside the square root"),
        (dict(affine=False), "the gain and bias (g, b) were not applied"),
    ],
)
def test_the_layer_norm_check_names_the_common_mistakes(mistake, named, capsys):
    report = check.layer_norm(_layer_norm_with(**mistake))
    assert not report
    assert named in capsys.readouterr().out


def test_a_numpy_layer_norm_without_a_gradient_does_not_pass(capsys):
    def numpy_layer_norm(x, shape, weight=None, bias=None, eps=1e-5):
        a = x.detach().numpy()
        y = (a - a.mean(-1, keepdims=True)) / (a.var(-1, keepdims=True) + eps) ** 0.5
        return torch.from_numpy(y * weight.detach().numpy() + bias.detach().numpy() if weight is not None else y)

    assert not check.layer_norm(numpy_layer_norm)
    assert "carries no gradient" in capsys.readouterr().out


def test_an_integer_result_is_named_as_such(capsys):
    assert not check.layer_norm(lambda x, shape, weight=None, bias=None, eps=1e-5: x.long())
    out = capsys.readouterr().out
    assert "an integer type" in out and "lowers the precision" not in out


def test_a_missing_alpha_gradient_is_named_alpha_when_weight_and_bias_are_none(capsys):
    def detached_alpha(x, alpha, weight=None, bias=None):
        y = torch.tanh(alpha.detach() * x)
        return y if weight is None else y * weight + bias

    assert not check.dynamic_tanh(detached_alpha)
    out = capsys.readouterr().out
    assert "gradient of alpha" in out and "gradient of weight differs (no gradient" not in out
    assert check.labelled([1, None, None, 2]) == [("input", 1), ("alpha", 2)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the probe copy is forked where fork exists")
def test_stopping_a_check_leaves_no_probe_copy_running(monkeypatch):
    """Issue 38 #6: Ctrl-C (or Jupyter's interrupt, which reaches only the kernel) during a self-check left
    the forked probe copy spinning forever.  The interrupted wait now kills and reaps it."""
    forked = []
    real_fork = os.fork

    def recording_fork():
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    def endless(*args):
        while True:
            pass

    def interrupted_sleep(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(student_code.os, "fork", recording_fork)
    monkeypatch.setattr(student_code.time, "sleep", interrupted_sleep)
    with pytest.raises(KeyboardInterrupt):
        student_code.finishes(endless, (), 30.0)
    assert len(forked) == 1
    with pytest.raises(ChildProcessError):  # already killed and reaped: no such child any more
        os.waitpid(forked[0], os.WNOHANG)


def _batch_norm_with(correction=0, eps_inside=True, per_case=False):
    def function(x, running_mean, running_var, weight=None, bias=None, training=True, momentum=0.1, eps=1e-5):
        axes = tuple(range(1, x.dim())) if per_case else (0,) + tuple(range(2, x.dim()))
        mean = x.mean(dim=axes, keepdim=True)
        variance = x.var(dim=axes, keepdim=True, correction=correction)
        y = (x - mean) / (torch.sqrt(variance + eps) if eps_inside else torch.sqrt(variance) + eps)
        shape = (1, x.shape[1]) + (1,) * (x.dim() - 2)
        with torch.no_grad():  # the running statistics right, so that the output is what is judged
            dims = [0] + list(range(2, x.dim()))
            running_mean.mul_(1 - momentum).add_(momentum * x.mean(dims))
            running_var.mul_(1 - momentum).add_(momentum * x.var(dims, unbiased=True))
        return y * weight.reshape(shape) + bias.reshape(shape) if weight is not None else y

    return function


@pytest.mark.parametrize(
    "mistake, named",
    [
        (dict(correction=1), "normalized with the unbiased variance"),
        (dict(eps_inside=False), "outside the square root"),
        (dict(per_case=True), "statistics over each case's features"),
    ],
)
def test_the_batch_norm_check_names_the_common_mistakes(mistake, named, capsys):
    assert not check.batch_norm(_batch_norm_with(**mistake))
    assert named in capsys.readouterr().out


def test_the_batch_norm_check_names_a_biased_running_variance(capsys):
    def biased(x, running_mean, running_var, weight=None, bias=None, training=True, momentum=0.1, eps=1e-5):
        with torch.no_grad():
            dims = [0] + list(range(2, x.dim()))
            running_mean.mul_(1 - momentum).add_(momentum * x.mean(dims))
            running_var.mul_(1 - momentum).add_(momentum * x.var(dims, unbiased=False))
        return F.batch_norm(x, None, None, weight, bias, True, momentum, eps)

    assert not check.batch_norm(biased)
    assert "running_var updated with the biased variance" in capsys.readouterr().out


def test_the_layer_norm_check_names_statistics_over_the_batch(capsys):
    def over_the_batch(x, shape, weight=None, bias=None, eps=1e-5):
        mean = x.mean(0, keepdim=True)
        y = (x - mean) / torch.sqrt(((x - mean) ** 2).mean(0, keepdim=True) + eps)
        return y * weight + bias if weight is not None else y

    assert not check.layer_norm(over_the_batch)
    assert "statistics over the batch (axis 0)" in capsys.readouterr().out


def test_the_rms_norm_check_names_a_subtracted_mean(capsys):
    def centred(x, shape, weight=None, eps=1e-6):
        axes = tuple(range(x.dim() - len(shape), x.dim()))
        y = (x - x.mean(axes, keepdim=True)) / torch.sqrt(x.var(axes, keepdim=True, unbiased=False) + eps)
        return y * weight if weight is not None else y

    assert not check.rms_norm(centred)
    assert "the mean subtracted" in capsys.readouterr().out


def test_the_group_norm_check_names_interleaved_groups(capsys):
    def interleaved(x, groups, weight=None, bias=None, eps=1e-5):
        n, c = x.shape[:2]
        parts = x.reshape(n, c // groups, groups, -1).transpose(1, 2).reshape(n, groups, -1)
        mean = parts.mean(-1, keepdim=True)
        y = (parts - mean) / torch.sqrt(((parts - mean) ** 2).mean(-1, keepdim=True) + eps)
        y = y.reshape(n, groups, c // groups, -1).transpose(1, 2).reshape(x.shape)
        shape = (1, c) + (1,) * (x.dim() - 2)
        return y * weight.reshape(shape) + bias.reshape(shape) if weight is not None else y

    assert not check.group_norm(interleaved)
    assert "grouped by c mod G" in capsys.readouterr().out


def test_the_dynamic_tanh_check_names_alpha_after_the_tanh(capsys):
    def outside(x, alpha, weight=None, bias=None):
        y = alpha * torch.tanh(x)
        return y * weight + bias if weight is not None else y

    assert not check.dynamic_tanh(outside)
    assert "α applied after the tanh" in capsys.readouterr().out


def test_the_chw_layer_norm_check_names_instance_norm(capsys):
    def instance(x, weight=None, bias=None, eps=1e-5):
        return F.instance_norm(x, weight=weight, bias=bias, eps=eps)

    assert not check.layer_norm_chw(instance)
    assert "instance norm, not layer norm" in capsys.readouterr().out


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
    monkeypatch.setattr(student_code, "SECONDS_PER_CALL", 0.3)

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
