"""The cells every chapter's words share: tables, mean ± spread, published numbers, selections,
and verdicts rendered from :mod:`lnutils.compare`'s data."""

from __future__ import annotations

import inspect
import textwrap

import numpy as np

from lnutils import runs
from lnutils.compare import DECIDING, geometric_mean
from lnutils.experiments import mnist


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """A pipe table; cells are written with ``str``."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def percent(values) -> str:
    """Mean ± sample standard deviation over seeds, in %; the mean alone for one seed."""
    return mean_spread(100 * np.asarray(values, dtype=float)) + "%"


def mean_spread(values) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) > 1:
        return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"
    return f"{values.mean():.2f}"


def nll_cell(values: np.ndarray) -> str:
    """Training NLLs of several seeds span orders of magnitude: their geometric mean and range."""
    values = np.asarray(values, dtype=float)
    geometric = float(geometric_mean(values))
    return f"{geometric:.1e} [{values.min():.0e}, {values.max():.0e}]" if len(values) > 1 else f"{geometric:.1e}"


def selection_settle_epochs(selection: dict) -> int:
    """How many final epochs a selection's rule averages: its recorded number; for files written before it
    was recorded, a full-length selection (its config names a rule) averaged mnist.SETTLE_EPOCHS."""
    if "settle_epochs" in selection:
        return int(selection["settle_epochs"])
    return mnist.SETTLE_EPOCHS if selection.get("config", {}).get("rule") else 1


def selection_markdown(selection: dict | None, names=None, what: str = "method") -> str:
    """Validation error per name and learning rate at the end of a selection run (for a
    full-length run: the mean of its last 5 epochs), the chosen rate, and the rule."""
    if selection is None:
        return "No learning-rate selection is recorded for this setting."
    grid = selection["grid"]
    grids = selection.get("grids") or {}  # per name, where an edge choice widened a name's grid
    curves = selection["curves"]["val_error"]
    names = names or list(selection["chosen"])
    settle = selection_settle_epochs(selection)
    rows, margins = [], []
    validation_images = selection.get("validation", mnist.RunConfig.validation)
    seeds = len(np.asarray(next(iter(curves.values())))[0])
    for name in names:
        rates = [rate for rate in grid if runs.grid_label(name, rate) in curves]
        # the mean over the seeds and over the rule's last epochs
        scores = {
            rate: 100 * float(np.mean(np.asarray(curves[runs.grid_label(name, rate)])[-settle:])) for rate in rates
        }
        rows.append(
            [name, *(f"{scores[r]:.2f}%" if r in scores else "–" for r in grid), f"{selection['chosen'][name]:g}"]
        )
        ordered = sorted(scores.values())
        margin = ordered[1] - ordered[0] if len(ordered) > 1 else float("nan")
        own = grids.get(name, rates)
        edge = selection["chosen"][name] in (min(own), max(own))
        margins.append(
            f"{name}: chosen by {margin:.2f} points over the next rate (about {margin / 100 * validation_images:.1f} "
            f"of {validation_images:,} validation images)" + ("; **at the edge of the grid**" if edge else "")
        )
    table = markdown_table([what, *(f"lr {rate:g}" for rate in grid), "chosen"], rows)
    table += (
        "\n\nMargins: "
        + "; ".join(margins)
        + (
            f". With {seeds} seed there is no estimate of seed noise: a margin of a few images is a tie that "
            "another seed could reverse, and a rate at the edge of the grid may be beaten by one beyond it."
            if seeds == 1
            else f". Validation error averaged over {seeds} seeds."
        )
    )
    done = selection.get("epochs_done", selection.get("epochs"))
    status = (
        ""
        if selection.get("complete", True)
        else f" **Partial: {done} of {selection['epochs']} epochs so far; the choice may still change.**"
    )
    provenance = selection["provenance"]
    return (
        f"{table}\n\nRule: {selection['rule']}.{status} Run on {provenance['device']}, "
        f"{provenance['wall_seconds'] / 60:.0f} min, commit `{provenance['commit']}`."
    )


def published_markdown(published: dict, unit: str) -> str:
    """A table of published numbers, one row per source."""
    rows = [
        [source, ", ".join(f"{name} {value}" for name, value in numbers.items())]
        for source, numbers in published.items()
    ]
    return markdown_table(["source", f"numbers ({unit})"], rows)


# Verdicts (lnutils.compare.make_verdict) in words.
EVIDENCE_WORDS = {
    "complete": "complete; no longer budget with two seeds yet",
    "budget confirmed": "complete; a longer budget gives the same answer",
    "budget not confirmed": "complete; a longer budget gives another answer",
    "partial": "partial: still training",
    "live quick run": "live quick run",
}
RULE_WORDS = (
    "**How to read the answers.** Each question compares one number per seed (the paired difference where "
    "the two methods share each seed's initialisation and data order). The answer is *A lower by d "
    "[lo, hi]* when the 95 % Student-t interval of the difference excludes zero, *equivalent within ±m* "
    "when the 90 % interval lies inside the question's margin m (two one-sided tests; m was fixed before "
    "the runs that check it), and *undecided* otherwise, with the interval. A claim holds only on complete "
    "saved runs; a part still training or a live quick run decides nothing. *Holm* says whether the answer "
    "survives Holm's correction for all the tests of the chapter."
)


def seed_count(verdict: dict) -> int:
    """How many seeds a verdict compared (a count, or the list of the seeds)."""
    seeds = verdict.get("seeds", 0)
    return len(seeds) if isinstance(seeds, (list, tuple)) else int(seeds)


def signed(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}".replace("-", "−")


def answer_words(verdict: dict, digits: int = 2, names=None) -> str:
    """A verdict's answer with its difference and interval: "LN lower by 0.48 [0.41, 0.54]",
    "equivalent within ±0.2 (−0.03 [−0.12, +0.06])", "undecided (+0.10 [−0.30, +0.50])"."""
    first, second = (
        (names or {}).get(verdict["roles"][0], verdict["roles"][0]),
        (names or {}).get(verdict["roles"][1], verdict["roles"][1]),
    )
    interval = verdict.get("interval") or {}
    if verdict["evidence"] == "live quick run":
        return "not compared (a live quick run ranks nothing)"
    if not interval:  # no interval: nothing compared, or one side diverged on more seeds (chapter 5)
        if verdict["outcome"] == "first lower":
            return f"{first} lower ({second} diverged on more seeds)"
        if verdict["outcome"] == "second lower":
            return f"{second} lower ({first} diverged on more seeds)"
        return "undecided" if seed_count(verdict) else "not compared"
    d, lo, hi = interval["d"], interval["lo"], interval["hi"]
    if np.isnan(lo):
        return f"undecided: one seed, no interval ({first} − {second} = {signed(d, digits)})"
    span = f"[{signed(lo, digits)}, {signed(hi, digits)}]"
    if verdict["outcome"] == "first lower":
        return f"{first} lower by {-d:.{digits}f} [{-hi:.{digits}f}, {-lo:.{digits}f}]"
    if verdict["outcome"] == "second lower":
        return f"{second} lower by {d:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
    if verdict["outcome"] == "equivalent":
        return f"equivalent within ±{interval['margin']:g}: {first} − {second} = {signed(d, digits)} {span}"
    return f"undecided: {first} − {second} = {signed(d, digits)} {span} (margin ±{interval['margin']:g})"


def holm_words(verdict: dict) -> str:
    """Whether an answer survives Holm's correction over its chapter's family of tests."""
    if "holm_outcome" not in verdict or verdict["outcome"] == "undecided" or verdict["evidence"] not in DECIDING:
        return "–"
    return "yes" if verdict["holm_outcome"] == verdict["outcome"] else "no"


def family_sentence(verdicts: list[dict]) -> str:
    """How many tests the family holds, and the false positives the unadjusted answers may hold."""
    counted = [v for v in verdicts if "family" in v]
    if not counted:
        return ""
    family = counted[0]["family"]
    survive = sum(1 for v in counted if v["outcome"] != "undecided" and v["holm_outcome"] == v["outcome"])
    decided = sum(1 for v in counted if v["outcome"] != "undecided")
    return (
        f"These answers rest on {family} tests (a difference and an equivalence per question) at 5 % each: if no "
        f"difference were real, about {counted[0]['expected_false']:.1f} of them would come out positive by chance. "
        f"{survive} of the {decided} decided answers survive Holm's correction for all {family}."
    )


def verdict_table(verdicts: list[dict], claims: dict[str, str], where, unit: str, digits: int = 2, names=None) -> str:
    """One row per verdict: the claim (``claims[id]``), where it was compared (``where(verdict)``), the two
    roles' values (mean ± sd over seeds, in ``unit``), the answer with its interval (marked when it survives
    Holm), and whether the claim holds (bold only for a yes or no), with the evidence where it is not
    complete.  Five columns: the table fits the page at 1280 px.  A live quick run's verdicts, which compare
    nothing, are one short paragraph of what it measured instead (:func:`live_run_paragraph`)."""
    if verdicts and all(v["evidence"] == "live quick run" for v in verdicts):
        return live_run_paragraph(verdicts, where, names)
    rows = []
    for v in verdicts:
        first, second = ((names or {}).get(role, role) for role in v["roles"])
        holds = f"**{v['holds']}**" if v["holds"] in ("yes", "no") else v["holds"].replace("no claim", "–")
        if v["evidence"] != "complete":
            holds += f" ({EVIDENCE_WORDS.get(v['evidence'], v['evidence'])})"
        survives = " (Holm ✓)" if holm_words(v) == "yes" else ""
        rows.append(
            [
                claims[v["claim"]],
                where(v),
                f"{first} {mean_spread(v['first_values'])} vs {second} {mean_spread(v['second_values'])}",
                answer_words(v, digits, names) + survives,
                holds,
            ]
        )
    headers = ["claim", "compared at", f"values ({unit})", "answer (95 % interval)", "holds"]
    note = (
        "Holm ✓: the answer survives Holm's correction for all the chapter's tests. Evidence: complete saved "
        "runs unless a row says otherwise; no answer is checked yet against a longer budget with two seeds."
    )
    return markdown_table(headers, rows) + "\n\n" + family_sentence(verdicts) + " " + note


def budget_check_table(checks: list[dict], claims: dict[str, str], unit: str, digits: int = 2, names=None) -> str:
    """A budget check's rows (each claim's answer at the checked budget and at the longer one, and whether
    they agree) with a note on what it confirms; ``checks`` as :func:`lnutils.experiments.transformer.
    budget_check` and :func:`lnutils.experiments.rnn_budget.budget_check` give them."""
    rows = []
    for check in checks:
        at = [
            answer_words(
                {"roles": check["roles"], "outcome": outcome, "interval": interval, "evidence": ""}, digits, names
            )
            for outcome, interval in (
                (check["answer_at_checked_budget"], check["interval_at_checked_budget"]),
                (check["answer_at_longer_budget"], check["interval_at_longer_budget"]),
            )
        ]
        same = {None: f"not yet ({check['evidence_at_longer_budget']})", True: "**yes**", False: "**no**"}
        rows.append([claims[check["claim"]], *at, same[check["confirmed"]]])
    short, long = checks[0].get("steps") or checks[0]["epochs"]
    counted = "steps" if "steps" in checks[0] else "epochs"
    headers = ["claim", f"at {short:,} {counted}", f"at {long:,} {counted}", "same answer"]
    return markdown_table(headers, rows) + (
        f"\n\n{unit}, paired by seed, on seeds {', '.join(map(str, checks[0]['seeds']))} (those the longer run "
        "trains). The longer budget confirms an answer when the comparison rule gives the same answer on it; "
        "an answer it does not confirm is undecided."
    )


def live_run_paragraph(verdicts: list[dict], where, names=None) -> str:
    """A live quick run's verdicts in one paragraph: it answers none of its questions (one seed and a few
    epochs rank nothing), and what it measured, pair by pair and grouped by what was compared
    (:func:`metric_words`), so that a reader sees the code ran."""
    measured: dict[str, list[str]] = {}
    for v in verdicts:
        first, second = ((names or {}).get(role, role) for role in v["roles"])
        values = f"{first} {mean_spread(v['first_values'])} vs {second} {mean_spread(v['second_values'])}"
        measured.setdefault(metric_words(v), []).append(f"{values} ({where(v)})")
    return (
        f"**This build's quick run answers none of its {len(verdicts)} questions**: one seed and a few epochs "
        "rank nothing, so the answers come from the saved runs. What it measured: "
        + " ".join(f"*{what}*: {'; '.join(pairs)}." for what, pairs in measured.items())
    )


# What each verdict compares (its ``metric``, an id the experiments record), in words; the verdict's own
# fields fill the braces.
METRIC_WORDS = {
    "test_error": "test error %",
    "test_error_settled": "test error %, mean over the settle window ending at the compared epoch",
    "test_error_cooldown_end": "test error % at the last epoch of the cooldown",
    "test_error_last_epochs": "test error %, mean of the last {settle_epochs} epochs",
    "test_error_last_epochs_equal_epochs": "test error %, mean of the last {settle_epochs} epochs, at equal epochs",
    "test_error_equal_steps": "test error % at about equal steps (batch 4 epoch {epoch}, batch 128 epoch "
    "{large_batch_epoch})",
    "test_error_change_cooldown_ends": "change of the test error % from batch {large_batch} to {batch_size}, "
    "each at the last epoch of its cooldown",
    "test_error_change_same_epoch": "change of the test error % from batch {large_batch} to {batch_size}, "
    "each at the same epoch",
    "log10_train_nll": "log10 training NLL",
    "val_error_after_epoch": "validation error % after epoch {epoch}",
    "epochs_to_validation_error": "epochs to reach {threshold:g} % validation error",
    "adding_test_mse": "test MSE at length {length} (trained at {trained_length}), after {steps} steps",
    "val_loss_last_evaluation": "validation loss, nats per character, last evaluation",
}


def metric_words(verdict: dict) -> str:
    """What ``verdict`` compared, in words (:data:`METRIC_WORDS`)."""
    return METRIC_WORDS[verdict["metric"]].format(**verdict)


def verdict_summary(verdicts: list[dict], claims: dict[str, str], where=None, digits: int = 2, names=None) -> str:
    """A Summary's sentences on the verdicts, one list item each: each claim decided by complete runs,
    with its answer and interval; then how many stay undecided and why.  Words only: every answer comes
    from the verdict data."""
    if not verdicts:
        return "No saved run has both methods of any claim yet: every claim is undecided."
    decided = [v for v in verdicts if v["holds"] in ("yes", "no")]
    decided += [
        v for v in verdicts if v["holds"] == "no claim" and v["evidence"] in DECIDING and v["outcome"] != "undecided"
    ]
    sentences = []
    for v in decided:
        holds = {"yes": "holds", "no": "does not hold", "no claim": "is answered"}[v["holds"]]
        after_holm = "" if holm_words(v) != "no" else "; not significant after Holm"
        sentences.append(
            f"“{claims[v['claim']]}” {holds}{f' at {where(v)}' if where else ''}: {answer_words(v, digits, names)} "
            f"({metric_words(v)}; {seed_count(v)} seeds{after_holm})."
        )
    undecided = [v for v in verdicts if v not in decided]
    if undecided:
        levels = sorted({EVIDENCE_WORDS.get(v["evidence"], v["evidence"]) for v in undecided})
        count = len(undecided)
        sentences.append(
            f"{'All' if not decided else 'The other'} {count} claim{'s stay' if count > 1 else ' stays'} "
            f"undecided (evidence: {'; '.join(levels)}; or an interval too wide for an answer)."
        )
    return "\n".join(f"- {sentence}" for sentence in sentences)


def retrace_sentence(check: dict | None, what: str) -> str:
    """The live check that the code still produces a saved run (``check`` from an experiment's
    ``retrace``), in words; ``what`` names the network retrained."""
    if check is None:
        return "No saved run to retrace in this build."
    trained = (
        f"This build trained {what}, seed {check['seed']}, again for epoch {check['epoch']} of the saved run: "
        f"test error {check['live']:.2f} % against the saved {check['saved']:.2f} % (a difference of "
        f"{check['difference']:.2f} points"
    )
    if not check.get("same_data", True):
        return f"{trained}). {other_data_words(*check['data'])}"
    retraces = "retraces" if check["retraces"] else "does NOT retrace"
    threads = check.get("threads")
    how = (
        f"It ran on the saved run's {threads} CPU thread{'s' if threads != 1 else ''}, since another count "
        "sums in another order and training amplifies the rounding; the tolerance is for other machines' kernels"
        if threads
        else "other devices and thread counts round differently"
    )
    return (
        f"{trained}; tolerance {check['tolerance']} points: {how}). The code **{retraces}** the saved run. "
        f"The check took {check['seconds']:.0f} s."
    )


def other_data_words(saved: str, live: str) -> str:
    """Why a live check on another copy of the data judges nothing."""
    return (
        f"This machine's copy of the data is not the one the saved run was trained on (checksum `{live[:12]}…`, "
        f"saved `{saved[:12]}…`), so the two need not agree and the check says **nothing** about the code; "
        "point `LNUTILS_DATA` at the saved run's copy to make it."
    )


def schedule_words(config: dict) -> str:
    """A part's learning-rate schedule in words, from its configuration."""
    epochs, decay = int(config["epochs"]), int(config.get("decay_epochs") or 0)
    if not decay:
        return f"{epochs} epochs at a constant rate"
    return f"{epochs - decay} epochs at a constant rate, then {decay} cooling it linearly to zero"


