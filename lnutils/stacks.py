"""Stacks of K networks of one kind, one per seed: the form every experiment trains in lockstep
(:func:`lnutils.train.train_lockstep`).  The models' own stacks live beside the models:
:class:`lnutils.mlp.MLPStack`, :class:`lnutils.cnn.CNNStack`, :class:`lnutils.rnn.RNNStack`."""

from __future__ import annotations

from typing import Callable, Protocol

import torch
from torch import nn


class Stack(Protocol):
    """What :func:`train_lockstep` needs of a stack of K networks of one kind.

    ``seeds``: one seed per network.  Called on inputs of shape (K, B, features) (network
    k gets its own batch), it returns logits of shape (K, B, classes).  It is an
    ``nn.Module`` (``parameters``, ``state_dict``, ``train``/``eval``, ``to``).
    """

    seeds: list[int]

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor: ...


class SeededStack(nn.Module):
    """K networks of one kind, network k built from ``seeds[k]`` alone, in the :class:`Stack` form.

    Each network is built inside ``torch.random.fork_rng`` after ``manual_seed(seed)``, so
    it is the same network whether built alone or in a stack, and building a stack leaves
    the global random state as it found it.  Subclasses say how network k reads its
    batch of flattened images (:meth:`prepare`).
    """

    def __init__(self, kind: str, seeds: list[int], build: Callable[[], nn.Module]):
        super().__init__()
        self.kind, self.seeds = kind, list(seeds)
        networks = []
        for seed in self.seeds:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                networks.append(build())
        self.networks = nn.ModuleList(networks)

    def prepare(self, batch: torch.Tensor) -> torch.Tensor:
        """Network input from one network's (B, features) batch."""
        return batch

    def runs_grouped(self, batch_size: int) -> bool:
        """Whether a batch of this size runs the K networks as one computation (:meth:`grouped_forward`)
        rather than one after another; a subclass with a grouped form says when (as measured)."""
        return False

    def grouped_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """The K networks as one computation, the same numbers as one by one (subclasses that have one)."""
        raise NotImplementedError(f"{type(self).__name__} has no grouped form")

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != 3 or inputs.shape[0] != len(self.networks):
            raise ValueError(
                f"expected inputs of shape (K={len(self.networks)}, batch, features), got {list(inputs.shape)}"
            )
        if self.runs_grouped(inputs.shape[1]):
            return self.grouped_forward(inputs)
        return torch.stack([network(self.prepare(batch)) for network, batch in zip(self.networks, inputs)])
