"""lnutils.rnn: cells against torch.nn, layer norm pieces, gradcheck, BN-LSTM's per-step statistics."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from lnutils import environment, runs
from lnutils import rnn as recurrent
from lnutils.experiments import rnn
from lnutils.report import rnn as rnn_words
from lnutils.rnn import CELLS, GRUCell, LSTMCell, RNNStack, SequenceBatchNorm, SequenceModel


def test_plain_lstm_cell_matches_torch_given_the_same_weights():
    ours, theirs = LSTMCell(5, 7).double(), nn.LSTMCell(5, 7).double()
    ours.load_state_dict(theirs.state_dict())
    x, h, c = (
        torch.randn(3, 5, dtype=torch.float64),
        torch.randn(3, 7, dtype=torch.float64),
        torch.randn(3, 7, dtype=torch.float64),
    )
    for a, b in zip(ours(x, (h, c)), theirs(x, (h, c))):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


def test_plain_lstm_over_a_sequence_matches_torch_lstm():
    model, reference = SequenceModel("LSTM", 4, 6, 2).double(), nn.LSTM(4, 6).double()
    reference.load_state_dict({f"{name}_l0": value for name, value in model.cell.state_dict().items()})
    sequences = torch.randn(9, 3, 4, dtype=torch.float64)
    outputs, _ = reference(sequences)
    torch.testing.assert_close(torch.stack(model.run(sequences)), outputs, atol=1e-12, rtol=1e-12)


def test_plain_gru_cell_matches_torch():
    ours, theirs = GRUCell(5, 7).double(), nn.GRUCell(5, 7).double()
    ours.load_state_dict(theirs.state_dict())
    x, h = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 7, dtype=torch.float64)
    torch.testing.assert_close(ours(x, h), theirs(x, h), atol=1e-12, rtol=1e-12)


def test_ln_lstm_is_the_papers_equations():
    torch.manual_seed(0)
    cell = LSTMCell(3, 4, "layer norm").double()
    with torch.no_grad():
        for module in (cell.norm_hh, cell.norm_ih, cell.norm_cell):
            module.weight.uniform_(0.5, 1.5), module.bias.normal_()
    x, h, c = (torch.randn(2, n, dtype=torch.float64) for n in (3, 4, 4))
    ln = lambda v, m: nn.functional.layer_norm(v, v.shape[-1:], m.weight, m.bias)  # noqa: E731
    gates = (
        ln(h @ cell.weight_hh.T, cell.norm_hh) + ln(x @ cell.weight_ih.T, cell.norm_ih) + cell.bias_ih + cell.bias_hh
    )
    i, f, g, o = gates.chunk(4, 1)
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_next = torch.sigmoid(o) * torch.tanh(ln(c_next, cell.norm_cell))
    got_h, got_c = cell(x, (h, c))
    torch.testing.assert_close(got_h, h_next)
    torch.testing.assert_close(got_c, c_next)  # the un-normalized cell state carries on


@pytest.mark.parametrize("name", list(CELLS))
def test_gradcheck_float64(name):
    torch.manual_seed(0)
    model = SequenceModel(name, 3, 4, 2, max_steps=5).double()
    sequences = torch.randn(4, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: model(s), (sequences,))


def test_bn_lstm_population_statistics_per_step_and_reuse_beyond_t_max():
    norm = SequenceBatchNorm(3, max_steps=2, momentum=1.0)  # momentum 1: running = last batch's statistics
    batches = [torch.randn(5, 3) * (t + 1) + t for t in range(2)]
    for step, batch in enumerate(batches):
        norm(batch, step)
    for step, batch in enumerate(batches):
        torch.testing.assert_close(norm.running_mean[step], batch.mean(0))
        torch.testing.assert_close(norm.running_var[step], batch.var(0, unbiased=True))
    norm.eval()
    probe = torch.randn(1, 3)
    expected = (probe - batches[1].mean(0)) / torch.sqrt(batches[1].var(0) + 1e-5) * norm.weight + norm.bias
    torch.testing.assert_close(norm(probe, 7), expected)  # step 7 > T_max: step T_max − 1's statistics
    norm.train()
    with pytest.raises(ValueError, match="longer than max_steps=2"):
        norm(batches[0], 2)


def test_layer_norm_cells_work_with_batch_size_one_and_bn_does_not_in_training():
    sequences = torch.randn(6, 1, 3)
    for name in ("LN-LSTM", "LN-GRU", "LSTM"):
        assert SequenceModel(name, 3, 4, 2)(sequences).shape == (1, 2)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        SequenceModel("BN-LSTM", 3, 4, 2)(sequences)
    assert SequenceModel("BN-LSTM", 3, 4, 2).eval()(sequences).shape == (1, 2)


def test_errors():
    with pytest.raises(ValueError, match="unknown cell 'RNN'"):
        SequenceModel("RNN", 3, 4, 2)
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, 3\)"):
        LSTMCell(3, 4)(torch.randn(2, 5))
    with pytest.raises(ValueError, match="supports normalization None or 'layer norm'"):
        GRUCell(3, 4, "batch norm")


def test_adding_problem_and_saved_results(tmp_path):
    inputs, targets = rnn.adding_problem(5, 10, torch.Generator().manual_seed(0))
    assert inputs.shape == (10, 5, 2) and (inputs[..., 1].sum(0) == 2).all()
    marked = (inputs[..., 0] * inputs[..., 1]).sum(0)
    torch.testing.assert_close(marked, targets)
    assert "No saved paper-profile run" in rnn_words.rnn_saved_markdown(rnn.saved_results("paper", tmp_path))
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        rnn.profile_configs("fast")


def test_rnn_stack_reads_rows_as_steps():
    images = torch.arange(2 * 784, dtype=torch.float32).reshape(2, 784)
    sequences = RNNStack.as_sequences(images)
    assert sequences.shape == (28, 2, 28)
    torch.testing.assert_close(sequences[3, 1], images[1, 3 * 28 : 4 * 28])
    assert RNNStack("LN-GRU", [0, 1], hidden_size=8)(torch.rand(2, 3, 784)).shape == (2, 3, 10)


def test_rnn_run_resumes_part_by_part_and_the_saved_run_renders(tmp_path, monkeypatch):
    trained = []

    def fake_sequential(config, dataset, device, progress, checkpoint=None, time_budget_seconds=None, **kw):
        trained.append(config.batch_size)
        curves = {
            "train_nll": {"LSTM": [[0.5]]},
            "val_error": {"LSTM": [[0.2]]},
            "test_error": {"LSTM": [[0.25]]},
        }
        history = type("H", (), {"epoch_seconds": [1.0] * config.epochs})()
        record = {
            "config": {"seeds": [0], "epochs": config.epochs},
            "curves": curves,
            "provenance": {"device": "cpu", "wall_seconds": 60, "commit": "", "data": {"checksum": "f" * 64}},
        }
        return history, {}, record

    def fake_adding(**settings):
        if len(trained) == 2 and not hasattr(fake_adding, "failed"):
            fake_adding.failed = True
            raise KeyboardInterrupt  # dies in the last part
        return {"LSTM": {"train_loss": [0.1] * 100, "test_mse": {30: 0.01}}}

    monkeypatch.setattr(rnn, "run_sequential_mnist", fake_sequential)
    monkeypatch.setattr(rnn, "train_adding", fake_adding)
    monkeypatch.setattr(rnn, "load_mnist", lambda: None)
    with pytest.raises(KeyboardInterrupt):
        rnn.run_profile("quick", results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    partial = rnn_words.rnn_saved_markdown(rnn.saved_results("quick", tmp_path))
    assert "**partial**" in partial and "| batch 64 | LSTM | 25.00 |" in partial
    trained.clear()
    payload = rnn.run_profile("quick", results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    assert trained == [] and payload["complete"]  # finished parts are not trained again
    saved = rnn.saved_results("quick", tmp_path)
    adding = rnn.adding_results(saved["parts"]["adding"])
    assert list(rnn.sequential_records(saved)) == ["batch 64", "batch 4"] and adding["LSTM"]["test_mse"] == {"30": 0.01}
    assert "test MSE, length 30" in rnn_words.rnn_saved_markdown(rnn.saved_results("quick", tmp_path))


def test_pixel_by_pixel_reads_one_pixel_per_step(tmp_path):
    stack = RNNStack("BN-LSTM", [0], hidden_size=8, rows=784)
    assert stack(torch.rand(1, 3, 784)).shape == (1, 3, 10)
    assert RNNStack.as_sequences(torch.rand(3, 784), rows=784).shape == (784, 3, 1)
    with pytest.raises(ValueError, match="steps must divide 784"):
        rnn.SequentialMNISTConfig(64, 1, [0], steps=30)
    paper = rnn.profile_configs("paper")
    assert paper["pixel by pixel, batch 64"].steps == 784 and paper["batch 64"].steps == 28


def test_the_paper_profile_runs_pixel_by_pixel_last(tmp_path, monkeypatch):
    order = []

    def fake_sequential(config, dataset, device, progress, checkpoint=None, time_budget_seconds=None, **kw):
        order.append((config.steps, config.batch_size, Path(checkpoint).name))
        history = type("H", (), {"epoch_seconds": [1.0] * config.epochs})()
        return history, {}, {"config": {}, "curves": {}, "provenance": {}}

    monkeypatch.setattr(rnn, "run_sequential_mnist", fake_sequential)
    monkeypatch.setattr(rnn, "train_adding", lambda **settings: order.append("adding") or {})
    monkeypatch.setattr(rnn, "load_mnist", lambda: None)
    rnn.run_profile("paper", results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    assert order == [
        (28, 64, "rnn_paper_batch-64.pt"),
        (28, 4, "rnn_paper_batch-4.pt"),
        "adding",
        "adding",
        "adding",  # one training per seed
        (784, 64, "rnn_paper_pixel-by-pixel-batch-64.pt"),
    ]


def test_the_budget_profile_trains_its_seeds_longer_and_no_adding_problem(tmp_path, monkeypatch):
    trained = []

    def fake_sequential(
        config, dataset, device, progress, checkpoint=None, time_budget_seconds=None, on_epoch_end=None
    ):
        trained.append((config.seeds[0], config.epochs))
        curves = {m: {"LSTM": [[0.1]] * config.epochs} for m in ("train_nll", "val_error", "test_error")}
        record = {
            "config": asdict(config),
            "curves": curves | {"epoch_seconds": [1.0] * config.epochs},
            "epochs_done": config.epochs,
            "provenance": {"commit": None, "wall_seconds": 1.0, "device": "cpu", "data": {"checksum": "f" * 64}},
        }
        return type("H", (), {"epoch_seconds": [1.0] * config.epochs})(), {}, record

    monkeypatch.setattr(rnn, "run_sequential_mnist", fake_sequential)
    monkeypatch.setattr(rnn, "train_adding", lambda **_: pytest.fail("the budget profile has no adding problem"))
    monkeypatch.setattr(rnn, "load_mnist", lambda: None)
    rnn.run_profile("budget", results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    assert trained == [(0, 35), (1, 35)]
    saved = runs.read_results("rnn_budget.json", tmp_path)
    assert saved["complete"] and list(saved["parts"]) == ["batch 64, seed 0", "batch 64, seed 1"]


def test_the_cpu_profile_trains_each_seed_row_by_row_and_averages_the_adding_seeds(tmp_path, monkeypatch):
    configs = rnn.profile_configs("cpu")
    assert list(configs) == [f"batch 64, seed {seed}" for seed in (0, 1, 2, 3, 4)]
    assert [c.seeds for c in configs.values()] == [[0], [1], [2], [3], [4]]
    assert {(c.steps, c.epochs, c.decay_epochs) for c in configs.values()} == {(28, 20, 5)}
    assert rnn.adding_settings("cpu")["length"] == 50
    seeds_trained = []

    def fake_adding(seed=0, **settings):
        seeds_trained.append(seed)
        mse = {50: 0.01 * (seed + 1), 100: 0.2}
        return {"LSTM": {"train_loss": [float(seed)] * 4, "test_mse": mse, "prediction_std": {50: 0.3, 100: 0.01}}}

    def fake_sequential(
        config, dataset, device, progress, checkpoint=None, time_budget_seconds=None, on_epoch_end=None
    ):
        history = type("H", (), {"epoch_seconds": [1.0] * config.epochs})()
        seed = config.seeds[0]
        curves = {m: {"LSTM": [[0.1 * (seed + 1)]] * config.epochs} for m in ("train_nll", "val_error", "test_error")}
        curves["epoch_seconds"] = [1.0] * config.epochs
        record = {
            "config": asdict(config),
            "curves": curves,
            "epochs_done": config.epochs,
            "provenance": {"commit": None, "wall_seconds": 1.0, "device": "cpu", "data": {"checksum": "f" * 64}},
        }
        on_epoch_end(dict(record, epochs_done=1))  # the part in progress is in the result file
        assert "batch 64" in rnn.saved_results("cpu", tmp_path)["in_progress"]  # read with its seeds together
        return history, {}, record

    monkeypatch.setattr(rnn, "run_sequential_mnist", fake_sequential)
    monkeypatch.setattr(rnn, "train_adding", fake_adding)
    monkeypatch.setattr(rnn, "load_mnist", lambda: None)
    rnn.run_profile("cpu", results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False, seeds=[1])
    saved = rnn.saved_results("cpu", tmp_path)
    assert not saved["complete"] and list(saved["parts"]) == ["adding"]  # seeds 0 and 2 are left to another run
    assert saved["in_progress"]["batch 64"]["config"]["seeds"] == [1]
    rnn.run_profile("cpu", results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False)
    assert seeds_trained == [0, 1, 2]  # the adding problem: its three seeds, one training each, once
    saved = rnn.saved_results("cpu", tmp_path)
    assert saved["complete"] and list(saved["parts"]) == ["batch 64", "adding"]
    record = saved["parts"]["batch 64"]
    assert record["config"]["seeds"] == [0, 1, 2, 3, 4]
    assert record["curves"]["test_error"]["LSTM"][0] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert saved["config"]["sequential_mnist"]["batch 64"]["epochs"] == 20
    adding = rnn.adding_results(saved["parts"]["adding"])
    assert adding["LSTM"]["test_mse"]["50"] == pytest.approx(0.02) and adding["LSTM"]["seeds"] == 3
    assert adding["LSTM"]["test_mse_by_seed"]["50"] == pytest.approx([0.01, 0.02, 0.03])
    assert adding["LSTM"]["train_loss"] == [1.0] * 4
    shown = rnn_words.rnn_saved_markdown(saved, "CPU evidence")
    assert (
        "- batch 64: complete; 15 epochs at a constant rate, then 5 cooling it linearly to zero; seeds [0, 1, 2, 3, 4]"
        in shown
    )


def test_statistics_gap_reads_a_network_with_population_and_with_batch_statistics():
    """The same computation both ways for a cell without batch norm; for a BN-LSTM the two readings are
    different computations, and measuring them leaves its running averages as they were."""
    torch.manual_seed(0)
    sequences, labels = torch.rand(28, 40, 28), torch.randint(0, 10, (40,))
    lstm = rnn.statistics_gap(SequenceModel("LSTM", 28, 8, 10, max_steps=28), sequences, labels, batch_size=16)
    assert lstm["test_error"]["population statistics"] == lstm["test_error"]["batch statistics"]
    bn = SequenceModel("BN-LSTM", 28, 8, 10, max_steps=28)
    bn.cell.norm_ih.running_mean.fill_(3.0)  # population statistics far from any batch's
    before = bn.cell.norm_ih.running_mean.clone()
    gap = rnn.statistics_gap(bn, sequences, labels, batch_size=16)
    assert torch.equal(bn.cell.norm_ih.running_mean, before) and gap["images"] == 40
    bn.eval()
    with torch.no_grad():
        population = 100 * float((bn(sequences).argmax(1) != labels).float().mean())
    assert gap["test_error"]["population statistics"] == pytest.approx(population)
    sentence = rnn_words.statistics_gap_sentence({"LSTM": lstm, "BN-LSTM": gap})
    assert "40 test images" in sentence and "test batches of 16" in sentence


def test_recomputed_population_statistics_are_the_mean_of_the_batch_statistics():
    """Ioffe & Szegedy 2015, Alg. 2: with the final weights, the population mean of a step is the mean over
    training batches of the batch means; the model itself keeps its running averages and momentum."""
    torch.manual_seed(0)
    model = SequenceModel("BN-LSTM", 28, 8, 10, max_steps=28)
    batches = [torch.rand(28, 16, 28) for _ in range(3)]
    before = model.cell.norm_ih.running_mean.clone()
    recomputed = rnn.recomputed_population_statistics(model, batches)
    expected = torch.stack([(b[0] @ model.cell.weight_ih.T).mean(0) for b in batches]).mean(0)
    torch.testing.assert_close(recomputed.cell.norm_ih.running_mean[0], expected)
    assert torch.equal(model.cell.norm_ih.running_mean, before) and model.cell.norm_ih.momentum == 0.1
    assert not recomputed.training
    labels = torch.randint(0, 10, (16,))
    gap = rnn.statistics_gap(model, batches[0], labels, batch_size=16, training_batches=batches)
    assert set(gap["test_error"]) == {"population statistics", "batch statistics", "recomputed population statistics"}
    plain = rnn.statistics_gap(SequenceModel("LSTM", 28, 8, 10), batches[0], labels, training_batches=batches)
    assert "recomputed population statistics" not in plain["test_error"]  # nothing to recompute
    assert "recomputed after training" in rnn_words.statistics_gap_sentence({"BN-LSTM": gap})


@pytest.mark.parametrize("cell_name", ["LSTM", "LN-LSTM", "GRU", "LN-GRU"])
@pytest.mark.parametrize("training", [True, False])
def test_the_grouped_stack_computes_what_the_models_compute_one_by_one(cell_name, training, device):
    """K models as one computation (batched products over stacked weights, lnutils.rnn.
    grouped_sequence_forward): the same outputs and the same gradients of every model's own
    parameters as the models run one after another, in float64, on every device present."""
    looped = RNNStack(cell_name, [0, 1, 2], hidden_size=8, grouped=False).double().to(device).train(training)
    grouped = RNNStack(cell_name, [0, 1, 2], hidden_size=8, grouped=True).double().to(device).train(training)
    x = torch.rand(3, 5, 784, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(device)
    expected, got = looped(x), grouped(x)
    torch.testing.assert_close(got, expected)
    expected.square().sum().backward()
    got.square().sum().backward()
    for (name, a), b in zip(looped.named_parameters(), grouped.parameters()):
        torch.testing.assert_close(b.grad, a.grad, msg=name)


def test_the_recurrent_stack_groups_small_batches_and_never_the_bn_lstm(monkeypatch):
    calls = []
    monkeypatch.setattr(recurrent, "grouped_sequence_forward", lambda models, x: calls.append(x.shape[2]) or 0)
    stack = RNNStack("LN-GRU", [0, 1], hidden_size=4)
    stack(torch.rand(2, 4, 784))
    assert calls == [4]
    stack(torch.rand(2, rnn.GROUPED_UP_TO_BATCH + 1, 784))
    assert calls == [4]  # the large batch went through the models one by one
    RNNStack("BN-LSTM", [0, 1], hidden_size=4)(torch.rand(2, 4, 784))
    assert calls == [4]
    with pytest.raises(ValueError, match="BN-LSTM has no grouped form"):
        RNNStack("BN-LSTM", [0], grouped=True)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="one cell type"):
        recurrent.grouped_sequence_forward(
            list(RNNStack("BN-LSTM", [0], hidden_size=4).networks), torch.rand(1, 28, 2, 28)
        )


@pytest.mark.parametrize("grouping", [None, {"grouped": None, "up_to_batch": 64}])
def test_the_retrace_runs_the_saved_run_s_own_computation(grouping, monkeypatch):
    """A saved record without ``stack_grouping`` ran its models one by one: the retrace does too (the
    grouped form rounds differently, and training amplifies that); a newer record's grouping is used."""
    seen = []

    def fake_run(config, dataset, device, progress, grouped=None):
        seen.append(grouped)
        history = type("H", (), {"test_error": {"LN-LSTM": [[0.05]]}})()
        return history, None, None

    monkeypatch.setattr(rnn, "run_sequential_mnist", fake_run)
    config = asdict(rnn.SequentialMNISTConfig(64, 20, [0], cells=["LN-LSTM"], decay_epochs=5))
    record = {"config": config, "curves": {"test_error": {"LN-LSTM": [[0.05]]}}, "provenance": {}}
    if grouping is not None:
        record["provenance"]["stack_grouping"] = grouping
    copy = SimpleNamespace(provenance=SimpleNamespace(checksum="f" * 64))  # the data the test never reads
    check = rnn.retrace({"parts": {"batch 64": record}}, dataset=copy)
    assert check["retraces"] and seen == [False if grouping is None else None]


