"""Chapter 2's readings of the curves beside its answers: how often BN is below LN early on, whether a
method overfits (its training NLL falls while its test error stays), how closely the live run retraces
the saved one, and the baseline against the paper's Figure 6.  Numbers only.
"""

from __future__ import annotations

import numpy as np

from lnutils.compare import answer, curves_array, geometric_mean, log10
from lnutils.experiments.mnist_rates import BN, LN, MARGIN_POINTS

PAPER_BASELINE_128 = 1.5  # the baseline's final test error (%) at batch 128, read off Figure 6 (≈)


def bn_below_ln_epochs(curves: dict, window: int = 30) -> tuple[int, int]:
    """In how many of the first ``window`` epochs BN's seed-mean test error is below LN's, and the window."""
    ln = curves_array(curves, "test_error", LN).mean(axis=1)
    bn = curves_array(curves, "test_error", BN).mean(axis=1)
    window = min(window, len(ln))
    return int((bn[:window] < ln[:window]).sum()), window


OVERFIT_ORDERS = 1.0  # the training NLL fell by at least this many orders of magnitude over the last quarter ...
FLAT_TEST_POINTS = 0.1  # ... while the test error moved by less than this (points): fitting without generalizing


def overfitting(curves: dict) -> list[dict]:
    """Per method: the epoch of lowest mean validation error, and what the last quarter of training did:
    how many orders of magnitude the training NLL (geometric mean over seeds) fell, a positive number when
    it fell, and how many points the test error moved, from the quarter's first epoch to the last.  The rule
    (:data:`OVERFIT_ORDERS`, :data:`FLAT_TEST_POINTS`) travels with each row."""
    rows = []
    for method in curves["val_error"]:
        validation = curves_array(curves, "val_error", method).mean(axis=1)
        best = int(np.argmin(validation))
        nll = geometric_mean(curves_array(curves, "train_nll", method), axis=1)
        test = 100 * curves_array(curves, "test_error", method).mean(axis=1)
        start = len(nll) - max(2, len(nll) // 4)  # the last quarter (at least two epochs)
        start = max(0, start)
        rows.append(
            {
                "method": method,
                "best validation epoch": best + 1,
                "epochs": len(validation),
                "train NLL at best": float(nll[best]),
                "final train NLL": float(nll[-1]),
                "test error at best %": float(test[best]),
                "final test error %": float(test[-1]),
                "last quarter from epoch": start + 1,
                "NLL fell by orders": float(np.log10(max(nll[start], 1e-300) / max(nll[-1], 1e-300))),
                "test error moved points": float(test[-1] - test[start]),
                "rule orders": OVERFIT_ORDERS,
                "rule flat points": FLAT_TEST_POINTS,
            }
        )
    return rows


def live_matches_saved(live: dict[int, dict], configs: dict, saved: dict[int, dict]) -> dict[int, dict]:
    """How closely the live run reproduces the saved run over the epochs and seeds both have,
    for each batch size whose live configuration differs from the saved one only in epochs
    and seeds: largest |difference| of test error (points) and of log10 training NLL."""
    found = {}
    for batch_size, curves in live.items():
        if batch_size not in saved:
            continue
        recorded = saved[batch_size]["config"]
        config = configs[batch_size]
        same = (
            config.train_subset == recorded.get("train_subset")
            and config.learning_rates == recorded.get("learning_rates")
            and set(config.seeds) <= set(recorded["seeds"])
        )
        if not same:
            continue
        columns = [recorded["seeds"].index(seed) for seed in config.seeds]
        worst_error = worst_nll = seed_range = 0.0
        for method in curves["test_error"]:
            a = curves_array(curves, "test_error", method)
            epochs = min(len(a), saved[batch_size]["epochs_done"])
            saved_errors = curves_array(saved[batch_size]["curves"], "test_error", method)[:epochs]
            b = saved_errors[:, columns]
            worst_error = max(worst_error, float(np.abs(a[:epochs] - b).max()) * 100)
            # how far apart the saved run's own seeds are at the same epochs
            seed_range = max(seed_range, float((saved_errors.max(axis=1) - saved_errors.min(axis=1)).max()) * 100)
            a = log10(curves_array(curves, "train_nll", method)[:epochs])
            b = log10(curves_array(saved[batch_size]["curves"], "train_nll", method)[:epochs, columns])
            worst_nll = max(worst_nll, float(np.abs(a - b).max()))
        found[batch_size] = {
            "epochs": epochs,
            "seeds": list(config.seeds),
            "test error points": worst_error,
            "seed range points": seed_range,
            "log10 NLL": worst_nll,
        }
    return found


def baseline_against_paper(saved: dict[int, dict], replaced: dict[int, list[dict]]) -> dict | None:
    """The saved batch-128 baseline's final test error against the paper's (≈1.5 %, read off Figure 6),
    and every replaced complete run of it at another learning rate, compared with the saved one by the
    comparison rule (:func:`lnutils.compare.answer`, unpaired).  None without a complete saved batch-128 run."""
    run = saved.get(128)
    if run is None or not run.get("complete"):
        return None
    final = 100 * curves_array(run["curves"], "test_error", "baseline")[-1]
    rate = float(run["config"]["learning_rates"]["baseline"])
    others = []
    for old in replaced.get(128, []):
        old_rate = float(old["config"]["learning_rates"]["baseline"])
        if not old.get("complete") or old_rate == rate or old["epochs_done"] != run["epochs_done"]:
            continue
        values = 100 * curves_array(old["curves"], "test_error", "baseline")[-1]
        found = answer(values, final, MARGIN_POINTS, paired=False)  # another run: its own data orders
        others.append({"learning_rate": old_rate, "values": values.tolist(), "outcome": found["answer"]})
    return {
        "learning_rate": rate,
        "epoch": run["epochs_done"],
        "values": final.tolist(),
        "paper": PAPER_BASELINE_128,
        "gap_points": float(final.mean() - PAPER_BASELINE_128),
        "seed_spread_points": float(final.std(ddof=1)) if len(final) > 1 else None,
        "other_rates": others,
    }