def rule_words(record: dict) -> str:
    """How a part's convergence was checked and compared, from the numbers its record stores."""
    checks = list((record.get("convergence") or {}).values())
    if not checks:
        return "no convergence check recorded"
    window, points = checks[0]["window"], checks[0]["threshold_points"]
    compared = (
        "the annealed last epoch (a part still training: the mean of the last epochs it reached)"
        if int(record["config"].get("decay_epochs") or 0)
        else "the mean of the last epochs"
    )
    return (
        f"converged when the seed-mean validation error moved less than {points:g} points over the last {window} "
        f"epochs; claims compare {compared}"
    )


def seed_progress(record: dict) -> str:
    """How far each seed of a part got, where each seed trains as a part of its own (`` (seed 0: done,
    seed 1: epoch 7)``); empty otherwise."""
    if "seed_parts" not in record:
        return ""
    reached = ", ".join(
        f"seed {p['seeds'][0]}: {'done' if p['finished'] else 'epoch ' + str(p['epochs_done'])}"
        for p in record["seed_parts"]
    )
    return f" ({reached})"


SHORT_EVIDENCE = {
    "complete": "complete",
    "budget confirmed": "complete, confirmed by a longer budget",
    "budget not confirmed": "a longer budget answers otherwise",
    "partial": "partial: still training",
    "live quick run": "live quick run: not compared",
}