def test_the_adding_part_keeps_its_time_budget_and_resumes_by_seed(tmp_path, monkeypatch):
    """Issue 38 #7: the adding part ignored --time-budget.  It now stops between seeds and keeps the
    seeds it finished, so the next run trains only the rest."""
    clock = {"now": 0.0}
    trained = []

    def fake_adding(seed, **settings):
        trained.append(seed)
        clock["now"] += 100.0  # each seed takes 100 s
        return {"LSTM": {"train_loss": [0.1] * 100, "test_mse": {30: 0.01 * (seed + 1)}}}

    def fake_sequential(config, dataset, device, progress, checkpoint=None, time_budget_seconds=None, **kw):
        history = type("H", (), {"epoch_seconds": [1.0] * config.epochs})()
        return history, {}, {"config": {}, "curves": {}, "provenance": {}}

    monkeypatch.setattr(rnn, "run_sequential_mnist", fake_sequential)
    monkeypatch.setattr(rnn, "train_adding", fake_adding)
    monkeypatch.setattr(rnn, "load_mnist", lambda: None)
    monkeypatch.setattr(rnn.time, "perf_counter", lambda: clock["now"])
    seeds = [0, 1, 2]
    where = dict(results_dir=tmp_path, checkpoint_dir=tmp_path, progress=False, seeds=seeds)
    stopped = rnn.run_profile("quick", time_budget_seconds=150.0, **where)
    assert "adding" not in stopped["parts"] and trained == seeds[:2]  # the budget is checked between seeds
    trained.clear()
    done = rnn.run_profile("quick", **where)
    assert trained == seeds[2:] and done["complete"]
    assert [done["parts"]["adding"]["results_by_seed"][str(s)]["LSTM"]["test_mse"]["30"] for s in seeds] == [
        pytest.approx(0.01 * (s + 1)) for s in seeds
    ]
    assert not list(tmp_path.glob("rnn_quick_adding_*.json"))  # the kept seeds go once the part is saved


