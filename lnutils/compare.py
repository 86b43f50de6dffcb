"""Comparing methods over seeds: the book's seed-noise rule.

A comparison between two methods is made on one number per seed (for example the test
error averaged over the last epochs).  The first is "lower" when the difference of the
means is larger than twice its standard error over seeds; a smaller difference is
"within seed noise".  With one seed there is no noise estimate and the sign decides, so
every sentence built on one seed says so.
"""

from __future__ import annotations

import math

import numpy as np

CONVERGED_POINTS = 0.2  # the convergence check: validation error moved less over the last 3 epochs (points)
CONVERGENCE_WINDOW = 3
LAST_EPOCHS = 5  # a claim compares the mean of the last 5 epochs: one epoch's test error moves by ~0.1 points
# A run whose learning rate ends in a cooldown to zero (config "decay_epochs" > 0) is compared at its last
# epoch, the annealed network, and checked for convergence over its last 2 epochs: in the cooldown the
# epoch-to-epoch noise of a constant rate is gone, and what is left to see is whether the error has stopped
# falling.  This rule was written down before any run with a cooldown was seen.
COOLDOWN_CONVERGENCE_WINDOW = 2


def curves_array(curves: dict, metric: str, method: str) -> np.ndarray:
    """(epochs, seeds) array of one metric for one method."""
    return np.asarray(curves[metric][method], dtype=float)


def log10(values) -> np.ndarray:
    """log10 of values that may underflow to 0 (a training NLL of 1e-320)."""
    return np.log10(np.maximum(np.asarray(values, dtype=float), 1e-300))


def geometric_mean(values, axis=None):
    """The mean of log values, back on the linear scale: training NLLs of several seeds span
    orders of magnitude, and an arithmetic mean is the largest of them."""
    return 10 ** log10(values).mean(axis=axis)


