"""A small GPT-style character model, with the normalization's place and kind chosen by name.

One block, in the two places a norm can sit (Xiong et al. 2020, Figure 1)::

    post-LN (Vaswani et al. 2017):    x ← N₁(x + Attention(x));      x ← N₂(x + FFN(x))
    pre-LN  (GPT-2, nanoGPT):         x ← x + Attention(N₁(x));      x ← x + FFN(N₂(x))

with a final N_f before the output layer in pre-LN only (a post-LN block already ends in a
norm).  N is one of :data:`NORMS`: the book's :class:`lnutils.layers.LayerNorm`,
:class:`~lnutils.layers.RMSNorm`, :class:`~lnutils.layers.DynamicTanh`, or none.

Attention is causal multi-head self-attention (Vaswani et al. 2017, Eq. 1):
softmax(Q Kᵀ / √d_k + M) V with M = −∞ above the diagonal; the FFN is
ReLU(x W₁ + b₁) W₂ + b₂ with a hidden width of 4d, as in both papers.

Initialization follows the assumption of Xiong et al.'s analysis (their Section 3.2): every
weight matrix W drawn from N(0, 1/fan_in) ("Xavier" in their words, for square maps), biases
zero, token embeddings N(0, 1) so that the input rows have ‖x‖² ≈ d, position embeddings zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lnutils import layers

PLACEMENTS = {"post": "post-LN", "pre": "pre-LN"}  # key -> label for display
NORMS = {"layer": "LayerNorm", "rms": "RMSNorm", "dyt": "Dynamic Tanh", "none": "no norm"}


def check_choice(what: str, value: str, choices: dict) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of {sorted(choices)}")


def make_norm(kind: str, width: int, alpha0: float = 0.5) -> nn.Module:
    """The normalization layer ``kind`` (a key of :data:`NORMS`) over the last dimension."""
    check_choice("normalization", kind, NORMS)
    if kind == "layer":
        return layers.LayerNorm(width)  # Ba et al. 2016, Eq. 4 over the d features of one position
    if kind == "rms":
        return layers.RMSNorm(width, eps=1e-6)  # Zhang & Sennrich 2019, Eq. 4
    if kind == "dyt":
        return layers.DynamicTanh(width, alpha0=alpha0)  # Zhu et al. 2025, Eq. 1
    return nn.Identity()


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a :class:`CharTransformer`."""

    vocabulary: int
    context: int  # the longest sequence the model reads (its position embeddings)
    width: int  # d, d_model
    layers: int  # L, the number of blocks
    heads: int

    def __post_init__(self):
        for name in ("vocabulary", "context", "width", "layers", "heads"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive whole number; got {value!r}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} must be divisible by heads {self.heads}")


class CausalSelfAttention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query_key_value = nn.Linear(width, 3 * width)
        self.output = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        batch, steps, width = x.shape
        q, k, v = self.query_key_value(x).split(width, dim=-1)
        q, k, v = (t.reshape(batch, steps, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        # softmax(Q Kᵀ / √d_k + M) V, M masking the future (Vaswani et al. 2017, Eq. 1)
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.output(attended.transpose(1, 2).reshape(batch, steps, width))


class FeedForward(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.expand = nn.Linear(width, 4 * width)  # W₁
        self.contract = nn.Linear(4 * width, width)  # W₂: "the last MLP weight" of Xiong et al.'s Figure 3

    def forward(self, x: Tensor) -> Tensor:
        return self.contract(F.relu(self.expand(x)))


class Block(nn.Module):
    """One Transformer layer with its two norms in the ``placement`` ('post' or 'pre')."""

    def __init__(self, width: int, heads: int, placement: str, norm: str, alpha0: float = 0.5):
        super().__init__()
        check_choice("placement", placement, PLACEMENTS)
        self.placement = placement
        self.attention = CausalSelfAttention(width, heads)
        self.feed_forward = FeedForward(width)
        self.attention_norm = make_norm(norm, width, alpha0)
        self.feed_forward_norm = make_norm(norm, width, alpha0)

    def forward(self, x: Tensor) -> Tensor:
        if self.placement == "pre":
            x = x + self.attention(self.attention_norm(x))
            return x + self.feed_forward(self.feed_forward_norm(x))
        x = self.attention_norm(x + self.attention(x))
        return self.feed_forward_norm(x + self.feed_forward(x))


class CharTransformer(nn.Module):
    """A decoder-only character model: embeddings, ``layers`` blocks, (final norm,) output layer."""

    def __init__(self, shape: ModelShape, placement: str = "pre", norm: str = "layer", alpha0: float = 0.5):
        super().__init__()
        check_choice("placement", placement, PLACEMENTS)
        check_choice("normalization", norm, NORMS)
        self.shape, self.placement, self.norm = shape, placement, norm
        self.token_embedding = nn.Embedding(shape.vocabulary, shape.width)
        self.position_embedding = nn.Embedding(shape.context, shape.width)
        self.blocks = nn.ModuleList(
            Block(shape.width, shape.heads, placement, norm, alpha0) for _ in range(shape.layers)
        )
        self.final_norm = make_norm(norm, shape.width, alpha0) if placement == "pre" else nn.Identity()
        self.head = nn.Linear(shape.width, shape.vocabulary)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xiong et al.'s assumptions: W ~ N(0, 1/fan_in), b = 0, token rows N(0, 1), positions 0."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=1 / math.sqrt(module.in_features))
                nn.init.zeros_(module.bias)
            elif module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        nn.init.normal_(self.token_embedding.weight)
        nn.init.zeros_(self.position_embedding.weight)

    def check_input(self, ids: Tensor) -> None:
        if ids.dim() != 2 or ids.dtype != torch.int64:
            raise ValueError(
                f"expected character ids of shape (batch, steps) and dtype int64; got shape {tuple(ids.shape)} "
                f"and dtype {ids.dtype} (encode text with Corpus.encode)"
            )
        if ids.shape[1] == 0:
            raise ValueError("an empty sequence (0 steps) has nothing to predict; pass at least one character id")
        vocabulary = self.token_embedding.num_embeddings
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocabulary):
            raise ValueError(
                f"character ids must lie in 0 to {vocabulary - 1} (the model's vocabulary); got ids from "
                f"{int(ids.min())} to {int(ids.max())}: encode with the corpus the model was built for"
            )
        if ids.shape[1] > self.shape.context:
            raise ValueError(
                f"{ids.shape[1]} steps is longer than the model's context of {self.shape.context}; "
                "cut the sequence or build the model with a longer context"
            )

    def forward(self, ids: Tensor) -> Tensor:
        """Logits of shape (batch, steps, vocabulary): position t predicts character t + 1."""
        self.check_input(ids)
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.token_embedding(ids) + self.position_embedding(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.final_norm(x))

    def loss(self, ids: Tensor, targets: Tensor) -> Tensor:
        """Mean cross-entropy in nats per character."""
        logits = self(ids)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
