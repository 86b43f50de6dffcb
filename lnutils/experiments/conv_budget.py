"""Chapter 3's budget check: does an answer at the cpu profile's budget survive a longer one?

Each checked part (dataset, batch size) is trained again with its constant phase doubled and the same
cooldown (batch 128: 20 + 5 epochs instead of 10 + 5; batch 4: 4 + 2 instead of 2 + 2), branched from
the cpu part's checkpoint kept at the end of its constant phase. An answer is budget-robust ("budget
confirmed") when the comparison rule gives the same answer at the longer budget, on the seeds the check
holds; it needs an interval, so at least two seeds. The saved checks hold one seed (BUDGET_CHECK_SEED),
so they show how far each difference moved and confirm nothing: the chapter says so. A batch-size claim
rests on both sides' checks (:func:`weakest`).

Command line: ``python -m lnutils.experiments conv budget`` writes ``conv_budget.json``.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from lnutils import environment, parts, runs
from lnutils.compare import answer, epochs_done
from lnutils.experiments import conv

BUDGET_CHECKED_PARTS = (
    ("fashion-mnist", conv.LARGE_BATCH),
    ("mnist", conv.LARGE_BATCH),
    ("fashion-mnist", conv.SMALL_BATCH),
)
BUDGET_CHECK_MIN_SEEDS = 2  # an interval needs two seeds
BUDGET_CHECK_SEED = 2


def longer_budget(config: conv.ConvConfig) -> int:
    """The budget check's epochs for a checked part: its constant phase twice as long, the same cooldown
    (batch 128: 10 + 5 → 20 + 5; batch 4: 2 + 2 → 4 + 2)."""
    return 2 * (config.epochs - config.decay_epochs) + config.decay_epochs


def checked_configs() -> dict[tuple[str, int], conv.ConvConfig]:
    """Per checked (dataset, batch size), the cpu profile's part that the budget check trains longer."""
    return {
        where: next(
            c
            for c in conv.cpu_profile_configs()
            if (c.datasets[0], c.batch_size) == where and c.seeds == [BUDGET_CHECK_SEED]
        )
        for where in BUDGET_CHECKED_PARTS
    }


def budget_check_configs() -> dict[tuple[str, int], conv.ConvConfig]:
    """Per checked (dataset, batch size), the checked part with the longer budget."""
    return {
        where: conv.ConvConfig(**{**asdict(checked), "epochs": longer_budget(checked)})
        for where, checked in checked_configs().items()
    }


def budget_check_names() -> dict[tuple[str, int], str]:
    """Per checked (dataset, batch size), its part's name (the same in the cpu result and the check's)."""
    return {where: conv.part_name(where[0], config, True) for where, config in checked_configs().items()}


def run_budget_check(device="cpu", progress=True, results_dir=None, checkpoint_dir=None, time_budget_seconds=None):
    """Train the budget check's parts (``conv_budget.json``), one per checked (dataset, batch size), each
    from its checked part's kept constant phase when this machine has it (else from epoch 0), resumable
    like every part."""
    checked, longer, names = checked_configs(), budget_check_configs(), budget_check_names()
    where = dict(device=device, progress=progress, checkpoint_dir=checkpoint_dir, by_seed=True)
    commit = environment.git_commit()
    trainers = {}
    for (dataset, batch_size), config in longer.items():
        branch_from = conv.checkpoint_path("cpu", dataset, checked[dataset, batch_size], checkpoint_dir, by_seed=True)
        trainers[names[dataset, batch_size]] = conv.profile_part(
            "budget", config, dataset, **where, commit=commit, branch_from=branch_from
        )
    return parts.run_parts(
        conv.results_file("budget", results_dir),
        {
            "profile": "budget",
            "checks": {names[k]: asdict(c) for k, c in checked.items()},
            "parts": {names[k]: asdict(c) for k, c in longer.items()},
        },
        trainers,
        time_budget_seconds=time_budget_seconds,
        kind="conv budget check",
        data=lambda: conv.data_copies(dataset for dataset, _ in longer),
    )


def budget_check(cpu_result: dict | None, budget_result: dict | None) -> list[dict]:
    """Per checked (dataset, batch size) whose two parts are both finished, per claim of :data:`conv.CLAIMS`
    and :data:`conv.BATCH_CLAIMS`: the checked seed's difference (first − second, test error % at that batch
    size) at the cpu budget and at the longer one, and whether the cpu budget is confirmed (data only)."""
    out = []
    trained_at = {}  # each dataset's batch sizes in the cpu profile: batch-size claims need both
    for config in conv.cpu_profile_configs():
        trained_at.setdefault(config.datasets[0], set()).add(config.batch_size)
    for (dataset, batch_size), name in budget_check_names().items():
        short = ((cpu_result or {}).get("parts") or {}).get(name)
        long = ((budget_result or {}).get("parts") or {}).get(name)
        if short is None or long is None:
            continue
        both = trained_at[dataset] >= {conv.SMALL_BATCH, conv.LARGE_BATCH}
        for claim, first, second, _ in conv.CLAIMS + (conv.BATCH_CLAIMS if both else ()):
            if not all(n in r["curves"]["test_error"] for n in (first, second) for r in (short, long)):
                continue
            found = []
            for record in (short, long):
                epoch = epochs_done(record)
                values = {n: conv.settled_test_error(record, n, epoch) for n in (first, second)}
                found.append(answer(values[first], values[second], conv.MARGIN_POINTS[dataset]))
            at_checked, at_longer = found
            seeds = len(short["config"]["seeds"])
            out.append(
                {
                    "claim": claim,
                    "dataset": dataset,
                    "batch_size": batch_size,
                    "roles": (first, second),
                    "seeds": short["config"]["seeds"],
                    "epochs": (epochs_done(short), epochs_done(long)),
                    "difference_at_checked_budget": at_checked["d"],
                    "difference_at_longer_budget": at_longer["d"],
                    "answer_at_checked_budget": at_checked["answer"],
                    "answer_at_longer_budget": at_longer["answer"],
                    # None: too few seeds for an interval, so the check confirms nothing either way
                    "confirmed": None
                    if seeds < BUDGET_CHECK_MIN_SEEDS
                    else at_checked["answer"] == at_longer["answer"],
                }
            )
    return out


def saved_budget_result(results_dir: Path | None = None) -> dict | None:
    """The budget check's result file (``conv_budget.json``) as written, finished or still training."""
    return runs.read_results(conv.results_file("budget").name, results_dir)


def saved_budget_check(results_dir: Path | None = None) -> list[dict]:
    """:func:`budget_check` of the saved cpu run and the saved budget check (a dataset appears once both of
    its parts are finished)."""
    return budget_check(runs.read_results(conv.results_file("cpu").name, results_dir), saved_budget_result(results_dir))
