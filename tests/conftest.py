"""Shared test settings: deterministic and single-threaded (the tensors here are tiny)."""
import warnings

import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield

# tests/built/ checks the built book, slides and student notebooks; `make test` runs it
# after the build with LNUTILS_TEST_BUILT=1.
import os  # noqa: E402

collect_ignore = [] if os.environ.get("LNUTILS_TEST_BUILT") else ["built"]
