"""lnutils.cnn: the conv chapter's network and its normalization variants (groundwork for issue 5)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from lnutils.cnn import NORMALIZATIONS, ChannelLayerNorm, RMSNorm2d, SmallCNN, make_norm


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_shapes_and_backward(normalization):
    model = SmallCNN(normalization)
    logits = model(torch.rand(4, 1, 28, 28))
    assert logits.shape == (4, 10)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert [t.shape[1:] for t in model.pre_activations(torch.rand(2, 1, 28, 28))] == [(16, 28, 28), (32, 14, 14), (64, 7, 7)]


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