def test_the_retrace_trains_with_the_saved_runs_thread_count(monkeypatch):
    """Issue 35 #3: the row-by-row retrace failed (7.32 % live on 2 threads, 6.29 % saved on 1): another
    thread count sums in another order, and training amplifies it.  The retrace now uses the saved count."""
    seen = []

    def fake_run(config, dataset, device, progress, grouped=None):
        seen.append(torch.get_num_threads())
        history = type("H", (), {"test_error": {"LN-LSTM": [[0.0629]]}})()
        return history, None, None

    monkeypatch.setattr(rnn, "run_sequential_mnist", fake_run)
    config = asdict(rnn.SequentialMNISTConfig(64, 20, [0], cells=["LN-LSTM"], decay_epochs=5))
    record = {
        "config": config,
        "curves": {"test_error": {"LN-LSTM": [[0.0629]]}},
        "provenance": {"device": "cpu (1 threads, x86_64)", "stack_grouping": {"grouped": False}},
    }
    before = torch.get_num_threads()
    copy = SimpleNamespace(provenance=SimpleNamespace(checksum="f" * 64))
    check = rnn.retrace({"parts": {"batch 64": record}}, dataset=copy)
    assert seen == [1] and check["threads"] == 1 and torch.get_num_threads() == before
    assert "saved run's 1 CPU thread," in rnn_words.retrace_markdown(check)
    assert environment.recorded_cpu_threads("cuda (NVIDIA H100)") is None
    assert environment.recorded_cpu_threads("cpu (16 threads, x86_64)") == 16


