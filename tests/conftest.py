"""Shared test settings: deterministic and single-threaded (the tensors here are tiny)."""
import warnings

import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield
