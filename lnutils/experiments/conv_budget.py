"""Chapter 3's budget check: does an answer at the cpu profile's budget survive a longer one?

Each checked part (dataset, batch size) is trained again with its constant phase doubled and the same
cooldown (batch 128: 20 + 5 epochs instead of 10 + 5; batch 4: 4 + 2 instead of 2 + 2), branched from
the cpu part's checkpoint kept at the end of its constant phase. An answer is budget-robust ("budget
confirmed") when the comparison rule gives the same answer at the longer budget, on the seeds the check
holds; it needs an interval, so at least two seeds (:data:`BUDGET_CHECK_SEEDS`: seed 2, then seed 1).
With one seed finished a check shows how far each difference moved and confirms nothing: the chapter
says so. A batch-size claim rests on both sides' checks (:func:`weakest`).

Command line: ``python -m lnutils.experiments conv budget`` writes ``conv_budget.json``.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from lnutils import environment, parts, runs
from lnutils.compare import answer, epochs_done
from lnutils.experiments import conv

BUDGET_CHECKED_PARTS = (
    ("fashion-mnist", conv.LARGE_BATCH),
    ("mnist", conv.LARGE_BATCH),
    ("fashion-mnist", conv.SMALL_BATCH),
)
BUDGET_CHECK_MIN_SEEDS = 2  # an interval needs two seeds
# The seeds each checked part is trained longer for: seed 2 first (the first check), then seed 1, so that
# the check has an interval (registered on 2026-12-08, before seed 1's budget parts ran).
BUDGET_CHECK_SEEDS = (2, 1)

Where = tuple[str, int, int]  # (dataset, batch size, seed)


def longer_budget(config: conv.ConvConfig) -> int:
    """The budget check's epochs for a checked part: its constant phase twice as long, the same cooldown
    (batch 128: 10 + 5 → 20 + 5; batch 4: 2 + 2 → 4 + 2)."""
    return 2 * (config.epochs - config.decay_epochs) + config.decay_epochs


def checked_configs() -> dict[Where, conv.ConvConfig]:
    """Per checked (dataset, batch size) and seed of :data:`BUDGET_CHECK_SEEDS`, the cpu profile's part that
    the budget check trains longer."""
    found = {}
    for dataset, batch_size in BUDGET_CHECKED_PARTS:
        for seed in BUDGET_CHECK_SEEDS:
            for c in conv.cpu_profile_configs():
                if (c.datasets[0], c.batch_size) == (dataset, batch_size) and c.seeds == [seed]:
                    found[dataset, batch_size, seed] = c
    return found


def budget_check_configs() -> dict[Where, conv.ConvConfig]:
    """Per checked (dataset, batch size, seed), the checked part with the longer budget."""
    return {
        where: conv.ConvConfig(**{**asdict(checked), "epochs": longer_budget(checked)})
        for where, checked in checked_configs().items()
    }


def budget_check_names() -> dict[Where, str]:
    """Per checked (dataset, batch size, seed), its part's name (the same in the cpu result and the check's)."""
    return {where: conv.part_name(where[0], config, True) for where, config in checked_configs().items()}


def run_budget_check(
    device="cpu", progress=True, results_dir=None, checkpoint_dir=None, time_budget_seconds=None, overwrite=False
):
    """Train the budget check's parts (``conv_budget.json``), one per checked (dataset, batch size, seed),
    each from its checked part's kept constant phase when this machine has it (else from epoch 0),
    resumable like every part.  ``overwrite`` replaces a file of another plan (fewer seeds, say), keeping
    its parts whose configuration is unchanged."""
    checked, longer, names = checked_configs(), budget_check_configs(), budget_check_names()
    options = dict(device=device, progress=progress, checkpoint_dir=checkpoint_dir, by_seed=True)
    commit = environment.git_commit()
    trainers = {}
    for where, config in longer.items():
        branch_from = conv.checkpoint_path("cpu", where[0], checked[where], checkpoint_dir, by_seed=True)
        trainers[names[where]] = conv.profile_part(
            "budget", config, where[0], **options, commit=commit, branch_from=branch_from
        )
    return parts.run_parts(
        conv.results_file("budget", results_dir),
        {
            "profile": "budget",
            "checks": {names[k]: asdict(c) for k, c in checked.items()},
            "parts": {names[k]: asdict(c) for k, c in longer.items()},
        },
        trainers,
        overwrite=overwrite,
        time_budget_seconds=time_budget_seconds,
        kind="conv budget check",
        data=lambda: conv.data_copies(dataset for dataset, *_ in longer),
    )


def budget_check(cpu_result: dict | None, budget_result: dict | None) -> list[dict]:
    """Per checked (dataset, batch size) with at least one seed whose two parts are both finished, per claim
    of :data:`conv.CLAIMS` and :data:`conv.BATCH_CLAIMS`: the comparison rule's answer (first − second, test
    error % at that batch size) on those seeds at the cpu budget and at the longer one, and whether the
    cpu budget is confirmed (None with fewer than :data:`BUDGET_CHECK_MIN_SEEDS` seeds: no interval).
    Data only."""
    out = []
    trained_at = {}  # each dataset's batch sizes in the cpu profile: batch-size claims need both
    for config in conv.cpu_profile_configs():
        trained_at.setdefault(config.datasets[0], set()).add(config.batch_size)
    by_part = {}
    for (dataset, batch_size, seed), name in budget_check_names().items():
        short = ((cpu_result or {}).get("parts") or {}).get(name)
        long = ((budget_result or {}).get("parts") or {}).get(name)
        if short is not None and long is not None:
            by_part.setdefault((dataset, batch_size), []).append((short, long))
    for (dataset, batch_size), pairs in by_part.items():
        both = trained_at[dataset] >= {conv.SMALL_BATCH, conv.LARGE_BATCH}
        for claim, first, second, _ in conv.CLAIMS + (conv.BATCH_CLAIMS if both else ()):
            if not all(n in r["curves"]["test_error"] for n in (first, second) for pair in pairs for r in pair):
                continue
            found = [answer(*settled_pair(pairs, at, first, second), conv.MARGIN_POINTS[dataset]) for at in (0, 1)]
            at_checked, at_longer = found
            seeds = [seed for short, _ in pairs for seed in short["config"]["seeds"]]
            out.append(
                {
                    "claim": claim,
                    "dataset": dataset,
                    "batch_size": batch_size,
                    "roles": (first, second),
                    "seeds": seeds,
                    "epochs": (epochs_done(pairs[0][0]), epochs_done(pairs[0][1])),
                    "difference_at_checked_budget": at_checked["d"],
                    "difference_at_longer_budget": at_longer["d"],
                    "answer_at_checked_budget": at_checked["answer"],
                    "answer_at_longer_budget": at_longer["answer"],
                    # None: too few seeds for an interval, so the check confirms nothing either way
                    "confirmed": None
                    if len(seeds) < BUDGET_CHECK_MIN_SEEDS
                    else at_checked["answer"] == at_longer["answer"],
                }
            )
    return out


def settled_pair(pairs: list[tuple[dict, dict]], at: int, first: str, second: str) -> tuple:
    """The two methods' settled test errors (%) over the seeds of ``pairs`` (cpu part, budget part), each
    part at the end of its own budget; ``at`` 0 reads the cpu parts, 1 the budget parts."""
    records = [pair[at] for pair in pairs]
    return tuple(
        np.concatenate([conv.settled_test_error(r, name, epochs_done(r)) for r in records]) for name in (first, second)
    )


def saved_budget_result(results_dir: Path | None = None) -> dict | None:
    """The budget check's result file (``conv_budget.json``) as written, finished or still training."""
    return runs.read_results(conv.results_file("budget").name, results_dir)


def saved_budget_check(results_dir: Path | None = None) -> list[dict]:
    """:func:`budget_check` of the saved cpu run and the saved budget check (a dataset appears once both of
    its parts are finished)."""
    return budget_check(runs.read_results(conv.results_file("cpu").name, results_dir), saved_budget_result(results_dir))