def test_kept_networks_are_trained_again_compared_with_the_saved_run_and_added_to_by_cell(tmp_path, monkeypatch):
    """rnn.keep_networks: a seed of the saved run trained again (here a stand-in for the training), its
    test-error curve compared with the saved one, its networks kept; a second call with other cells adds
    them to the same file; the probes then read the kept networks when they cover every probed cell."""
    config = rnn.SequentialMNISTConfig(64, 2, [0], hidden_size=8, cells=["LSTM", "BN-LSTM"], decay_epochs=1)
    saved_curve = {"LSTM": [[0.10], [0.05]], "BN-LSTM": [[0.20], [0.15]]}
    part = {
        "config": asdict(config),
        "curves": {"test_error": saved_curve, "val_error": saved_curve, "train_nll": saved_curve},
        "provenance": {"device": "cpu (1 threads, x86_64)"},
    }
    (tmp_path / "rnn_cpu.json").write_text(json.dumps({"config": {}, "parts": {"batch 64, seed 0": part}}))

    def trained_again(config, dataset, device, progress, grouped=None, **kw):
        stacks = {cell: RNNStack(cell, config.seeds, config.hidden_size) for cell in config.cells}
        live = {cell: [[e[0] + 0.001] for e in saved_curve[cell]] for cell in config.cells}
        history = SimpleNamespace(test_error=live)
        return history, stacks, {"provenance": {"device": "cpu (1 threads, x86_64)"}}

    monkeypatch.setattr(rnn, "run_sequential_mnist", trained_again)
    first = rnn.keep_networks("cpu", 0, cells=["LSTM"], dataset=object(), progress=False, results_dir=tmp_path)
    assert first["networks"] == ["LSTM"]
    assert first["agreement_with_saved_run"]["LSTM"]["largest_difference_points"] == pytest.approx(0.1)
    second = rnn.keep_networks("cpu", 0, cells=["BN-LSTM"], dataset=object(), progress=False, results_dir=tmp_path)
    assert second["networks"] == ["LSTM", "BN-LSTM"] and set(second["agreement_with_saved_run"]) == {"LSTM", "BN-LSTM"}
    networks, record = rnn.load_kept_networks("cpu", 0, results_dir=tmp_path)
    assert set(networks) == {"LSTM", "BN-LSTM"} and not networks["BN-LSTM"].training
    assert record["config"]["hidden_size"] == 8
