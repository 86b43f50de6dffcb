"""lnutils.cnn: the conv chapter's network and its normalization variants."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lnutils import cnn
from lnutils.cnn import NORMALIZATIONS, ChannelLayerNorm, RMSNorm2d, SmallCNN, make_norm


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_shapes_and_backward(normalization):
    model = SmallCNN(normalization)
    logits = model(torch.rand(4, 1, 28, 28))
    assert logits.shape == (4, 10)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert [t.shape[1:] for t in model.pre_activations(torch.rand(2, 1, 28, 28))] == [
        (16, 28, 28),
        (32, 14, 14),
        (64, 7, 7),
    ]


def test_layer_norm_chw_is_groupnorm_with_one_group():
    x = torch.randn(3, 8, 5, 5, dtype=torch.float64)
    ours, theirs = make_norm("layer norm (C,H,W)", 8).double(), nn.GroupNorm(1, 8).double()
    with torch.no_grad():
        theirs.weight.normal_(), theirs.bias.normal_()
    ours.load_state_dict(theirs.state_dict())
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-10, rtol=1e-10)


def test_layer_norm_c_is_channels_last_layernorm():
    x = torch.randn(3, 8, 5, 5, dtype=torch.float64)
    ours, theirs = ChannelLayerNorm(8).double(), nn.LayerNorm(8).double()
    with torch.no_grad():
        theirs.weight.normal_(), theirs.bias.normal_()
    ours.norm.load_state_dict(theirs.state_dict())
    expected = theirs(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    torch.testing.assert_close(ours(x), expected, atol=1e-10, rtol=1e-10)
    assert torch.autograd.gradcheck(lambda t: ours(t), (x.clone().requires_grad_(),))


def test_rms_norm_2d_definition():
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    rms = torch.sqrt((x**2).mean(dim=(1, 2, 3), keepdim=True) + 1e-5)
    torch.testing.assert_close(RMSNorm2d(4).double()(x), x / rms)


def test_unknown_normalization_and_bad_input():
    with pytest.raises(ValueError, match="unknown normalization 'weight norm'"):
        make_norm("weight norm", 8)
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 1, H, W\)"):
        SmallCNN()(torch.rand(4, 784))


# ----------------------------------------------------------------------------- lnutils.experiments.conv

from lnutils.experiments import conv  # noqa: E402
from lnutils.report import conv as conv_words  # noqa: E402


def test_cnn_stack_runs_each_network_on_its_own_batch():
    stack = conv.CNNStack("layer norm (C,H,W)", [0, 1])
    batches = torch.rand(2, 3, 784)
    logits = stack(batches)
    assert logits.shape == (2, 3, 10)
    torch.testing.assert_close(logits[1], stack.networks[1](batches[1].reshape(-1, 1, 28, 28)))
    # network k's initialisation depends on its seed only
    torch.testing.assert_close(
        stack.networks[1].classifier.weight,
        conv.CNNStack("layer norm (C,H,W)", [1]).networks[0].classifier.weight,
    )


def test_border_probe_on_a_known_pattern():
    assert conv.border_mask(4, 4, 1).sum() == 12
    rows = conv.border_statistics(SmallCNN("none"), torch.rand(5, 1, 28, 28))
    assert [r["size"] for r in rows] == ["28×28", "14×14", "7×7"]
    assert all(0 <= r["active at border"] <= 1 and r["channel scale ratio"] >= 1 for r in rows)


def test_conv_profiles():
    rates = {name: 1e-3 for name in NORMALIZATIONS}
    quick = conv.profile_configs("quick", rates)
    assert [c.batch_size for c in quick] == [128, 4]
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        conv.profile_configs("fast", rates)


def test_border_verdict_and_saved_results_rendering(tmp_path):
    networks = {name: conv.SmallCNN(name) for name in ("layer norm (C,H,W)", "batch norm")}
    probe = conv.border_probe(networks, torch.rand(6, 1, 28, 28))
    assert list(probe) == ["batch norm", "layer norm (C,H,W)"]  # only the networks present, in the book's order
    text = conv_words.border_sentences(probe)
    assert text.count("Block") == 3 and "border hypothesis" in text
    assert conv_words.border_markdown(probe).count("\n") == 2 + 2 * 3 - 1
    assert "No saved paper-profile run" in conv_words.conv_saved_markdown(conv.saved_results("paper", tmp_path))
    record = {
        "dataset": "mnist",
        "batch_size": 4,
        "config": {"seeds": [0, 1], "epochs": 2},
        "curves": {"test_error": {"none": [[0.5, 0.4], [0.3, 0.2]]}},
        "provenance": {"device": "cpu", "wall_seconds": 120, "commit": "abc", "data": {"checksum": "f" * 64}},
    }
    parts = [{"datasets": ["mnist"], "batch_size": 4}, {"datasets": ["mnist"], "batch_size": 128}]
    saved = {"config": {"parts": parts}, "parts": {"mnist, batch 4": record}, "complete": False}
    (tmp_path / "conv_paper.json").write_text(__import__("json").dumps(saved))
    shown = conv_words.conv_saved_markdown(conv.saved_results("paper", tmp_path))
    assert (
        "| mnist, batch 4 | [0, 1] | 2 epochs at a constant rate | complete | 2 min |" in shown
        and "Rule: no convergence check recorded." in shown
        and "- mnist, batch 4: cpu, commit `abc`" in shown
        and "25.00 ± 7.07" in shown
        and "1 of 2 parts finished" in shown
    )  # sample standard deviation of 20 and 30


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("training", [True, False])
def test_the_grouped_stack_computes_what_the_networks_compute_one_by_one(normalization, training):
    """K networks as one computation (grouped convolutions over concatenated weights): the same outputs,
    gradients of every network's own parameters, and BatchNorm running statistics, in float64."""
    from lnutils.experiments.conv import CNNStack

    looped = CNNStack(normalization, [0, 1, 2], grouped=False).double()
    grouped = CNNStack(normalization, [0, 1, 2], grouped=True).double()
    generator = torch.Generator().manual_seed(1)
    warm = torch.rand(3, 6, 784, generator=generator, dtype=torch.float64)
    looped(warm), grouped(warm)  # training mode: BN running statistics move in both
    looped.train(training), grouped.train(training)
    x = torch.rand(3, 6, 784, generator=generator, dtype=torch.float64)
    expected, got = looped(x), grouped(x)
    torch.testing.assert_close(got, expected)
    expected.square().sum().backward()
    got.square().sum().backward()
    for (name, a), b in zip(looped.named_parameters(), grouped.parameters()):
        torch.testing.assert_close(b.grad, a.grad, msg=name)
    for (name, a), b in zip(looped.named_buffers(), grouped.buffers()):
        torch.testing.assert_close(b, a, msg=name)


def test_the_stack_groups_small_batches_and_loops_large_ones(monkeypatch):
    calls = []
    monkeypatch.setattr(cnn, "grouped_forward", lambda networks, images: calls.append(images.shape[1]) or 0)
    stack = cnn.CNNStack("layer norm (C,H,W)", [0, 1])
    stack(torch.rand(2, 4, 784))
    assert calls == [4]
    stack(torch.rand(2, cnn.GROUPED_UP_TO_BATCH + 1, 784))
    assert calls == [4]  # the large batch went through the networks one by one
