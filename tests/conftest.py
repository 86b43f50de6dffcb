"""Shared test settings: deterministic and single-threaded (the tensors here are tiny)."""

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


def available_devices() -> list[str]:
    """cpu always; cuda and mps when this machine has them."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def pytest_generate_tests(metafunc):
    """A test that takes a ``device`` argument runs once per device present (the same suite
    checks the GPU path on a GPU machine)."""
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", available_devices())
