"""Chapter 2's questions answered on Figure 6's runs, as data: which method has the lower test error at each
batch size, whether layer norm converges faster, and whether each method is robust to the batch size
(:func:`verdicts`, through :func:`lnutils.compare.answer`).  :mod:`lnutils.experiments.mnist` re-exports
what the chapter reads."""

from __future__ import annotations

import numpy as np

from lnutils.compare import (
    COMPLETE,
    EQUIVALENT,
    FIRST_LOWER,
    at_epoch,
    curves_array,
    make_verdict,
    settled,
    verdict_family,
    with_budget_check,
)
from lnutils.experiments.mnist_rates import BN, LN, MARGIN_LOG10_NLL, MARGIN_POINTS, NONE, SETTLE_EPOCHS

# (id, batch size, first, second, the answer the paper expects or None for the book's own question)
TEST_ERROR_QUESTIONS = (
    ("layer_norm_vs_batch_norm", 128, LN, BN, None),
    ("layer_norm_vs_baseline", 128, LN, NONE, None),
    ("batch_norm_vs_baseline", 128, BN, NONE, None),
    ("layer_norm_beats_batch_norm_at_batch_4", 4, LN, BN, FIRST_LOWER),  # Ba et al. 2016, Sec. 6.6, Fig. 6
    ("layer_norm_vs_baseline", 4, LN, NONE, None),
    ("batch_norm_vs_baseline", 4, BN, NONE, None),
)
# "Faster training convergence" (Ba et al. 2016, Sec. 6.6): the training NLL and the test error a quarter
# of the way through batch 128's run (epoch 16 of 65), each method at its own selected rate.
SPEED_QUESTIONS = (
    ("layer_norm_converges_faster_nll", "train_nll", FIRST_LOWER),
    ("layer_norm_converges_faster_test_error", "test_error", FIRST_LOWER),
)
# Robust to the batch size (Ba et al. 2016, Sec. 6.6): a method's test error at batch 4 against batch 128,
# at equal epochs (the paper's axis) and at about equal steps (batch 4's epoch 2, 27,500 steps, against
# batch 128's epoch 64, 27,456 steps).
ROBUST_QUESTIONS = (
    ("layer_norm_robust_to_batch_size", LN, EQUIVALENT),
    ("batch_norm_robust_to_batch_size", BN, None),
)
EQUAL_STEPS_EPOCHS = {4: 2, 128: 64}


def _points(curves: dict, method: str, epoch: int | None = None, window: int | None = None) -> np.ndarray:
    return 100 * settled(curves, "test_error", method, epoch=epoch, window=window)


def evidence_level(runs_by_batch: dict[int, dict], live: bool, *batch_sizes) -> str:
    """A verdict's evidence: a live quick run compares nothing; a run still training is ``partial``."""
    if live:
        return "live quick run"
    return COMPLETE if all(runs_by_batch[b].get("complete") for b in batch_sizes) else "partial"


def epoch_reached(run: dict, batch_size: int) -> dict:
    """Where a verdict on ``run`` is read: its batch size, the epoch it reached and the epochs planned."""
    done = len(curves_array(run["curves"], "test_error", LN))
    return {"batch_size": batch_size, "epoch": done, "epochs_planned": run.get("config", {}).get("epochs", done)}


def settled_error_verdicts(runs_by_batch: dict[int, dict], live: bool) -> list[dict]:
    """The questions of :data:`TEST_ERROR_QUESTIONS`: the settled test error at each batch size."""
    out = []
    for claim, batch_size, first, second, expected in TEST_ERROR_QUESTIONS:
        if batch_size not in runs_by_batch:
            continue
        curves = runs_by_batch[batch_size]["curves"]
        out.append(
            make_verdict(
                claim,
                (first, second),
                expected,
                _points(curves, first),
                _points(curves, second),
                evidence_level(runs_by_batch, live, batch_size),
                MARGIN_POINTS,
                metric="test_error_last_epochs",
                settle_epochs=SETTLE_EPOCHS,
                **epoch_reached(runs_by_batch[batch_size], batch_size),
            )
        )
    return out


