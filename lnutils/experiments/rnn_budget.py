"""Chapter 4's budget check: do the row-by-row MNIST answers at the cpu profile's budget survive a longer one?

The cpu profile trains 15 epochs at a constant rate, then 5 that cool it linearly to zero.  The budget
profile trains seeds 0 and 1 (:data:`lnutils.experiments.rnn.BUDGET_SEEDS`) again with the constant phase
doubled and the same cooldown (30 + 5 epochs), from epoch 0: this machine keeps no checkpoint of the cpu
parts' constant phase.  An answer is budget-robust ("budget confirmed") when the comparison rule gives the
same answer at the longer budget as at the cpu budget on the same seeds (so both sides have the same
interval width).  The speed questions (epochs 1 and 3, before any cooldown) read the same epochs in both
runs and are not checked.  Registered on 2026-12-08, before any budget run.

Command line: ``python -m lnutils.experiments rnn run --profile budget`` writes ``rnn_budget.json``.
"""

from __future__ import annotations

from pathlib import Path

from lnutils import runs
from lnutils.compare import COMPLETE
from lnutils.experiments import rnn
from lnutils.experiments.rnn_verdicts import SEQUENTIAL_CLAIMS, sequential_verdicts
from lnutils.runs import result_parts

CHECKED_CLAIMS = {claim for claim, *_ in SEQUENTIAL_CLAIMS}


def on_seeds(result: dict, seeds) -> dict:
    """A cpu result (as written, split by seed) cut to the parts of ``seeds``, then read with its seeds
    together (:func:`lnutils.experiments.rnn.seeds_merged`)."""
    keep = {name for name in result["config"]["parts"] if rnn.setting_of(name)[1] in set(seeds)}
    cut = {
        **result,
        "config": {**result["config"], "parts": {n: c for n, c in result["config"]["parts"].items() if n in keep}},
        "parts": {n: r for n, r in result.get("parts", {}).items() if n in keep},
        "in_progress": {n: r for n, r in (result.get("in_progress") or {}).items() if n in keep},
    }
    return rnn.seeds_merged(cut)


def answers(result: dict) -> dict[tuple[str, str], dict]:
    """The sequential-MNIST claims' verdicts of a seeds-merged result, by (setting, claim)."""
    profile = result["config"].get("profile", "")
    return {
        (setting, v["claim"]): v
        for setting, record, finished in result_parts(result)
        if setting != "adding"
        for v in sequential_verdicts(setting, record, finished, profile)
        if v["claim"] in CHECKED_CLAIMS
    }


def budget_check(cpu_result: dict | None, budget_result: dict | None) -> list[dict]:
    """Per setting and claim of :data:`lnutils.experiments.rnn.SEQUENTIAL_CLAIMS`: the answer at the cpu
    budget and at the longer one, on the seeds the budget run planned; ``confirmed`` is whether the two
    agree, None while either is unfinished.  ``cpu_result`` and ``budget_result`` as written (split by
    seed).  Data only."""
    if not cpu_result or not budget_result:
        return []
    seeds = sorted({seed for name in budget_result["config"]["parts"] if (seed := rnn.setting_of(name)[1]) is not None})
    short, long = answers(on_seeds(cpu_result, seeds)), answers(rnn.seeds_merged(budget_result))
    out = []
    for key, at_longer in long.items():
        at_checked = short.get(key)
        if at_checked is None:
            continue
        finished = at_checked["evidence"] == COMPLETE and at_longer["evidence"] == COMPLETE
        out.append(
            {
                "setting": key[0],
                "claim": key[1],
                "roles": at_longer["roles"],
                "seeds": seeds,
                "epochs": (at_checked["epoch"], at_longer["epoch"]),
                "answer_at_checked_budget": at_checked["outcome"],
                "answer_at_longer_budget": at_longer["outcome"],
                "interval_at_checked_budget": at_checked["interval"],
                "interval_at_longer_budget": at_longer["interval"],
                "evidence_at_longer_budget": at_longer["evidence"],
                "confirmed": at_checked["outcome"] == at_longer["outcome"] if finished else None,
            }
        )
    return out


def saved_budget_result(results_dir: Path | None = None) -> dict | None:
    """The budget run's result file (``rnn_budget.json``) as written, finished or still training."""
    return runs.read_results(rnn.results_file("budget").name, results_dir)


def saved_budget_check(profile: str = "cpu", results_dir: Path | None = None) -> list[dict]:
    """:func:`budget_check` of the saved cpu run and the saved budget run: empty until the budget run
    starts, and for every profile but cpu (the one the budget profile checks)."""
    if profile != "cpu":
        return []
    cpu = runs.read_results(rnn.results_file("cpu").name, results_dir)
    return budget_check(cpu, saved_budget_result(results_dir))
