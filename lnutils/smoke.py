"""A one-command smoke run: every chapter's code path, smallest configuration, on one device.

    python -m lnutils.smoke --device cuda      # or cpu, mps; exits non-zero on any error

It trains nothing worth reading: it checks that every path of the book (the layers
against torch.nn, the MNIST lockstep trainer, the conv comparison and its probes, the
RNN cells, their probes and the adding problem, the Transformer's probe and one short
run of each of its settings, and on CUDA the graph-captured step against the eager one)
runs on the device and gives finite numbers.  It takes seconds on a GPU and well under a
minute on two CPU cores.  ``--synthetic`` uses random images
instead of MNIST and Fashion-MNIST (no data needed).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import warnings
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from lnutils import environment, norms, plotting
from lnutils.cli import check_device
from lnutils.cnn import NORMALIZATIONS, CNNStack
from lnutils.corpus import load_shakespeare
from lnutils.data import DataError, load_dataset
from lnutils.experiments import conv, mnist, rnn, transformer
from lnutils.mlp import METHODS, MLPStack
from lnutils.report import conv as conv_words
from lnutils.rnn import RNNStack
from lnutils.train import (
    CUDAGraphStep,
    Split,
    batch_indices,
    eager_step,
    make_optimizer,
    make_split,
    train_lockstep,
)


def _split(dataset_name: str, synthetic: bool, size: int = 512) -> Split:
    if synthetic:
        generator = torch.Generator().manual_seed(0)
        images = torch.rand(size + 256, 784, generator=generator)
        labels = torch.randint(0, 10, (size + 256,), generator=generator)
        return Split(
            images[:size],
            labels[:size],
            images[size : size + 128],
            labels[size : size + 128],
            images[size + 128 :],
            labels[size + 128 :],
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the non-canonical MNIST copy is reported by the chapters
        dataset = load_dataset(dataset_name)
    split = make_split(dataset, validation=128, train_subset=size)
    return Split(split.train_x, split.train_y, split.val_x, split.val_y, split.test_x[:128], split.test_y[:128])


def _finite(history) -> None:
    for metric in (history.train_nll, history.val_error, history.test_error):
        for method, values in metric.items():
            if not np.isfinite(np.asarray(values)).all():
                raise AssertionError(f"{method}: non-finite values {values}")


def norms_against_torch(device: torch.device) -> str:
    """Chapter 1: each layer against torch.nn.functional, forward and backward, on the device."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(8, 6, 5, 5, generator=generator).to(device).requires_grad_()
    gain = (torch.rand(6, generator=generator) + 0.5).to(device).requires_grad_()
    pairs = {
        "layer norm": (lambda t: norms.layer_norm(t, t.shape[1:]), lambda t: F.layer_norm(t, t.shape[1:])),
        "batch norm": (
            lambda t: norms.batch_norm(t, None, None, gain, None, True),
            lambda t: F.batch_norm(t, None, None, gain, None, True),
        ),
        "group norm": (lambda t: norms.group_norm(t, 2, gain), lambda t: F.group_norm(t, 2, gain)),
        "instance norm": (lambda t: norms.instance_norm(t), lambda t: F.instance_norm(t)),
        "rms norm": (
            lambda t: norms.rms_norm(t, t.shape[1:], eps=1e-6),
            lambda t: F.rms_norm(t, t.shape[1:], eps=1e-6),
        ),
    }
    worst = 0.0
    for name, (ours, theirs) in pairs.items():
        out_ours, out_theirs = ours(x), theirs(x)
        grad_ours = torch.autograd.grad(out_ours.square().sum(), x)[0]
        grad_theirs = torch.autograd.grad(out_theirs.square().sum(), x)[0]
        for a, b in ((out_ours, out_theirs), (grad_ours, grad_theirs)):
            if a.device != x.device:
                raise AssertionError(f"{name}: result on {a.device}, input on {x.device}")
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=lambda m: f"{name}: {m}")
            worst = max(worst, (a - b).abs().max().item())
    return f"5 layers match torch.nn.functional (largest difference {worst:.1e})"


