"""Benchmarks, printed as tables with ratios against a baseline run in the same process.

    python -m lnutils.bench train [--device cuda]   # lockstep trainer vs a plain PyTorch loop
    python -m lnutils.bench norms [--device cuda]   # derived backward vs autograd vs fused kernels

On CUDA the train benchmark adds the CUDA-graph lockstep and the fraction of the
memory-bandwidth floor it reaches: a step must at least move each parameter's bytes
through Adam (read parameter, gradient and two moments, write three: 28 bytes) and
through the forward and backward passes (read the weight twice, write its gradient:
12 bytes), and the device's copy bandwidth is measured here, not assumed.

Speed is measured here, never in a test: the numbers depend on the machine and on
whatever else it is doing.  Each measurement is the best of a few repeats.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from lnutils import environment, norms
from lnutils.cli import check_device, positive_int, whole_number
from lnutils.cnn import CNNStack
from lnutils.data import load_mnist
from lnutils.measure import forward_backward_seconds, saved_tensor_bytes, synchronize
from lnutils.mlp import METHODS, MLPStack
from lnutils.rnn import RNNStack
from lnutils.train import epoch_orders, make_optimizer, make_split, make_step

BYTES_PER_PARAMETER_STEP = 28 + 12  # Adam's reads and writes + forward/backward weight traffic

SIZES = (784, 1000, 1000, 10)
FLOPS_PER_SAMPLE = 6 * sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:]))  # forward 2·params, backward 4·params


def benchmark_data():
    """Real MNIST training images when a copy is found, else random ones of the same shape.

    Real data matters: rarely-lit border pixels give weights whose Adam moments decay
    into denormal floats after some hundreds of steps, which slows unflushed training.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            split = make_split(load_mnist(download=False))
        return split.train_x, split.train_y, "MNIST training split"
    except Exception:  # noqa: BLE001 - any failure: fall back to synthetic data, and say so
        generator = torch.Generator().manual_seed(0)
        return (
            torch.rand(55000, SIZES[0], generator=generator),
            torch.randint(0, 10, (55000,), generator=generator),
            "random images (no MNIST found)",
        )


def plain_pytorch_samples_per_second(
    batch_size: int, steps: int, seeds: list[int], x, y, warmup: int = 0, device="cpu"
) -> float:
    """The loop a user would write: nn.Sequential per network, default Adam, a DataLoader, each
    batch moved to the device; networks one after another.

    Each network first trains ``warmup`` untimed steps, then ``steps`` timed ones.
    """
    device = torch.device(device)
    if device.type == "cpu":
        torch.set_flush_denormal(False)
    samples, seconds = 0, 0.0
    for method in METHODS:
        for seed in seeds:
            model = MLPStack(method, [seed]).to_sequential(0).to(device)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, drop_last=True)
            done = 0
            while done < warmup + steps:
                for inputs, labels in loader:
                    if done == warmup:
                        synchronize(device)
                        start = time.perf_counter()
                    inputs, labels = inputs.to(device, non_blocking=True), labels.to(device, non_blocking=True)
                    optimizer.zero_grad()
                    F.cross_entropy(model(inputs), labels).backward()
                    optimizer.step()
                    done += 1
                    if done == warmup + steps:
                        break
            synchronize(device)
            seconds += time.perf_counter() - start
            samples += steps * batch_size
    return samples / seconds


def lockstep_samples_per_second(
    batch_size: int, steps: int, seeds: list[int], x, y, warmup: int = 0, device="cpu", graph: bool = False
) -> float:
    """lnutils.train's inner loop: stacks of networks, index batches on the device, fused Adam,
    denormals flushed on the CPU; with ``graph``, the step replayed as a CUDA graph."""
    device = torch.device(device)
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    x, y = x.to(device), y.to(device)
    stacks = {method: MLPStack(method, seeds, bn_unbiased=batch_size < 16).to(device) for method in METHODS}
    optimizer = make_optimizer(stacks, {method: 1e-3 for method in METHODS}, capturable=graph)
    step = make_step(stacks, optimizer, x, y, batch_size, graph)
    orders = epoch_orders(stacks, 0, len(x), batch_size, device)
    for index in range(warmup + steps):
        if index == warmup:
            synchronize(device)
            start = time.perf_counter()
        step({method: order[index % len(order)] for method, order in orders.items()})
    synchronize(device)
    seconds = time.perf_counter() - start
    return steps * batch_size * len(seeds) * len(METHODS) / seconds


