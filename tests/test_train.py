"""The lockstep trainer: K networks in a stack train exactly as K networks alone,
and one network in a stack trains exactly as the same network written with torch.nn."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import (
    RATES,
    small_split,
    small_stacks,
)

from lnutils.experiments import mnist
from lnutils.mlp import METHODS, MLPStack
from lnutils.train import (
    CheckpointMismatch,
    Split,
    batch_indices,
    constant_phase_checkpoint,
    evaluate,
    make_optimizer,
    rate_multiplier,
    schedule_agrees,
    train_lockstep,
)

SIZES = (12, 16, 16, 10)


def tiny_split(n=96, seed=0) -> Split:
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n + 40, SIZES[0], generator=generator)
    y = torch.randint(0, 10, (n + 40,), generator=generator)
    return Split(x[:n], y[:n], x[n : n + 20], y[n : n + 20], x[n + 20 :], y[n + 20 :])


def stacks_for(seeds, bn_unbiased=False):
    return {method: MLPStack(method, seeds, sizes=SIZES, bn_unbiased=bn_unbiased) for method in METHODS}


@pytest.mark.parametrize("batch_size", [8, 4])
def test_stack_of_three_equals_three_trained_alone(batch_size):
    split, rates = tiny_split(), {m: 3e-3 for m in METHODS}
    together = stacks_for([0, 1, 2], bn_unbiased=batch_size == 4)
    history = train_lockstep(together, rates, split, batch_size, epochs=2, progress=False)
    for k, seed in enumerate([0, 1, 2]):
        alone = stacks_for([seed], bn_unbiased=batch_size == 4)
        history_alone = train_lockstep(alone, rates, split, batch_size, epochs=2, progress=False)
        for method in METHODS:
            for name, tensor in alone[method].state_dict().items():
                torch.testing.assert_close(
                    together[method].state_dict()[name][k : k + 1], tensor, atol=1e-5, rtol=1e-4, msg=f"{method} {name}"
                )
            np.testing.assert_allclose(
                np.asarray(history.train_nll[method])[:, k],
                np.asarray(history_alone.train_nll[method])[:, 0],
                rtol=1e-4,
            )


@pytest.mark.parametrize("method", METHODS)
def test_one_network_trains_like_torch_nn_sequential_with_adam(method):
    """Same init, same batches: MLPStack + our loop == nn.Sequential(Linear, BatchNorm1d/LayerNorm, ReLU) + Adam."""
    split, lr, batch_size = tiny_split(), 3e-3, 8
    stack = MLPStack(method, [5], sizes=SIZES)
    reference = stack.to_sequential(0)
    ours_optimizer = make_optimizer({method: stack}, {method: lr})
    reference_optimizer = torch.optim.Adam(reference.parameters(), lr=lr)
    for epoch in range(2):
        for index in batch_indices(5, epoch, len(split.train_x), batch_size):
            ours_optimizer.zero_grad()
            F.cross_entropy(stack(split.train_x[index].unsqueeze(0))[0], split.train_y[index]).backward()
            ours_optimizer.step()
            reference_optimizer.zero_grad()
            F.cross_entropy(reference(split.train_x[index]), split.train_y[index]).backward()
            reference_optimizer.step()
    stack.eval(), reference.eval()
    torch.testing.assert_close(stack(split.test_x.unsqueeze(0))[0], reference(split.test_x), atol=1e-5, rtol=1e-4)


def test_batch_norm_unbiased_option_normalizes_with_unbiased_variance():
    stack = MLPStack("batch norm", [0], sizes=(3, 5, 2), bn_unbiased=True)
    summed = torch.randn(1, 4, 5)
    normalized = stack._batch_norm(summed, 0)
    expected = (summed - summed.mean(1, keepdim=True)) / torch.sqrt(summed.var(1, unbiased=True, keepdim=True) + 1e-5)
    torch.testing.assert_close(normalized, expected)
    with pytest.raises(ValueError, match="at least 2 cases"):
        stack._batch_norm(torch.randn(1, 1, 5), 0)


def test_layer_norm_only_on_hidden_layers_batch_norm_on_all():
    assert [MLPStack("layer norm", [0]).normalizes(layer) for layer in range(3)] == [True, True, False]
    assert [MLPStack("batch norm", [0]).normalizes(layer) for layer in range(3)] == [True, True, True]


def test_resume_from_checkpoint_equals_uninterrupted(tmp_path):
    split, rates = tiny_split(), {m: 3e-3 for m in METHODS}
    straight = train_lockstep(stacks_for([0, 1]), rates, split, 8, epochs=3, progress=False)
    first = train_lockstep(stacks_for([0, 1]), rates, split, 8, epochs=2, checkpoint=tmp_path / "c.pt", progress=False)
    resumed = train_lockstep(
        stacks_for([0, 1]), rates, split, 8, epochs=3, checkpoint=tmp_path / "c.pt", progress=False
    )
    assert len(first.train_nll["layer norm"]) == 2 and len(resumed.train_nll["layer norm"]) == 3
    for method in METHODS:
        np.testing.assert_allclose(resumed.test_error[method], straight.test_error[method])
        np.testing.assert_allclose(resumed.train_nll[method], straight.train_nll[method], rtol=1e-5)


def test_batch_indices_depend_only_on_seed_and_epoch():
    torch.testing.assert_close(batch_indices(3, 1, 100, 8), batch_indices(3, 1, 100, 8))
    assert not torch.equal(batch_indices(3, 1, 100, 8), batch_indices(3, 2, 100, 8))
    assert batch_indices(3, 1, 100, 8).shape == (12, 8)


def test_evaluate_counts_errors():
    stack = MLPStack("baseline", [0, 1], sizes=SIZES)
    split = tiny_split()
    nll, error = evaluate(stack, split.test_x, split.test_y, chunk=7)
    logits = stack(split.test_x.unsqueeze(0).expand(2, -1, -1))
    expected = (logits.argmax(-1) != split.test_y).float().mean(1)
    np.testing.assert_allclose(error, expected.numpy())
    np.testing.assert_allclose(nll, [F.cross_entropy(logits[k], split.test_y).item() for k in range(2)], rtol=1e-5)


def test_wrong_input_shape_and_unknown_method_and_profile():
    with pytest.raises(ValueError, match=r"expected inputs of shape \(K=2, batch, 12\)"):
        MLPStack("baseline", [0, 1], sizes=SIZES)(torch.zeros(3, 4, 12))
    with pytest.raises(ValueError, match="unknown method 'group norm'"):
        MLPStack("group norm", [0])
    with pytest.raises(ValueError, match="no 'fast' profile"):
        mnist.profile_config("fast", 128, learning_rates={})


# ----------------------------------------------------------------------------- the cooldown schedule


def test_the_cooldown_is_constant_then_a_straight_line_to_zero():
    steps, epochs, decay = 4, 3, 2  # 12 steps; the last 8 cool down
    multipliers = [rate_multiplier(step, steps, epochs, decay) for step in range(steps * epochs)]
    assert multipliers[:4] == [1.0] * 4
    assert multipliers[4:] == pytest.approx([8 / 8, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8])
    assert [rate_multiplier(step, steps, epochs, 0) for step in range(12)] == [1.0] * 12


def test_a_run_with_a_cooldown_trains_like_adam_under_torch_lambda_lr():
    """One network, our loop with decay_epochs=1 of 2, against nn.Sequential + Adam + LambdaLR stepping the
    same multipliers: the schedule is applied before every optimizer step."""
    split, lr, batch_size, method = tiny_split(), 3e-3, 8, "layer norm"
    stack = MLPStack(method, [5], sizes=SIZES)
    reference = stack.to_sequential(0)
    train_lockstep({method: stack}, {method: lr}, split, batch_size, 2, progress=False, decay_epochs=1)
    steps = len(split.train_x) // batch_size
    optimizer = torch.optim.Adam(reference.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: rate_multiplier(step, steps, 2, 1))
    for epoch in range(2):
        for index in batch_indices(5, epoch, len(split.train_x), batch_size):
            optimizer.zero_grad()
            F.cross_entropy(reference(split.train_x[index]), split.train_y[index]).backward()
            optimizer.step()
            scheduler.step()
    assert optimizer.param_groups[0]["lr"] == 0.0  # the schedule ended at zero
    stack.eval(), reference.eval()
    torch.testing.assert_close(stack(split.test_x.unsqueeze(0))[0], reference(split.test_x), atol=1e-5, rtol=1e-4)
    # without the cooldown the networks differ: the test above can fail
    constant = MLPStack(method, [5], sizes=SIZES)
    train_lockstep({method: constant}, {method: lr}, split, batch_size, 2, progress=False)
    constant.eval()
    assert not torch.allclose(constant(split.test_x.unsqueeze(0))[0], reference(split.test_x), atol=1e-4)


def test_a_constant_runs_checkpoint_extends_into_a_cooldown_and_a_cooled_one_does_not(tmp_path):
    split, rates = tiny_split(), {m: 3e-3 for m in METHODS}
    straight = train_lockstep(stacks_for([0]), rates, split, 8, epochs=3, progress=False, decay_epochs=1)
    checkpoint = tmp_path / "c.pt"
    train_lockstep(stacks_for([0]), rates, split, 8, epochs=2, checkpoint=checkpoint, progress=False)
    extended = train_lockstep(
        stacks_for([0]), rates, split, 8, epochs=3, checkpoint=checkpoint, progress=False, decay_epochs=1
    )
    for method in METHODS:
        np.testing.assert_allclose(extended.test_error[method], straight.test_error[method])
        np.testing.assert_allclose(extended.train_nll[method], straight.train_nll[method], rtol=1e-5)
    # its 3 epochs ended in a cooldown: without the copy kept at epoch 2 (below), a run that would go on at a
    # constant rate, or cool down later, is refused
    constant_phase_checkpoint(checkpoint, 2).unlink()
    for epochs, decay in ((4, 0), (5, 2)):
        with pytest.raises(CheckpointMismatch, match="learning-rate schedule"):
            train_lockstep(
                stacks_for([0]), rates, split, 8, epochs, checkpoint=checkpoint, progress=False, decay_epochs=decay
            )
    assert schedule_agrees(None, {"epochs": 15, "decay_epochs": 5}, 10)
    assert not schedule_agrees(None, {"epochs": 15, "decay_epochs": 5}, 11)


def test_a_cooldown_longer_than_the_run_or_inside_a_cuda_graph_is_refused():
    split, rates = tiny_split(), {m: 3e-3 for m in METHODS}
    with pytest.raises(ValueError, match="decay_epochs must be between 0 and epochs"):
        train_lockstep(stacks_for([0]), rates, split, 8, 2, progress=False, decay_epochs=3)
    with pytest.raises(ValueError, match="graph=False"):
        train_lockstep(stacks_for([0]), rates, split, 8, 2, progress=False, decay_epochs=1, graph=True)


def test_a_longer_budget_branches_from_the_checkpoint_kept_at_the_end_of_the_constant_phase(tmp_path):
    split, rates = tiny_split(), {m: 3e-3 for m in METHODS}
    checkpoint = tmp_path / "c.pt"
    train_lockstep(stacks_for([0]), rates, split, 8, 3, checkpoint=checkpoint, progress=False, decay_epochs=1)
    kept = constant_phase_checkpoint(checkpoint, 2)
    assert kept.name == "c.constant-2.pt" and kept.exists()
    longer = train_lockstep(stacks_for([0]), rates, split, 8, 5, checkpoint=checkpoint, progress=False, decay_epochs=2)
    straight = train_lockstep(stacks_for([0]), rates, split, 8, 5, progress=False, decay_epochs=2)
    for method in METHODS:
        np.testing.assert_allclose(longer.test_error[method], straight.test_error[method])
        np.testing.assert_allclose(longer.train_nll[method], straight.train_nll[method], rtol=1e-5)
    # a constant run's checkpoint resumed exactly where a cooldown begins is kept there too
    constant = tmp_path / "e.pt"
    train_lockstep(stacks_for([0]), rates, split, 8, 2, checkpoint=constant, progress=False)
    train_lockstep(stacks_for([0]), rates, split, 8, 3, checkpoint=constant, progress=False, decay_epochs=1)
    assert constant_phase_checkpoint(constant, 2).exists()
    # a cooldown that would start before the kept epoch 2 has nothing to branch from
    checkpoint_2 = tmp_path / "d.pt"
    train_lockstep(stacks_for([0]), rates, split, 8, 3, checkpoint=checkpoint_2, progress=False, decay_epochs=1)
    with pytest.raises(CheckpointMismatch, match="learning-rate schedule"):
        train_lockstep(stacks_for([0]), rates, split, 8, 4, checkpoint=checkpoint_2, progress=False, decay_epochs=3)


def test_a_run_with_no_checkpoint_of_its_own_can_branch_from_another_runs_constant_phase(tmp_path):
    split, rates = tiny_split(), {m: 3e-3 for m in METHODS}
    checked = tmp_path / "checked.pt"
    train_lockstep(stacks_for([0]), rates, split, 8, 3, checkpoint=checked, progress=False, decay_epochs=1)
    before = checked.read_bytes()
    longer = train_lockstep(
        stacks_for([0]),
        rates,
        split,
        8,
        5,
        checkpoint=tmp_path / "budget.pt",
        progress=False,
        decay_epochs=2,
        branch_from=checked,
    )
    straight = train_lockstep(stacks_for([0]), rates, split, 8, 5, progress=False, decay_epochs=2)
    for method in METHODS:
        np.testing.assert_allclose(longer.test_error[method], straight.test_error[method])
    assert checked.read_bytes() == before and (tmp_path / "budget.pt").exists()  # the checked run is untouched
    # nothing fits a cooldown that begins before epoch 2: the run starts afresh
    fresh = train_lockstep(
        stacks_for([0]),
        rates,
        split,
        8,
        2,
        checkpoint=tmp_path / "fresh.pt",
        progress=False,
        decay_epochs=1,
        branch_from=checked,
    )
    afresh = train_lockstep(stacks_for([0]), rates, split, 8, 2, progress=False, decay_epochs=1)
    for method in METHODS:
        np.testing.assert_allclose(fresh.train_nll[method], afresh.train_nll[method], rtol=1e-5)


class RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_checkpoint_cannot_run_code(tmp_path):
    checkpoint = tmp_path / "evil.pt"
    torch.save({"payload": RunsCode()}, checkpoint)
    with pytest.raises(CheckpointMismatch, match="UnpicklingError"):  # refused, and the file is named
        train_lockstep(small_stacks(), RATES, small_split(), 8, 1, checkpoint=checkpoint, progress=False)


def test_resuming_with_other_learning_rates_is_an_error_naming_both(tmp_path):
    checkpoint = tmp_path / "run.pt"
    train_lockstep(small_stacks(), RATES, small_split(), 8, 1, checkpoint=checkpoint, progress=False)
    other = {**RATES, "layer norm": 1e-4}
    with pytest.raises(CheckpointMismatch, match=r"learning_rates: checkpoint .*0\.001.* this run .*0\.0001"):
        train_lockstep(small_stacks(), other, small_split(), 8, 2, checkpoint=checkpoint, progress=False)
    for changed in (dict(seeds=(0, 1)), dict(batch_size=4)):
        with pytest.raises(CheckpointMismatch):
            train_lockstep(
                small_stacks(changed.get("seeds", (0,))),
                RATES,
                small_split(),
                changed.get("batch_size", 8),
                2,
                checkpoint=checkpoint,
                progress=False,
            )


def test_a_longer_run_extends_its_checkpoint(tmp_path):
    checkpoint = tmp_path / "run.pt"
    train_lockstep(small_stacks(), RATES, small_split(), 8, 1, checkpoint=checkpoint, progress=False)
    history = train_lockstep(small_stacks(), RATES, small_split(), 8, 2, checkpoint=checkpoint, progress=False)
    assert len(history.train_nll["baseline"]) == 2


def test_checkpoint_fingerprint_includes_the_data(tmp_path):
    checkpoint = tmp_path / "run.pt"
    train_lockstep(
        small_stacks(),
        RATES,
        small_split(),
        8,
        1,
        checkpoint=checkpoint,
        progress=False,
        fingerprint_extra={"data": "aaa"},
    )
    with pytest.raises(CheckpointMismatch, match="data"):
        train_lockstep(
            small_stacks(),
            RATES,
            small_split(),
            8,
            2,
            checkpoint=checkpoint,
            progress=False,
            fingerprint_extra={"data": "bbb"},
        )


def test_asking_for_fewer_epochs_than_a_checkpoint_holds_is_an_error(tmp_path):
    checkpoint = tmp_path / "run.pt"
    train_lockstep(small_stacks(), RATES, small_split(), 8, 3, checkpoint=checkpoint, progress=False)
    with pytest.raises(CheckpointMismatch, match="holds 3 epochs, more than the 2 asked for"):
        train_lockstep(small_stacks(), RATES, small_split(), 8, 2, checkpoint=checkpoint, progress=False)


@pytest.mark.parametrize("epochs_done", [-1, 0, 5, True])
def test_a_checkpoint_whose_epochs_disagree_with_its_history_is_refused(tmp_path, epochs_done):
    checkpoint = tmp_path / "run.pt"
    train_lockstep(small_stacks(), RATES, small_split(), 8, 2, checkpoint=checkpoint, progress=False)
    state = torch.load(checkpoint, weights_only=True)
    state["epochs_done"] = epochs_done
    torch.save(state, checkpoint)
    with pytest.raises(CheckpointMismatch, match="inconsistent"):
        train_lockstep(small_stacks(), RATES, small_split(), 8, 6, checkpoint=checkpoint, progress=False)


@pytest.mark.parametrize(
    "content, named",
    [(b"", "cannot be read"), (os.urandom(512), "cannot be read"), (None, "incomplete")],
)
def test_an_empty_random_or_incomplete_checkpoint_is_named(tmp_path, content, named):
    checkpoint = tmp_path / "run.pt"
    if content is None:
        torch.save({"fingerprint": {}}, checkpoint)
    else:
        checkpoint.write_bytes(content)
    with pytest.raises(CheckpointMismatch, match=named) as error:
        train_lockstep(small_stacks(), RATES, small_split(), 8, 1, checkpoint=checkpoint, progress=False)
    assert str(checkpoint) in str(error.value)


def test_training_leaves_the_process_flush_denormal_setting_as_it_found_it():
    torch.set_flush_denormal(False)
    train_lockstep(small_stacks(), RATES, small_split(), 8, 1, progress=False)
    assert torch.tensor([1e-40], dtype=torch.float32).item() != 0.0  # denormals are kept again