def mnist_lockstep(device: torch.device, synthetic: bool) -> str:
    """Chapter 2: three methods × two seeds in lockstep, at batch 128 and 4."""
    split = _split("mnist", synthetic)
    for batch_size in mnist.BATCH_SIZES:
        stacks = {method: MLPStack(method, [0, 1], bn_unbiased=batch_size < 16) for method in METHODS}
        history = train_lockstep(
            stacks, {m: 1e-3 for m in METHODS}, split, batch_size, 1, progress=False, device=device
        )
        _finite(history)
    return f"3 methods × 2 seeds, batch 128 and 4, {len(split.train_x)} images: finite curves"


def graph_matches_eager(device: torch.device, steps: int = 12) -> str:
    """The CUDA-graph step gives the eager step's numbers (CUDA only)."""
    if device.type != "cuda":
        return "skipped (CUDA graphs need a CUDA device)"

    split = _split("mnist", synthetic=True)
    train_x, train_y = split.train_x.to(device), split.train_y.to(device)
    results = []
    for graphed in (False, True):
        stacks = {method: MLPStack(method, [0, 1], bn_unbiased=True).to(device) for method in METHODS}
        optimizer = make_optimizer(stacks, {m: 1e-3 for m in METHODS}, capturable=graphed)
        step = CUDAGraphStep(stacks, optimizer, train_x, train_y, 4) if graphed else None
        orders = {
            m: torch.stack([batch_indices(seed, 0, len(train_x), 4) for seed in (0, 1)], dim=1).to(device)
            for m in stacks
        }
        for index in range(steps):
            indices = {m: order[index] for m, order in orders.items()}
            if step is not None:
                step(indices)
            else:
                eager_step(stacks, optimizer, train_x, train_y, indices, 4)
        results.append({m: {k: v.detach().cpu() for k, v in s.state_dict().items()} for m, s in stacks.items()})
    worst = 0.0
    for method in METHODS:
        for name, eager in results[0][method].items():
            torch.testing.assert_close(
                results[1][method][name], eager, atol=1e-5, rtol=1e-4, msg=lambda m: f"{method} {name}: {m}"
            )
            worst = max(worst, (results[1][method][name].double() - eager.double()).abs().max().item())
    return f"{steps} steps: graph and eager weights agree (largest difference {worst:.1e})"


def conv_and_probes(device: torch.device, synthetic: bool) -> str:
    """Chapter 3: every normalization, one epoch at batch 32; border probe and activity maps."""
    split = _split("fashion-mnist", synthetic, size=256)
    stacks = {name: CNNStack(name, [0]) for name in NORMALIZATIONS}
    history = train_lockstep(
        stacks, {name: 1e-3 for name in NORMALIZATIONS}, split, 32, 1, progress=False, device=device
    )
    _finite(history)
    images = split.test_x[:64].reshape(-1, 1, 28, 28)  # on the CPU, as a notebook has them
    networks = {name: stack.networks[0] for name, stack in stacks.items()}
    probe = conv.border_probe(networks, images)
    plt.close(plotting.activity_maps_figure(conv.activity_maps_by_name(networks, images)))
    verdict = conv_words.border_sentences(probe) + conv_words.border_markdown(probe)
    if not verdict:
        raise AssertionError("empty border verdict")
    return f"{len(NORMALIZATIONS)} normalizations, batch 32: finite curves; probe and maps ran"


def rnn_and_probes(device: torch.device, synthetic: bool) -> str:
    """Chapter 4: every cell, one epoch at batch 16; the probes; the adding problem."""
    split = _split("mnist", synthetic, size=256)
    cells = list(rnn.CELLS)
    stacks = {cell: RNNStack(cell, [0], hidden_size=16) for cell in cells}
    history = train_lockstep(stacks, {cell: 1e-3 for cell in cells}, split, 16, 1, progress=False, device=device)
    _finite(history)
    sequences = RNNStack.as_sequences(split.test_x[:32])
    for stack in stacks.values():
        model = stack.networks[0]
        rnn.summed_input_statistics(model, sequences)
        rnn.gradient_norms_through_time(model, sequences, split.test_y[:32])
    adding = rnn.train_adding(
        length=10, steps=20, batch_size=8, hidden_size=8, test_lengths=(10, 20), progress=False, device=device
    )
    if not all(np.isfinite(list(r["test_mse"].values())).all() for r in adding.values()):
        raise AssertionError(f"non-finite adding-problem MSE: {adding}")
    return f"{len(cells)} cells, batch 16: finite curves; probes and adding problem ran"