def speed_verdicts(run: dict, live: bool) -> list[dict]:
    """The questions of :data:`SPEED_QUESTIONS` at batch 128: LN against BN a quarter of the way in."""
    curves = run["curves"]
    quarter = max(1, len(curves_array(curves, "train_nll", LN)) // 4)
    out = []
    for claim, metric, expected in SPEED_QUESTIONS:
        log = metric == "train_nll"
        values = [at_epoch(curves, metric, m, quarter, log=log) * (1 if log else 100) for m in (LN, BN)]
        out.append(
            make_verdict(
                claim,
                (LN, BN),
                expected,
                *values,
                evidence_level({128: run}, live, 128),
                MARGIN_LOG10_NLL if log else MARGIN_POINTS,
                metric="log10_train_nll" if log else "test_error",
                **{**epoch_reached(run, 128), "epoch": quarter},
            )
        )
    return out


def robustness_verdicts(small_run: dict, large_run: dict, live: bool) -> list[dict]:
    """The questions of :data:`ROBUST_QUESTIONS`: each method at batch 4 against itself at batch 128, at
    equal epochs (the paper's axis) and, where both runs got that far, at equal steps."""
    small, large = small_run["curves"], large_run["curves"]
    common = min(len(curves_array(c, "test_error", LN)) for c in (small, large))
    steps_reached = (
        len(curves_array(small, "test_error", LN)) >= EQUAL_STEPS_EPOCHS[4]
        and len(curves_array(large, "test_error", LN)) >= EQUAL_STEPS_EPOCHS[128]
    )
    level = evidence_level({4: small_run, 128: large_run}, live, 4, 128)
    out = []
    for claim, method, expected in ROBUST_QUESTIONS:
        names = (f"{method} at batch 4", f"{method} at batch 128")
        out.append(
            make_verdict(
                claim,
                names,
                expected,
                _points(small, method, epoch=common),
                _points(large, method, epoch=common),
                level,
                MARGIN_POINTS,
                paired=False,
                metric="test_error_last_epochs_equal_epochs",
                settle_epochs=SETTLE_EPOCHS,
                batch_size=4,
                epoch=common,
                epochs_planned=small_run.get("config", {}).get("epochs", common),
            )
        )
        if steps_reached:
            epochs = EQUAL_STEPS_EPOCHS
            out.append(
                make_verdict(
                    claim + "_equal_steps",
                    names,
                    expected,
                    _points(small, method, epoch=epochs[4], window=1),
                    _points(large, method, epoch=epochs[128], window=1),
                    level,
                    MARGIN_POINTS,
                    paired=False,
                    metric="test_error_equal_steps",
                    batch_size=4,
                    epoch=epochs[4],
                    large_batch_epoch=epochs[128],
                )
            )
    return out


def verdicts(runs_by_batch: dict[int, dict], live: bool = False, budget_checks: list[dict] = ()) -> list[dict]:
    """Chapter 2's questions (above) answered on ``runs_by_batch`` ({batch size: a run with ``curves`` and
    ``complete``}, saved or live); data only, with the family under Holm.  A run still training is
    ``partial`` (compared at the epoch it reached), a live quick run is not compared at all.
    ``budget_checks`` (:func:`lnutils.experiments.mnist.budget_check`) set the evidence of the test-error
    answers they checked, once finished (:func:`lnutils.compare.with_budget_check`)."""
    checked = {(c["claim"], c["batch_size"]): c["confirmed"] for c in budget_checks}
    out = [
        with_budget_check(v, checked.get((v["claim"], v["batch_size"])))
        for v in settled_error_verdicts(runs_by_batch, live)
    ]
    if 128 in runs_by_batch:
        out += speed_verdicts(runs_by_batch[128], live)
    if 4 in runs_by_batch and 128 in runs_by_batch:
        out += robustness_verdicts(runs_by_batch[4], runs_by_batch[128], live)
    return verdict_family(out)
