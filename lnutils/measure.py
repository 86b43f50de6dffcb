"""Small measurements for the chapters: memory autograd saves, and forward+backward time.

These are illustrations inside a notebook; the detailed comparison is
``python -m lnutils.bench norms``.
"""

from __future__ import annotations

import time

import torch


def saved_tensor_bytes(function, *inputs) -> int:
    """Bytes of every tensor autograd keeps for the backward pass of ``function(*inputs)``.

    Counted with :func:`torch.autograd.graph.saved_tensors_hooks`; a tensor saved twice
    (same storage) is counted once.  The inputs count too when they are saved: the graph keeps
    them alive whether or not the caller still holds them, so a layer that saves its input and
    recomputes the rest is charged for the input, as a fused kernel that saves it is.
    """
    seen: set[int] = set()
    total = 0

    def pack(tensor):
        nonlocal total
        pointer = tensor.untyped_storage().data_ptr()
        if pointer not in seen:
            seen.add(pointer)
            total += tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        function(*inputs)
    return total


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued work (GPU kernels run asynchronously), so a clock is fair."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def forward_backward_seconds(function, *inputs, repeats: int = 20, warmup: int = 3) -> float:
    """Median wall time of one forward and backward pass of ``function(*inputs).sum()``,
    on the device of the inputs (synchronised before and after each pass)."""
    device = next((t.device for t in inputs if isinstance(t, torch.Tensor)), torch.device("cpu"))
    times = []
    for step in range(warmup + repeats):
        for tensor in inputs:
            if isinstance(tensor, torch.Tensor):
                tensor.grad = None
        synchronize(device)
        start = time.perf_counter()
        function(*inputs).sum().backward()
        synchronize(device)
        if step >= warmup:
            times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]