def _synthetic_corpus(characters: int = 20_000) -> transformer.EncodedCorpus:
    generator = torch.Generator().manual_seed(0)
    text = torch.randint(0, 40, (characters,), generator=generator)
    return transformer.EncodedCorpus(text, text[: characters // 4], 40, "synthetic")


def transformer_probe_and_parts(device: torch.device, synthetic: bool) -> str:
    """Chapter 5: the probe at initialization, and 20 steps of every setting of the quick profile."""
    if synthetic:
        encoded = _synthetic_corpus()
    else:
        try:
            encoded = transformer.EncodedCorpus.from_corpus(load_shakespeare(), device)
        except DataError:
            encoded = _synthetic_corpus()  # the plays are not installed: the code path is the same
    encoded = transformer.EncodedCorpus(encoded.train.to(device), encoded.validation.to(device), encoded.vocabulary, "")
    settings = transformer.profile("quick", steps=20)
    settings = replace(settings, eval_every=10, probe_depths=(1, 2), probe_layers=2, probe_seeds=2)
    probe = transformer.initialization_probe(settings, encoded, device)
    if not np.isfinite(probe["pre"]["gradient_norm_by_layer"]).all():
        raise AssertionError("non-finite gradient norms in the probe")
    for training in settings.settings().values():
        record = transformer.train_part(settings, training, 0, encoded, device, progress=False)
        if record["diverged_at"] is not None or not np.isfinite(record["validation_loss"]).all():
            raise AssertionError(f"{training.key}: the loss is not finite: {record}")
    return f"probe and {len(settings.settings())} settings, 20 steps each: finite losses"


def run_all(device: torch.device | str, synthetic: bool = False) -> list[tuple[str, bool, str, float]]:
    """Every part; returns (part, passed, message, seconds) rows and never stops at a failure."""
    device = torch.device(device)
    parts = {
        "chapter 1: layers vs torch.nn": lambda: norms_against_torch(device),
        "chapter 2: MNIST lockstep": lambda: mnist_lockstep(device, synthetic),
        "CUDA graph vs eager": lambda: graph_matches_eager(device),
        "chapter 3: conv + border probe": lambda: conv_and_probes(device, synthetic),
        "chapter 4: RNN + probes + adding": lambda: rnn_and_probes(device, synthetic),
        "chapter 5: Transformer probe + settings": lambda: transformer_probe_and_parts(device, synthetic),
    }
    rows = []
    for name, part in parts.items():
        start = time.perf_counter()
        try:
            message, passed = part(), True
        except Exception as error:  # noqa: BLE001 - report every failure, then fail loudly
            message, passed = f"{type(error).__name__}: {error}\n{traceback.format_exc()}", False
        rows.append((name, passed, message, time.perf_counter() - start))
        print(f"{'PASS' if passed else 'FAIL'}  {name} ({rows[-1][3]:.1f} s): {message}", flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--device",
        type=check_device,
        default=None,
        help="cpu, cuda, cuda:N or mps (default: the GPU when there is one)",
    )
    parser.add_argument("--synthetic", action="store_true", help="random images instead of MNIST / Fashion-MNIST")
    args = parser.parse_args(argv)
    device = args.device or environment.pick_device()
    environment.describe()
    start = time.perf_counter()
    rows = run_all(device, args.synthetic)
    failed = [name for name, passed, _, _ in rows if not passed]
    print(
        f"{len(rows) - len(failed)} passed, {len(failed)} failed ({time.perf_counter() - start:.0f} s on "
        f"{environment.device_name(torch.device(device))})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
