"""Chapter 3's questions answered on a result, as data: which normalization has the lower test error at
each dataset and batch size, and which loses more from batch 128 to batch 4 (:func:`verdicts`, through
:func:`lnutils.compare.answer`).  :mod:`lnutils.experiments.conv` re-exports what the chapter reads."""

from __future__ import annotations

import numpy as np

from lnutils.compare import (
    BUDGET_CONFIRMED,
    BUDGET_NOT_CONFIRMED,
    FIRST_LOWER,
    claim_verdicts,
    cooled_down,
    epochs_done,
    make_verdict,
    part_evidence,
    settle_window,
    settled,
    verdict_family,
    weakest,
)
from lnutils.runs import result_parts

LAYER_NORM = "layer norm (C,H,W)"  # Ba et al.'s layer norm: every unit of a layer, all positions
BATCH_NORM = "batch norm"
GROUP_NORM = "group norm (G=8)"
SMALL_BATCH = 4  # Wu & He 2018's regime, where batch statistics fail
LARGE_BATCH = 128

# Each claim at one (dataset, batch size): (id, first, second, the answer the claim expects of first vs second).
CLAIMS = (
    ("batch_norm_beats_layer_norm", BATCH_NORM, LAYER_NORM, FIRST_LOWER),  # Ba et al. 2016, Sec. 6.7
    ("layer_norm_beats_no_normalization", LAYER_NORM, "none", FIRST_LOWER),  # Ba et al. 2016, Sec. 6.7
    ("group_norm_beats_layer_norm", GROUP_NORM, LAYER_NORM, FIRST_LOWER),  # Wu & He 2018, Table 1
)
# Across batch sizes: the test-error change from batch 128 to batch 4, first's against second's.
BATCH_CLAIMS = (
    ("batch_norm_degrades_more_than_group_norm", GROUP_NORM, BATCH_NORM, FIRST_LOWER),  # Wu & He 2018, Fig. 1
    ("batch_norm_degrades_more_than_layer_norm", LAYER_NORM, BATCH_NORM, FIRST_LOWER),
)
# The equivalence margin of every question, in test-error points, per dataset: a difference smaller than
# this is no difference a reader of this chapter would act on (half a point on Fashion-MNIST, where the
# normalized networks sit near 11-13 %; a fifth of a point on MNIST, near 2-3 %).  Fixed on 2026-12-07,
# after the cpu runs below had been read, and before any run that checks them (the budget checks).
MARGIN_POINTS = {"fashion-mnist": 0.5, "mnist": 0.2}
METRIC = "test_error_settled"  # what a verdict compares: an id; its words are in lnutils.report.cells
ANNEALED_METRIC = "test_error_cooldown_end"


def part_key(dataset: str, batch_size: int) -> str:
    return f"{dataset}, batch {batch_size}"


def live_result(records: list[dict], profile: str) -> dict:
    """The records of a live :func:`run_grid` in the shape of a saved result (for :func:`verdicts`)."""
    return {"config": {"profile": profile}, "parts": {part_key(r["dataset"], r["batch_size"]): r for r in records}}


def settled_test_error(record: dict, name: str, epoch: int) -> np.ndarray:
    window = settle_window(record["config"], epoch)
    return 100 * settled(record["curves"], "test_error", name, epoch=epoch, window=window)


def _evidence(record: dict, finished: bool, claim: str, names, profile: str, budget_checks) -> str:
    """A part's evidence level for one claim: :func:`part_evidence`, which a finished budget check
    replaces for the checked part (see the budget check below)."""
    level = part_evidence(record, finished, profile)
    checked = {(c["dataset"], c["batch_size"], c["claim"]): c["confirmed"] for c in budget_checks}
    where = (record["dataset"], record["batch_size"], claim)
    if finished and checked.get(where) is not None:
        return BUDGET_CONFIRMED if checked[where] else BUDGET_NOT_CONFIRMED
    return level


