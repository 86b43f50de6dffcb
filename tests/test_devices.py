"""Every code path on every device present (``device`` runs over cpu, and cuda / mps when
there), plus a guard that needs no GPU: with the default device set to ``meta``, any
tensor the training, evaluation or probe code makes without naming a device lands on
``meta`` and the run fails, which is the bug that crashed the chapters on CUDA."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
import torch
from helpers import tiny_profile

from lnutils import smoke
from lnutils.experiments import conv, mnist, rnn
from lnutils.mlp import METHODS, MLPStack
from lnutils.train import Split, evaluate, train_lockstep


def tiny_split(n=96) -> Split:
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(n + 40, 784, generator=generator)
    y = torch.randint(0, 10, (n + 40,), generator=generator)
    return Split(x[:n], y[:n], x[n : n + 20], y[n : n + 20], x[n + 20 :], y[n + 20 :])


@contextlib.contextmanager
def stray_tensors_on_meta():
    """Tensors made without an explicit device go to ``meta`` (no data): using one with real
    tensors, or reading it back, raises."""
    torch.set_default_device("meta")
    try:
        yield
    finally:
        torch.set_default_device(None)


def test_the_guard_catches_a_tensor_made_without_a_device():
    """The guard has teeth: the old evaluate() made its sums with torch.zeros(models)."""
    values = torch.ones(3)
    with stray_tensors_on_meta(), pytest.raises((RuntimeError, NotImplementedError)):
        sums = torch.zeros(3, dtype=torch.float64)  # no device=: the bug
        sums += values
        sums.cpu().numpy()


def test_no_stray_tensors_in_training_evaluation_and_probes():
    split = tiny_split()
    stacks = {
        "mlp": MLPStack("batch norm", [0, 1], sizes=(784, 16, 16, 10)),
        "cnn": conv.CNNStack("layer norm (C,H,W)", [0]),
        "rnn": rnn.RNNStack("BN-LSTM", [0], hidden_size=8),
        "rnn grouped": rnn.RNNStack("LN-LSTM", [0, 1], hidden_size=8),  # batch 8: one computation
    }
    images = split.test_x[:8]
    with stray_tensors_on_meta():
        history = train_lockstep(stacks, {name: 1e-3 for name in stacks}, split, 8, 1, progress=False, device="cpu")
        assert np.isfinite(history.train_nll["cnn"]).all()
        nll, error = evaluate(stacks["mlp"], split.val_x, split.val_y)
        assert isinstance(nll, np.ndarray) and nll.shape == (2,)
        conv.border_statistics(stacks["cnn"].networks[0], images.reshape(-1, 1, 28, 28))
        conv.activity_maps(stacks["cnn"].networks[0], images.reshape(-1, 1, 28, 28))
        sequences = rnn.RNNStack.as_sequences(images)
        rnn.summed_input_statistics(stacks["rnn"].networks[0], sequences)
        rnn.gradient_norms_through_time(stacks["rnn"].networks[0], sequences, split.test_y[:8])
        result = rnn.train_adding(
            ("LN-LSTM", "BN-LSTM"),
            length=6,
            steps=3,
            batch_size=4,
            hidden_size=4,
            test_lengths=(6, 12),
            progress=False,
            device="cpu",
        )
        assert set(result["BN-LSTM"]["test_mse"]) == {6, 12}


def test_training_keeps_models_and_results_on_the_device(device):
    split = tiny_split()
    stacks = {method: MLPStack(method, [0, 1], sizes=(784, 16, 16, 10)) for method in METHODS}
    history = train_lockstep(stacks, {m: 1e-3 for m in METHODS}, split, 8, 2, progress=False, device=device)
    assert all(p.device.type == device for stack in stacks.values() for p in stack.parameters())
    assert np.asarray(history.test_error["layer norm"]).shape == (2, 2)
    nll, _ = evaluate(stacks["batch norm"], split.val_x.to(device), split.val_y.to(device), chunk=7)
    whole, _ = evaluate(stacks["batch norm"], split.val_x.to(device), split.val_y.to(device))
    np.testing.assert_allclose(nll, whole, rtol=1e-6)  # chunking does not change the sums


def test_probes_take_cpu_images_for_a_model_on_the_device(device):
    images = torch.rand(6, 1, 28, 28)
    network = conv.CNNStack("batch norm", [0]).to(device).networks[0]
    rows = conv.border_statistics(network, images)
    assert len(rows) == 3 and all(np.isfinite(row["position spread"]) for row in rows)
    model = rnn.RNNStack("LN-LSTM", [0], hidden_size=8).to(device).networks[0]
    sequences = rnn.RNNStack.as_sequences(images.reshape(6, -1))
    assert rnn.gradient_norms_through_time(model, sequences, torch.arange(6)).shape == (28,)


def test_adding_problem_is_the_same_on_every_device(device):
    kwargs = dict(
        cell_names=("LSTM",), length=6, steps=5, batch_size=4, hidden_size=4, test_lengths=(6,), progress=False
    )
    on_cpu = rnn.train_adding(**kwargs, device="cpu")
    here = rnn.train_adding(**kwargs, device=device)
    np.testing.assert_allclose(here["LSTM"]["train_loss"], on_cpu["LSTM"]["train_loss"], rtol=1e-4)


def test_a_result_records_the_device_it_ran_on(device, tmp_path, monkeypatch):
    tiny_profile(monkeypatch, epochs=1)
    mnist.run_profile("paper", device, progress=False, results_dir=tmp_path, checkpoint_dir=tmp_path)
    saved = json.loads((tmp_path / "mnist_paper.json").read_text())
    assert saved["parts"]["batch 50"]["provenance"]["device"].startswith(device)


def test_smoke_run_passes_every_part(device):
    rows = smoke.run_all(device, synthetic=True)
    failed = [(name, message) for name, passed, message, _ in rows if not passed]
    assert not failed, failed


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
def test_cuda_graph_step_equals_the_eager_step():
    assert "agree" in smoke.graph_matches_eager(torch.device("cuda"), steps=20)


def test_cuda_graphs_are_refused_off_cuda():
    with pytest.raises(ValueError, match="CUDA graphs need a CUDA device"):
        train_lockstep(
            {"baseline": MLPStack("baseline", [0], sizes=(784, 8, 8, 10))},
            {"baseline": 1e-3},
            tiny_split(),
            8,
            1,
            progress=False,
            graph=True,
        )


def test_bench_loops_run_on_the_device(device):
    from lnutils import bench

    generator = torch.Generator().manual_seed(0)
    x, y = torch.rand(64, 784, generator=generator), torch.randint(0, 10, (64,), generator=generator)
    assert bench.lockstep_samples_per_second(4, 3, [0], x, y, warmup=1, device=device) > 0
    assert bench.plain_pytorch_samples_per_second(4, 2, [0], x, y, warmup=1, device=device) > 0
    if device == "cuda":
        assert bench.lockstep_samples_per_second(4, 5, [0], x, y, warmup=4, device=device, graph=True) > 0
    assert bench.bench_norms(shapes=((4, 16),), repeats=2, device=device)