def settled(
    curves: dict, metric: str, method: str, log: bool = False, epoch: int | None = None, window: int | None = None
) -> np.ndarray:
    """One value per seed: the metric averaged over the last LAST_EPOCHS epochs, or over the last
    quarter of a shorter run (at least one epoch), of log10 for the NLL.  ``epoch`` (1-based) ends the
    window there instead of at the run's end: two runs compared at the same epoch.  ``window`` sets the
    number of epochs averaged (:func:`settle_window`)."""
    values = curves_array(curves, metric, method)[:epoch]
    values = values[-(window or max(1, min(LAST_EPOCHS, len(values) // 4))) :]
    return (log10(values) if log else values).mean(axis=0)


def at_epoch(curves: dict, metric: str, method: str, epoch: int, log: bool = False) -> np.ndarray:
    """One value per seed at ``epoch`` (1-based), of log10 for the NLL."""
    values = curves_array(curves, metric, method)[epoch - 1]
    return log10(values) if log else values


def cooled_down(config: dict) -> bool:
    """Does a run of ``config`` end its learning rate in a cooldown to zero?"""
    return int(config.get("decay_epochs") or 0) > 0


def settle_window(config: dict, epoch: int) -> int | None:
    """How many epochs a comparison at ``epoch`` averages: the last epoch alone where it is the end of a
    cooldown (the annealed network), else the default window of :func:`settled` (None)."""
    return 1 if cooled_down(config) and epoch == int(config["epochs"]) else None


def first_epoch_only(config: dict) -> dict:
    """The overrides that make a run of ``config`` train its first epoch alone at the rates the full run
    used there (a live retrace): one epoch, cooling down only where the full run's cooldown spans it."""
    first_epoch_cools = config["epochs"] - int(config.get("decay_epochs") or 0) < 1
    return {"epochs": 1, "decay_epochs": int(first_epoch_cools)}


def convergence_rule(config: dict) -> dict:
    """The convergence check's parameters for a run of ``config`` (keyword arguments of :func:`convergence`)."""
    window = COOLDOWN_CONVERGENCE_WINDOW if cooled_down(config) else CONVERGENCE_WINDOW
    return {"window": window, "points": CONVERGED_POINTS}


def convergence(curves: dict, window: int = CONVERGENCE_WINDOW, points: float = CONVERGED_POINTS) -> dict:
    """Per normalization: did the mean validation error over seeds move less than ``points`` percentage
    points over the last ``window`` epochs?  Recorded with the numbers it used."""
    result = {}
    for name, values in curves.get("val_error", {}).items():
        mean = 100 * np.asarray(values, dtype=float).mean(axis=1)
        last = mean[-window:]
        result[name] = {
            "converged": bool(len(mean) >= window and float(last.max() - last.min()) < points),
            "moved_points": float(last.max() - last.min()) if len(mean) else None,
            "window": window,
            "threshold_points": points,
        }
    return result


def merged_seed_record(members: list[tuple[dict, bool]]) -> dict:
    """One record of several seed parts (``(record, finished)``, each one seed of the same configuration),
    their seeds side by side, cut to the epochs all of them reached; its convergence checked again on
    the seeds together.  ``seed_parts`` says how far each seed got."""
    records = [record for record, _ in members]
    epoch = min(epochs_done(record) for record in records)
    seeds = [seed for record in records for seed in record["config"]["seeds"]]
    curves = {
        metric: {
            name: [[value for record in records for value in record["curves"][metric][name][e]] for e in range(epoch)]
            for name in records[0]["curves"][metric]
        }
        for metric in ("train_nll", "val_error", "test_error")
    }
    curves["epoch_seconds"] = [sum(r["curves"]["epoch_seconds"][e] for r in records) for e in range(epoch)]
    first = records[0]
    wall = sum(record["provenance"]["wall_seconds"] for record in records)
    return {
        **first,
        "config": {**first["config"], "seeds": seeds},
        "epochs_done": epoch,
        "curves": curves,
        "convergence": convergence(curves, **convergence_rule(first["config"])),
        "provenance": {**first["provenance"], "wall_seconds": round(wall, 1)},
        "seed_parts": [
            {"seeds": r["config"]["seeds"], "epochs_done": epochs_done(r), "finished": finished}
            for r, finished in members
        ],
    }


def merged_seed_groups(planned: dict, groups: dict) -> tuple[dict, dict]:
    """Seed parts merged per key: ``planned`` maps a key to its configuration with every planned seed,
    ``groups`` maps it to its (record, finished) seed parts.  Returns (finished, in progress), each
    key -> :func:`merged_seed_record`; a key is finished when every planned seed is."""
    parts, in_progress = {}, {}
    for key, config in planned.items():
        members = sorted(groups.get(key, []), key=lambda member: member[0]["config"]["seeds"][0])
        if not members:
            continue
        record = merged_seed_record(members)
        finished = all(done for _, done in members) and record["config"]["seeds"] == config["seeds"]
        (parts if finished else in_progress)[key] = record
    return parts, in_progress


# ----------------------------------------------------------------------------- the comparison rule
#
# Every chapter answers its questions one way.  A question asks which of two methods has the lower value
# of one metric ("LN vs BN on MNIST at batch 128: which has the lower test error, and by how much?"), and
# carries an equivalence margin m, fixed before the runs that answer it.  From one number per seed:
#
# * the difference d = first - second, with a 95 % Student-t interval [lo, hi]: over the per-seed
#   differences (n - 1 degrees of freedom) where the two methods share each seed's initialisation and data
#   order (paired: every experiment trained by lnutils.train.train_lockstep, and the Transformer's), else
#   Welch's interval;
# * the answer, one of four: "first lower" (hi < 0: the first is lower by d [lo, hi]), "second lower"
#   (lo > 0), "equivalent" (the two one-sided tests, TOST: the 90 % interval lies inside [-m, m], so both
#   one-sided tests reject at 5 %; a difference smaller than the margin is an equivalence, even where the
#   interval excludes zero), or "undecided" (the interval is too wide for either);
# * with one seed there is no interval: "undecided".
#
# A chapter asks many questions: :func:`holm` controls the family (Holm 1979), and each answer records
# whether it survives, beside the expected number of false positives at 5 % each.

ALPHA = 0.05
FIRST_LOWER, SECOND_LOWER, EQUIVALENT, UNDECIDED = "first lower", "second lower", "equivalent", "undecided"
ANSWERS = (FIRST_LOWER, SECOND_LOWER, EQUIVALENT, UNDECIDED)


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) (a continued fraction: Numerical Recipes 6.4)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
    result = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
            c = 1.0 + numerator / c
            c = c if abs(c) > 1e-300 else 1e-300
            result *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * result / a


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(probability: float, df: float) -> float:
    """The t with P(T <= t) = ``probability`` (bisection on :func:`t_cdf`)."""
    low, high = -1e6, 1e6
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if t_cdf(middle, df) < probability else (low, middle)
    return (low + high) / 2


def difference(first, second, paired: bool) -> dict:
    """The difference of means first - second over seeds: its standard error and degrees of freedom
    (paired: of the per-seed differences; else Welch-Satterthwaite)."""
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if paired:
        if first.shape != second.shape:
            raise ValueError(f"paired values need one per seed on both sides, got {first.shape} and {second.shape}")
        per_seed = first - second
        n = len(per_seed)
        error = float(per_seed.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
        return {"d": float(per_seed.mean()), "se": error, "df": float(n - 1), "n": n}
    n1, n2 = len(first), len(second)
    if n1 < 2 or n2 < 2:
        return {"d": float(first.mean() - second.mean()), "se": math.nan, "df": 0.0, "n": min(n1, n2)}
    v1, v2 = first.var(ddof=1) / n1, second.var(ddof=1) / n2
    error = math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1)) if error > 0 else float(min(n1, n2) - 1)
    return {"d": float(first.mean() - second.mean()), "se": float(error), "df": float(df), "n": min(n1, n2)}


def answer(first, second, margin: float, paired: bool = True, level: float = 0.95) -> dict:
    """Which of two methods is lower, by how much: one of :data:`ANSWERS`, with the difference d =
    first - second, its ``level`` interval [lo, hi], the margin, and the p-values of the difference test
    (two-sided) and of equivalence (TOST against ±margin).  See the section comment above."""
    if margin <= 0:
        raise ValueError(f"the equivalence margin must be positive, got {margin}")
    diff = difference(first, second, paired)
    d, error, df = diff["d"], diff["se"], diff["df"]
    found = {"d": d, "lo": math.nan, "hi": math.nan, "margin": float(margin), "paired": paired, "n": diff["n"]}
    found.update({"se": error, "df": df, "p_difference": 1.0, "p_equivalence": 1.0, "level": level})
    if df < 1 or math.isnan(error):
        return {**found, "answer": UNDECIDED, "why": "one seed: no interval"}
    if error == 0.0:  # every seed's difference is the same number
        found.update(lo=d, hi=d, p_difference=0.0 if d != 0 else 1.0, p_equivalence=0.0 if abs(d) < margin else 1.0)
    else:
        half = t_quantile(1 - (1 - level) / 2, df) * error
        found.update(lo=d - half, hi=d + half)
        found["p_difference"] = 2 * (1 - t_cdf(abs(d) / error, df))
        found["p_equivalence"] = max(1 - t_cdf((d + margin) / error, df), t_cdf((d - margin) / error, df))
    return {**found, "answer": decided(found["p_difference"], found["p_equivalence"], d), "why": ""}


def decided(p_difference: float, p_equivalence: float, d: float, alpha: float = ALPHA) -> str:
    """The answer the two tests give at ``alpha``: equivalence first (a difference inside the margin is
    no difference that matters), then a direction, else undecided."""
    if p_equivalence < alpha:
        return EQUIVALENT
    if p_difference < alpha:
        return FIRST_LOWER if d < 0 else SECOND_LOWER
    return UNDECIDED


def holm(p_values, alpha: float = ALPHA) -> list[bool]:
    """Holm's step-down procedure: which of the hypotheses with these p-values are rejected, the
    family-wise error held at ``alpha``.  The i-th smallest p is compared with alpha / (k - i); at the
    first that fails, it and every larger p are kept."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    for rank, index in enumerate(order):
        if p_values[index] >= alpha / (len(p_values) - rank):
            break
        rejected[index] = True
    return rejected


def answer_family(answers: list[dict], alpha: float = ALPHA) -> list[dict]:
    """A chapter's answers with the family controlled: each tests two hypotheses (a difference, an
    equivalence), Holm's procedure runs over all of them, and each answer gets ``holm_answer`` (what is
    left of it), ``family`` (the number of hypotheses) and ``expected_false`` (alpha × that number: how
    many false positives the unadjusted answers would hold if no difference were real)."""
    p_values = [p for a in answers for p in (a["p_difference"], a["p_equivalence"])]
    rejected = holm(p_values, alpha)
    family = len(p_values)
    found = []
    for i, a in enumerate(answers):
        differs, equivalent = rejected[2 * i], rejected[2 * i + 1]
        p_difference = a["p_difference"] if differs else 1.0
        p_equivalence = a["p_equivalence"] if equivalent else 1.0
        holm_answer = decided(p_difference, p_equivalence, a["d"], alpha=1.0) if differs or equivalent else UNDECIDED
        found.append({**a, "holm_answer": holm_answer, "family": family, "expected_false": alpha * family})
    return found


# ----------------------------------------------------------------------------- verdicts, as data
#
# A verdict is a question answered (:func:`answer`, below) and set against a claim that expects one answer.
# Its ``evidence`` says what the numbers come from: "complete" (finished saved runs of every planned seed:
# the answer stands), "partial" (a saved run still training, compared at the epoch it reached) or "live
# quick run" (the book's build: it shows the code runs and never ranks methods).  A longer-budget check
# adds two levels for finished runs: "budget confirmed" (the longer budget's interval gives the same
# answer) and "budget not confirmed" (it gives another: undecided).  Only the DECIDING levels let a claim
# read yes or no; every other level leaves it undecided, and a live quick run's numbers are shown without
# an answer.

COMPLETE = "complete"
BUDGET_CONFIRMED = "budget confirmed"
BUDGET_NOT_CONFIRMED = "budget not confirmed"
DECIDING = (COMPLETE, BUDGET_CONFIRMED)
NOT_HIGHER = "first not higher"  # a claim that the first is lower or equivalent ("does as well without ...")
EXPECTATIONS = (FIRST_LOWER, SECOND_LOWER, EQUIVALENT, NOT_HIGHER)
NO_CLAIM = "no claim"  # a question of the book's own (expected None): answered, with nothing to hold


def weakest(levels) -> str:
    """The evidence level of a claim that rests on several parts: deciding only if every part's level
    is (then "budget confirmed" only if every part's is), else the first other level."""
    levels = set(levels)
    if levels <= set(DECIDING):
        return BUDGET_CONFIRMED if levels == {BUDGET_CONFIRMED} else COMPLETE
    return sorted(levels - set(DECIDING))[0]


def holds(found: str, expected: str) -> str:
    """'yes', 'no' or 'undecided': does the answer ``found`` agree with a claim that expects ``expected``
    (one of :data:`EXPECTATIONS`)?  A claim that one is lower does not hold where the two are equivalent."""
    if expected not in EXPECTATIONS:
        raise ValueError(f"unknown expectation {expected!r}; choose from {EXPECTATIONS}")
    if found == UNDECIDED:
        return "undecided"
    if expected == NOT_HIGHER:
        return "yes" if found in (FIRST_LOWER, EQUIVALENT) else "no"
    return "yes" if found == expected else "no"


def make_verdict(
    claim: str, roles: tuple, expected: str, first, second, evidence: str, margin: float, paired=True, **where
) -> dict:
    """One verdict as data: the claim's id (``expected`` None: a question no paper claims to answer), the
    two roles compared, the per-seed values, the answer of the comparison rule (:func:`answer`:
    ``outcome`` and its ``interval``), whether the claim holds (undecided unless the evidence decides) and
    the evidence level; ``where`` records what was compared (metric, epoch, dataset, ...).  A live quick
    run is not compared at all."""
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    compared = bool(len(first) and len(second)) and evidence != "live quick run"
    found = answer(first, second, margin, paired=paired) if compared else None
    shown = found["answer"] if found else UNDECIDED
    return {
        "claim": claim,
        "roles": tuple(roles),
        "expected": expected,
        "first_values": first.tolist(),
        "second_values": second.tolist(),
        "outcome": shown,
        "interval": {k: v for k, v in (found or {}).items() if k not in ("answer", "why")},
        "holds": NO_CLAIM if expected is None else holds(shown, expected) if evidence in DECIDING else "undecided",
        "evidence": evidence,
        "seeds": min(len(first), len(second)),
        **where,
    }


def with_budget_check(verdict: dict, confirmed: bool | None) -> dict:
    """``verdict`` with the evidence a finished budget check gives a complete answer: "budget confirmed"
    (the longer budget gave the same answer) or "budget not confirmed" (then undecided); None: no check."""
    if confirmed is None or verdict["evidence"] != COMPLETE:
        return verdict
    found = {**verdict, "evidence": BUDGET_CONFIRMED if confirmed else BUDGET_NOT_CONFIRMED}
    if verdict["expected"] is not None:
        found["holds"] = holds(verdict["outcome"], verdict["expected"]) if confirmed else "undecided"
    return found


def claim_verdicts(claims, reading, evidence, margin: float, **where) -> list[dict]:
    """One verdict (:func:`make_verdict`) for each ``(claim, first, second, expected)`` of ``claims`` whose
    two methods ``reading`` can read: it returns a method's per-seed values, or None for a method the run
    lacks.  ``evidence`` is a level, or a function of the claim and its two methods giving one."""
    out = []
    for claim, first, second, expected in claims:
        values = reading(first), reading(second)
        if values[0] is None or values[1] is None:
            continue
        level = evidence(claim, (first, second)) if callable(evidence) else evidence
        out.append(make_verdict(claim, (first, second), expected, *values, level, margin, **where))
    return out


def verdict_family(verdicts: list[dict], alpha: float = ALPHA) -> list[dict]:
    """A chapter's verdicts with its family of tests controlled (:func:`answer_family`, Holm): each compared
    verdict gets ``holm_outcome``, ``family`` and ``expected_false``; a verdict not compared keeps none."""
    compared = [i for i, v in enumerate(verdicts) if v.get("interval")]
    family = answer_family([{**verdicts[i]["interval"], "d": verdicts[i]["interval"]["d"]} for i in compared], alpha)
    out = [dict(v) for v in verdicts]
    for i, controlled in zip(compared, family):
        out[i].update(
            holm_outcome=controlled["holm_answer"],
            family=controlled["family"],
            expected_false=controlled["expected_false"],
        )
    return out


def epochs_done(record: dict) -> int:
    """How many epochs a record's curves hold."""
    return len(next(iter(record["curves"]["test_error"].values())))


RETRACE_TOLERANCE_POINTS = 0.3  # thread counts and BLAS kernels round differently: not bit-identical


def retrace_comparison(
    live_error: float, saved_error: float, seed: int, seconds: float, data: tuple | None = None
) -> dict:
    """A live retraining of a saved network's first epoch against the saved test error (fractions in,
    percentage points out): does the code still produce the saved run?  ``data``: (the saved run's data
    checksum, this build's); on other data the two need not agree, so ``retraces`` is None (not judged)."""
    live, saved = 100 * float(live_error), 100 * float(saved_error)
    same_data = data is None or None in data or data[0] == data[1]
    return {
        "data": None if data is None else list(data),
        "same_data": same_data,
        "seed": seed,
        "epoch": 1,
        "live": live,
        "saved": saved,
        "difference": abs(live - saved),
        "tolerance": RETRACE_TOLERANCE_POINTS,
        "retraces": abs(live - saved) <= RETRACE_TOLERANCE_POINTS if same_data else None,
        "seconds": seconds,
    }


def part_evidence(record: dict, finished: bool, profile: str) -> str:
    """The evidence level of one part of a result (see the section above): a live quick run, a part still
    training, or a finished one.  (The end of a cooldown to zero is not a test of convergence: the
    schedule itself stops the curve there; a finished part's budget is tested by a longer budget.)"""
    if profile == "quick":
        return "live quick run"
    return COMPLETE if finished else "partial"
