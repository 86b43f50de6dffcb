"""The BN-LSTM study's readings and the kept-networks files (lnutils.experiments.bn_lstm, lnutils.kept_networks)."""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest
import torch

from lnutils import kept_networks
from lnutils.experiments import bn_lstm
from lnutils.plotting import plot_bn_lstm_study
from lnutils.report import rnn as words
from lnutils.rnn import SequenceModel


def bn_lstm_model(seed=0, steps=6):
    torch.manual_seed(seed)
    return SequenceModel("BN-LSTM", 5, 8, 4, max_steps=steps)


def sequences_and_labels(steps=6, count=24, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(steps, count, 5, generator=generator), torch.randint(0, 4, (count,), generator=generator)


def error_of(logits, labels):
    return 100 * float((logits.argmax(1) != labels).float().mean())


def test_a_reading_with_no_batch_steps_is_eval_mode_and_with_every_step_is_training_mode():
    model, (x, y) = bn_lstm_model(), sequences_and_labels()
    with torch.no_grad():
        model.cell.norm_hh.running_var.mul_(3.0)  # population statistics unlike any batch's
        eval_logits = model.eval()(x)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert bn_lstm.read(model, x, y, (), batch_size=24)["error"] == pytest.approx(error_of(eval_logits, y))
    with torch.no_grad():
        probe = SequenceModel("BN-LSTM", 5, 8, 4, max_steps=6)
        probe.load_state_dict(before)
        train_logits = probe.train()(x)
    reading = bn_lstm.read(model, x, y, range(6), batch_size=24)
    assert reading["error"] == pytest.approx(error_of(train_logits, y))
    nll = float(torch.nn.functional.cross_entropy(train_logits, y))
    assert reading["nll"] == pytest.approx(nll, rel=1e-5)
    for key, value in model.state_dict().items():  # the reading left the running averages alone
        assert torch.equal(value, before[key]), key


def test_batch_statistics_for_some_steps_only_differ_from_both_ends():
    model, (x, y) = bn_lstm_model(), sequences_and_labels(count=64)
    with torch.no_grad():
        for module in bn_lstm.batch_norms(model).values():
            module.running_var.mul_(5.0)
            module.running_mean.add_(0.3)
    nlls = [bn_lstm.read(model, x, y, steps, batch_size=64)["nll"] for steps in ((), range(3), range(6))]
    assert nlls[1] != pytest.approx(nlls[0]) and nlls[1] != pytest.approx(nlls[2])


def test_statistics_by_step_reads_no_shift_where_the_population_is_the_batch():
    model, (x, _) = bn_lstm_model(), sequences_and_labels(count=32)
    reference = bn_lstm.statistics_by_step(model, x, batch_size=32)
    assert reference["norm_ih"]["mean_shift"][2] > 0.01  # the initial population (0, 1) is not the batch's
    # population statistics set to the one batch's own (mean, and the mean of squared deviations)
    collected = {}
    probe = bn_lstm_model()
    for name, module in bn_lstm.batch_norms(probe).items():
        module.register_forward_hook(lambda m, a, o, name=name: collected.setdefault(name, {}).update({a[1]: a[0]}))
    with torch.no_grad():
        probe.train()(x)
        for name, module in bn_lstm.batch_norms(model).items():
            for step, values in collected[name].items():
                module.running_mean[step] = values.mean(0)
                module.running_var[step] = values.var(0, unbiased=False)
    found = bn_lstm.statistics_by_step(model, x, batch_size=32)
    assert max(found["norm_ih"]["mean_shift"]) < 1e-5
    assert found["norm_ih"]["scale_ratio"] == pytest.approx([1.0] * 6, abs=1e-5)
    assert found["norm_hh"]["degenerate_share"][0] == 1.0  # h_0 = 0: W_hh h_0 is the same for every sequence


def test_kept_networks_load_what_was_saved_and_refuse_a_changed_file(tmp_path):
    saved = {"a": bn_lstm_model(0), "b": SequenceModel("LN-LSTM", 5, 8, 4)}
    path = tmp_path / "networks" / "kept.npz"
    record = kept_networks.save(path, saved, {"seed": 0})
    assert record["networks"] == ["a", "b"] and record["file"] == "kept.npz"
    fresh = {"a": bn_lstm_model(3), "b": SequenceModel("LN-LSTM", 5, 8, 4)}
    kept_networks.load(path, fresh)
    for name in saved:
        for key, value in saved[name].state_dict().items():
            assert torch.equal(fresh[name].state_dict()[key], value), (name, key)
    with pytest.raises(kept_networks.KeptNetworksError, match="holds no c/"):
        kept_networks.load(path, {"c": bn_lstm_model()})
    with pytest.raises(kept_networks.KeptNetworksError, match="shape"):
        kept_networks.load(path, {"a": SequenceModel("BN-LSTM", 5, 9, 4, max_steps=6)})
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(kept_networks.KeptNetworksError, match="changed or truncated"):
        kept_networks.load(path, fresh)
    path.unlink()
    with pytest.raises(kept_networks.KeptNetworksError, match="missing"):
        kept_networks.load(path, fresh)


def test_the_study_agrees_with_itself_at_both_ends_of_k_and_its_sentence_uses_its_numbers(capsys):
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(96, 784, generator=generator)
    images[:, :84] = 0.0  # the first three rows blank, as in MNIST
    labels = torch.randint(0, 10, (96,), generator=generator)
    split = SimpleNamespace(train_x=images[:64], train_y=labels[:64], test_x=images[64:], test_y=labels[64:])
    torch.manual_seed(0)
    model = SequenceModel("BN-LSTM", 28, 8, 10, max_steps=28).eval()
    with torch.no_grad():
        for module in bn_lstm.batch_norms(model).values():
            module.running_var.fill_(2.0)  # population statistics unlike any batch's
    found = bn_lstm.study(model, split, batch_size=16, progress=True)  # it says what it has read, as it goes
    said = capsys.readouterr().out
    assert "population and batch statistics read" in said and "ε varied" in said
    readings = found["readings"]
    first_k, all_but = (
        found["batch_statistics_for_the_first_k_steps"],
        found["batch_statistics_for_all_but_the_first_k_steps"],
    )
    assert first_k["0"] == all_but["28"] == readings["test, population statistics"]["error"]
    assert first_k["28"] == all_but["0"] == readings["test, batch statistics"]["error"]
    assert found["statistics_by_step"]["norm_ih"]["degenerate_share"][:3] == [1.0, 1.0, 1.0]  # blank rows
    numbers = bn_lstm.summary_numbers(found)
    assert numbers["first_k_error"] == first_k[str(numbers["first_k"])]
    found["config"] = {"seed": 0, "profile": "cpu"}
    sentence = words.bn_lstm_sentence(numbers)
    assert f"{numbers['population']:.2f} %" in sentence and f"first {numbers['first_k']} steps" in sentence
    assert "| test, batch statistics |" in words.bn_lstm_readings_markdown(found)
    figure = plot_bn_lstm_study(found)
    left, right = figure.axes
    assert len(left.lines) == 2 and len(right.lines) == 3  # the two swaps; the three normalizations
    assert list(left.lines[0].get_ydata()) == list(first_k.values())
    plt.close(figure)


def test_the_remedy_cells_change_only_epsilon_and_their_table_says_which_closes_the_gap():
    torch.manual_seed(0)
    plain = SequenceModel("BN-LSTM", 5, 8, 4, max_steps=6)
    torch.manual_seed(0)
    remedy = SequenceModel("BN-LSTM, ε 1e-3", 5, 8, 4, max_steps=6)
    assert {module.eps for module in bn_lstm.batch_norms(remedy).values()} == {1e-3}
    assert {module.eps for module in bn_lstm.batch_norms(plain).values()} == {1e-5}
    for a, b in zip(plain.state_dict().values(), remedy.state_dict().values()):  # the same initial weights
        assert torch.equal(a, b)
    payload = {
        "readings": {
            "BN-LSTM, ε 1e-3": {"population": 3.1, "batch": 3.0},
            "BN-LSTM, ε 1e-2": {"population": 6.0, "batch": 3.0},
        },
        "saved_final_test_error": {"BN-LSTM": 7.31, "LSTM": 1.2},
    }
    rows = bn_lstm.remedy_numbers(payload)
    assert [row["closes_the_gap"] for row in rows] == [True, False]
    assert rows[1]["gap"] == pytest.approx(3.0)
    table = words.bn_remedies_markdown(rows)
    assert "| ε 1e-3 | 3.10 | 3.00 | +0.10 | **yes** |" in table and "ended at 7.31 %" in table
    assert "rnn bn-remedies" in words.bn_remedies_markdown(None)