def key_answers(verdicts: list[dict], questions: dict, where=None, digits: int = 2, names=None) -> str:
    """A chapter's key questions, one list item each, in the order of ``questions`` ({claim id: the
    question in words}): "**question** (where) → answer [interval] (evidence, seeds)".  The glance page
    collects these lists (the cells tagged ``answers``)."""
    items = []
    for claim, question in questions.items():
        for v in (v for v in verdicts if v["claim"] == claim):
            at = f" ({where(v)})" if where else ""
            evidence = SHORT_EVIDENCE.get(v["evidence"], v["evidence"])
            items.append(f"- **{question}**{at} → {answer_words(v, digits, names)} ({evidence}, {seed_count(v)} seeds)")
    return "\n".join(items) or "No saved run answers these questions yet."


LISTING_LINES = 45  # a listing longer than this does not fit a page or a slide: show a smaller piece
PAGE_WIDTH = 88  # characters of code a page shows without scrolling


def listing(*objects) -> str:
    """The source of functions or classes from lnutils, as highlighted Python under the file and line
    numbers it comes from: the page shows the code that ran, so it cannot drift from it."""
    pieces = []
    for obj in objects:
        lines, first = inspect.getsourcelines(obj)
        if len(lines) > LISTING_LINES:
            raise ValueError(
                f"{getattr(obj, '__qualname__', obj.__name__)} has {len(lines)} lines, "
                f"more than a listing shows ({LISTING_LINES}); "
                "list a smaller piece of it"
            )
        module = inspect.getmodule(obj)
        where = module.__name__.replace(".", "/") + ".py"
        code = textwrap.dedent("".join(lines)).rstrip()
        if too_wide := [line for line in code.splitlines() if len(line) > PAGE_WIDTH]:
            raise ValueError(
                f"{obj.__qualname__} has {len(too_wide)} line(s) wider than the page ({PAGE_WIDTH} characters), "
                f"which a reader would scroll: {too_wide[0].strip()[:60]}…; wrap them in the source"
            )
        pieces.append(f"`{where}`, lines {first}–{first + len(lines) - 1}:\n\n```python\n{code}\n```")
    return "\n\n".join(pieces)


def probe_networks_sentence(about: dict) -> str:
    """Which networks a chapter's probes read (an experiment's ``probe_networks``) and how well trained."""
    if about["source"] == "kept":
        errors = ", ".join(
            f"{name} {error:.2f} % (the saved run's {about['saved_test_error'][name]:.2f} %)"
            for name, error in about["test_error"].items()
        )
        return (
            f"The probes read seed {about['seed']} of the saved {about['profile']} run's networks, trained again to "
            f"the end ({about['epochs']} epochs) with its configuration and kept in the book "
            f"(`lnutils/results/networks/`); their final test errors: {errors}."
        )
    return (
        f"No kept networks were found, so the probes read this build's own networks (seed {about['seed']} of the "
        "live run), which are trained only as long as this profile trains them."
    )