def _on_seeds(record: dict, values: np.ndarray, seeds: list[int]) -> np.ndarray:
    """A record's per-seed values (in its seeds' order) for ``seeds`` only, in that order."""
    return values[[record["config"]["seeds"].index(seed) for seed in seeds]]


def part_verdicts(record: dict, finished: bool, profile: str, budget_checks) -> list[dict]:
    """Every claim of :data:`CLAIMS` at one part (one dataset and batch size) that has both methods."""
    epoch = epochs_done(record)
    window = settle_window(record["config"], epoch)

    def settled_error(method):
        if method in record["curves"]["test_error"]:
            return settled_test_error(record, method, epoch)
        return None

    def evidence(claim, names):
        return _evidence(record, finished, claim, names, profile, budget_checks)

    return claim_verdicts(
        CLAIMS,
        settled_error,
        evidence,
        MARGIN_POINTS[record["dataset"]],
        dataset=record["dataset"],
        batch_size=record["batch_size"],
        epoch=epoch,
        epochs_planned=record["config"]["epochs"],
        metric=METRIC if window is None else ANNEALED_METRIC,
    )


def batch_change_verdicts(dataset: str, small: tuple, large: tuple, profile: str, budget_checks) -> list[dict]:
    """Every claim of :data:`BATCH_CLAIMS` on one dataset: the test-error change from batch 128 to batch 4,
    per seed.  ``small`` and ``large`` are (record, finished).  Two finished parts that each end in a
    cooldown are compared each at its own annealed end (its full budget); otherwise both at the epoch both
    reached."""
    (small, small_finished), (large, large_finished) = small, large
    annealed = small_finished and large_finished and all(cooled_down(r["config"]) for r in (small, large))
    common = min(epochs_done(small), epochs_done(large))
    small_epoch, large_epoch = (epochs_done(small), epochs_done(large)) if annealed else (common, common)
    # each seed's change, on the seeds both parts hold (a part still training may hold fewer)
    seeds = [seed for seed in small["config"]["seeds"] if seed in large["config"]["seeds"]]
    out = []
    for claim, first, second, expected in BATCH_CLAIMS:
        names = (first, second)
        if not seeds or not all(n in r["curves"]["test_error"] for n in names for r in (small, large)):
            continue
        levels = {
            _evidence(small, small_finished, claim, names, profile, budget_checks),
            _evidence(large, large_finished, claim, names, profile, budget_checks),
        }
        change = {
            name: _on_seeds(small, settled_test_error(small, name, small_epoch), seeds)
            - _on_seeds(large, settled_test_error(large, name, large_epoch), seeds)
            for name in names
        }
        out.append(
            make_verdict(
                claim,
                names,
                expected,
                change[first],
                change[second],
                weakest(levels),
                MARGIN_POINTS[dataset],
                dataset=dataset,
                batch_size=SMALL_BATCH,
                epoch=small_epoch,
                large_batch_epoch=large_epoch,
                large_batch=LARGE_BATCH,
                metric="test_error_change_cooldown_ends" if annealed else "test_error_change_same_epoch",
            )
        )
    return out


def verdicts(result: dict, budget_checks: list[dict] = ()) -> list[dict]:
    """Every claim of :data:`CLAIMS` at each part that has both methods, then :data:`BATCH_CLAIMS` for
    each dataset with both batch sizes.  ``budget_checks`` (:func:`lnutils.experiments.conv_budget.
    budget_check`, finished) set the evidence of the checked part's claims.  Data only."""
    profile = result.get("config", {}).get("profile", "")
    out = []
    by_key = {}
    for _, record, finished in result_parts(result):
        by_key[(record["dataset"], record["batch_size"])] = (record, finished)
        out += part_verdicts(record, finished, profile, budget_checks)
    for (dataset, batch_size), small in sorted(by_key.items()):
        if batch_size == SMALL_BATCH and (dataset, LARGE_BATCH) in by_key:
            out += batch_change_verdicts(dataset, small, by_key[(dataset, LARGE_BATCH)], profile, budget_checks)
    return verdict_family(out)