def copy_bandwidth_bytes_per_second(device, megabytes: int = 512, repeats: int = 5) -> float:
    """Measured device memory bandwidth: bytes read plus written by a large tensor copy."""
    device = torch.device(device)
    source = torch.empty(megabytes * 2**20 // 4, device=device)
    target = torch.empty_like(source)
    best = float("inf")
    for _ in range(repeats + 1):
        synchronize(device)
        start = time.perf_counter()
        target.copy_(source)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * source.numel() * 4 / best


def matmul_peak_gflops(n: int = 2048, repeats: int = 5, device="cpu") -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    best = min(_timed(lambda: a @ b, device) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(function, device="cpu") -> float:
    synchronize(device)
    start = time.perf_counter()
    function()
    synchronize(device)
    return time.perf_counter() - start


def bench_train(batch_sizes=(128, 4), seeds=(0, 1, 2), steps=None, warmup=None, device="cpu") -> list[dict]:
    """Samples/s of the loops after a warm-up (batch 128: 200 steps, batch 4: 1500, about a
    tenth of an epoch), as ratios against the plain PyTorch loop on the same device."""
    device = torch.device(device)
    x, y, source = benchmark_data()
    print(f"data: {source}; device: {environment.device_name(device)}")
    parameters = sum(p.numel() for p in MLPStack("layer norm", list(seeds)).parameters()) * len(METHODS)
    bandwidth = copy_bandwidth_bytes_per_second(device) if device.type == "cuda" else None
    rows = []
    for batch_size in batch_sizes:
        n_steps = steps or (40 if batch_size >= 64 else 400)
        n_warmup = warmup if warmup is not None else (200 if batch_size >= 64 else 1500)
        plain = plain_pytorch_samples_per_second(batch_size, n_steps, list(seeds), x, y, n_warmup, device)
        variants = {
            "eager lockstep": lockstep_samples_per_second(batch_size, n_steps, list(seeds), x, y, n_warmup, device)
        }
        if device.type == "cuda":
            variants["graph lockstep"] = lockstep_samples_per_second(
                batch_size, n_steps, list(seeds), x, y, n_warmup, device, graph=True
            )
        for name, rate in variants.items():
            row = {
                "batch size": batch_size,
                "loop": name,
                "networks": len(seeds) * len(METHODS),
                "plain PyTorch samples/s": plain,
                "samples/s": rate,
                "× plain": rate / plain,
                "GFLOP/s": rate * FLOPS_PER_SAMPLE / 1e9,
            }
            if bandwidth is not None:
                steps_per_second = rate / (batch_size * len(seeds) * len(METHODS))
                floor_seconds = parameters * BYTES_PER_PARAMETER_STEP / bandwidth
                row["ms/step"] = 1e3 / steps_per_second
                row["% of bandwidth floor"] = 100 * floor_seconds * steps_per_second
            rows.append(row)
    if bandwidth is not None:
        print(
            f"measured copy bandwidth {bandwidth / 1e12:.2f} TB/s; floor per step "
            f"{parameters * BYTES_PER_PARAMETER_STEP / bandwidth * 1e3:.3f} ms "
            f"({parameters / 1e6:.1f} M parameters × {BYTES_PER_PARAMETER_STEP} bytes)"
        )
    return rows


def _stack_step(stack, optimizer, x, y) -> None:
    """One lockstep step: every network of the stack on its own batch, one loss, one fused Adam."""
    optimizer.zero_grad(set_to_none=True)
    logits = stack(x)
    F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").div(y.shape[1]).backward()
    optimizer.step()


def _plain_steps(networks, optimizers, inputs, y) -> None:
    """The loop a user would write: each network with its own Adam, one after another."""
    for network, optimizer, batch, labels in zip(networks, optimizers, inputs, y):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(network(batch), labels).backward()
        optimizer.step()


def bench_stacks(batch_sizes=(128, 4), seeds=(0, 1, 2), steps=None, device="cpu", warmup=1) -> list[dict]:
    """Seconds per training step of the conv and recurrent stacks (K networks stepped together) against a
    plain loop over the same K networks, side by side in one run, with the achieved GFLOP/s (counted by
    torch's FlopCounterMode) as a fraction of the machine's measured float32 matmul peak."""
    device = torch.device(device)
    peak = matmul_peak_gflops(device=device)
    kinds = {
        "conv, layer norm (C,H,W), looped": lambda: CNNStack("layer norm (C,H,W)", list(seeds), grouped=False),
        "conv, layer norm (C,H,W), grouped": lambda: CNNStack("layer norm (C,H,W)", list(seeds), grouped=True),
        "conv, batch norm, looped": lambda: CNNStack("batch norm", list(seeds), grouped=False),
        "conv, batch norm, grouped": lambda: CNNStack("batch norm", list(seeds), grouped=True),
        "recurrent, LN-LSTM, looped": lambda: RNNStack("LN-LSTM", list(seeds), grouped=False),
        "recurrent, LN-LSTM, grouped": lambda: RNNStack("LN-LSTM", list(seeds), grouped=True),
        "recurrent, GRU, looped": lambda: RNNStack("GRU", list(seeds), grouped=False),
        "recurrent, GRU, grouped": lambda: RNNStack("GRU", list(seeds), grouped=True),
    }
    rows = []
    generator = torch.Generator().manual_seed(0)
    for batch_size in batch_sizes:
        n_steps = steps or (5 if batch_size >= 64 else 40)
        x = torch.rand(len(seeds), batch_size, 784, generator=generator).to(device)
        y = torch.randint(0, 10, (len(seeds), batch_size), generator=generator).to(device)
        for kind, make in kinds.items():
            stack = make().to(device)
            fused = make_optimizer({"stack": stack}, {"stack": 1e-3})
            for _ in range(warmup):
                _stack_step(stack, fused, x, y)
            stacked = min(_timed(lambda: _stack_step(stack, fused, x, y), device) for _ in range(n_steps))
            networks = [network for network in make().to(device).networks]
            inputs = [stack.prepare(batch) for batch in x]
            optimizers = [torch.optim.Adam(network.parameters(), lr=1e-3) for network in networks]
            for _ in range(warmup):
                _plain_steps(networks, optimizers, inputs, y)
            with FlopCounterMode(display=False) as counter:  # the work itself, counted on the plain networks
                _plain_steps(networks, optimizers, inputs, y)
            flops = counter.get_total_flops()
            plain = min(_timed(lambda: _plain_steps(networks, optimizers, inputs, y), device) for _ in range(n_steps))
            rows.append(
                {
                    "stack": kind,
                    "batch size": batch_size,
                    "networks": len(seeds),
                    "plain loop ms/step": plain * 1e3,
                    "stack ms/step": stacked * 1e3,
                    "× plain (speed)": plain / stacked,
                    "% of matmul peak": 100 * flops / stacked / 1e9 / peak,
                }
            )
    print(f"measured float32 matmul peak: {peak:.1f} GFLOP/s (2048², best of 5)")
    return rows


NORM_SHAPES = ((128, 1000), (4, 1000), (2048, 384))


def bench_norms(shapes=NORM_SHAPES, repeats=50, device="cpu", warmup=3) -> list[dict]:
    """Forward + backward time of each normalization, the book's and PyTorch's fused ones, side by side:
    "× torch fused" against the same layer's fused kernel, "× LN fused" against layer norm's (RMSNorm's
    speed claim, Zhang & Sennrich 2019: 7-64 % faster than LN).  (2048, 384) is one Transformer batch
    of the paper profile's width."""
    rows = []
    for shape in shapes:
        x = torch.randn(*shape, device=device, requires_grad=True)
        g = torch.ones(shape[-1], device=device, requires_grad=True)
        b = torch.zeros(shape[-1], device=device, requires_grad=True)
        variants = {
            ("layer norm", "torch fused"): lambda x, g, b: F.layer_norm(x, shape[-1:], g, b),
            ("layer norm", "autograd of naive"): lambda x, g, b: norms.layer_norm_naive(x, shape[-1:], g, b),
            ("layer norm", "derived backward"): lambda x, g, b: norms.layer_norm(x, shape[-1:], g, b),
            ("batch norm", "torch fused"): lambda x, g, b: F.batch_norm(x, None, None, g, b, True),
            ("batch norm", "autograd of naive"): lambda x, g, b: norms.batch_norm_naive(x, g, b),
            ("batch norm", "derived backward"): lambda x, g, b: norms.batch_norm(x, None, None, g, b, True),
            ("rms norm", "torch fused"): lambda x, g, b: F.rms_norm(x, shape[-1:], g, 1e-6),
            ("rms norm", "book (autograd)"): lambda x, g, b: norms.rms_norm(x, shape[-1:], g, 1e-6),
            ("dynamic tanh", "book (autograd)"): lambda x, g, b: norms.dynamic_tanh(x, alpha, g, b),
        }
        alpha = torch.full((1,), 0.5, device=device, requires_grad=True)
        baseline = {}
        for (layer, variant), function in variants.items():
            seconds = forward_backward_seconds(function, x, g, b, repeats=repeats, warmup=warmup)
            baseline.setdefault(layer, seconds)
            rows.append(
                {
                    "layer": layer,
                    "shape": str(shape),
                    "variant": variant,
                    "µs fwd+bwd": seconds * 1e6,
                    "× torch fused": seconds / baseline[layer],
                    "× LN fused": seconds / baseline["layer norm"],
                    "saved KiB": saved_tensor_bytes(function, x, g, b) / 1024,
                }
            )
    return rows


def print_table(rows: list[dict]) -> None:
    headers = list(rows[0])
    cells = [[f"{row[h]:.3g}" if isinstance(row[h], float) else str(row[h]) for h in headers] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths)))
    for r in cells:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["train", "norms", "stacks"])
    parser.add_argument(
        "--batch-sizes", type=positive_int, nargs="+", default=None, help="default 128 4 (norms: its own shapes)"
    )
    parser.add_argument("--steps", type=positive_int, default=None, help="timed steps per network (at least 1)")
    parser.add_argument("--warmup", type=whole_number, default=None, help="untimed steps before timing")
    parser.add_argument(
        "--device",
        type=check_device,
        default=None,
        help="cpu, cuda, cuda:N or mps (default: the GPU when there is one)",
    )
    args = parser.parse_args(argv)
    if args.batch_sizes is not None and len(set(args.batch_sizes)) != len(args.batch_sizes):
        parser.error(f"--batch-sizes must be distinct (a repeated size is timed twice), got {args.batch_sizes}")
    batch_sizes = args.batch_sizes or [128, 4]
    device = args.device or environment.pick_device()
    environment.describe()
    if args.what == "train":
        rows = bench_train(batch_sizes, steps=args.steps, warmup=args.warmup, device=device)
        print_table(rows)
        peak = matmul_peak_gflops(device=device)
        for row in rows:
            if row["batch size"] == 128:
                print(
                    f"batch 128, {row['loop']}: {row['GFLOP/s']:.1f} GFLOP/s achieved vs {peak:.1f} GFLOP/s "
                    f"measured float32 matmul peak (2048², {100 * row['GFLOP/s'] / peak:.0f}%)"
                )
    elif args.what == "stacks":
        warmup = 1 if args.warmup is None else args.warmup
        print_table(bench_stacks(batch_sizes, steps=args.steps, device=device, warmup=warmup))
    else:  # rows of 1000 features per batch size given, else the default shapes (a Transformer batch among them)
        shapes = NORM_SHAPES if args.batch_sizes is None else tuple((b, 1000) for b in args.batch_sizes)
        warmup = 3 if args.warmup is None else args.warmup
        print_table(bench_norms(shapes, repeats=args.steps or 50, device=device, warmup=warmup))
    return 0


if __name__ == "__main__":
    sys.exit(main())
