"""Chapter 3's words: layer norm in convolutional networks, rendered from
:mod:`lnutils.experiments.conv`'s numbers."""

from __future__ import annotations

import numpy as np

from lnutils.compare import epochs_done
from lnutils.experiments import conv_budget
from lnutils.report.cells import (
    key_answers,
    markdown_table,
    mean_spread,
    probe_networks_sentence,
    retrace_sentence,
    rule_words,
    schedule_words,
    seed_progress,
    verdict_summary,
    verdict_table,
)
from lnutils.report.cells import published_markdown as published_markdown  # the chapter uses it too
from lnutils.report.cells import selection_markdown as selection_markdown  # the chapter uses it too
from lnutils.runs import result_parts


def _final(record: dict, name: str) -> np.ndarray:
    return np.asarray(record["curves"]["test_error"][name], dtype=float)[-1]


def conv_results_markdown(records: list[dict]) -> str:
    """Test error (%) at each record's last epoch, per dataset, batch size and normalization, mean ± std
    over seeds; a record still training says at which epoch of how many."""
    names = list(records[0]["curves"]["test_error"])
    rows = [[name, *(mean_spread(100 * _final(record, name)) for record in records)] for name in names]
    headers = []
    for r in records:
        done, planned = epochs_done(r), r["config"]["epochs"]
        headers.append(
            f"{r['dataset']}, batch {r['batch_size']}" + (f", epoch {done} of {planned}" if done < planned else "")
        )
    return markdown_table(["normalization", *headers], rows)


def _state(record: dict, finished: bool) -> str:
    if not finished:
        return f"**training**: epoch {epochs_done(record)} of {record['config']['epochs']}" + seed_progress(record)
    converged = [name for name, check in record.get("convergence", {}).items() if check["converged"]]
    total = len(record["curves"]["test_error"])
    return "complete" + (f", {len(converged)} of {total} normalizations converged" if record.get("convergence") else "")


def conv_saved_markdown(saved: dict | None, what: str = "paper-profile") -> str:
    """Where a saved conv run came from, how far each part got, and its results."""
    found = [(record, finished) for _, record, finished in result_parts(saved)]
    if not found:
        return f"No saved {what} run is in this build."
    rows, sources = [], []
    for record, finished in found:
        p = record["provenance"]
        part = f"{record['dataset']}, batch {record['batch_size']}"
        rows.append(
            [
                part,
                record["config"]["seeds"],
                schedule_words(record["config"]),
                _state(record, finished),
                f"{p['wall_seconds'] / 60:.0f} min",
            ]
        )
        commit, checksum = (p["commit"] or "")[:10], p["data"]["checksum"][:12]
        sources.append(f"- {part}: {p['device']}, commit `{commit}`, data checksum `{checksum}`")
    table = markdown_table(["part", "seeds", "schedule", "state", "training time"], rows)
    rules = sorted({rule_words(record) for record, _ in found})
    table += "\n\nRule: " + "; ".join(rules) + "."
    planned = sum(len(part["datasets"]) for part in saved["config"]["parts"])
    done = len(saved.get("parts", {}))
    status = "" if saved.get("complete") else f" (**partial**: {done} of {planned} parts finished)"
    results = conv_results_markdown([r for r, _ in found])
    return f"Saved {what} run{status}:\n\n" + table + "\n\n" + "\n".join(sources) + "\n\n" + results


NO_NETWORKS = (
    "No trained networks on this machine: the probe needs the batch-128 Fashion-MNIST networks, which a saved run "
    "keeps only in its checkpoints, on the machine that trained it. The quick profile trains them live."
)


def border_networks_sentence(about: dict, live: dict, saved: dict | None, names) -> str:
    """Which networks the border probe reads and how well they are trained: ``about`` from
    :func:`lnutils.experiments.conv_kept.probe_networks`; the kept networks of the saved run where it
    names them, else ``live``, this build's batch-128 Fashion-MNIST record (its first seed), beside
    ``saved``, the saved run's part of the same dataset and batch size (mean over its seeds), for the
    probed ``names``."""
    if about["source"] == "kept":
        return probe_networks_sentence(about)
    config = live["config"]
    images = config.get("train_subset") or 55000
    errors = ", ".join(
        f"{name} {100 * np.asarray(live['curves']['test_error'][name][-1], dtype=float)[0]:.1f} %"
        for name in names
        if name in live["curves"]["test_error"]
    )
    sentence = (
        f"The probe reads this build's networks: seed {config['seeds'][0]}, trained {epochs_done(live)} epoch(s) "
        f"on {images:,} images at batch {live['batch_size']}; their final test errors: {errors}."
    )
    if saved is not None:
        trained = ", ".join(
            f"{name} {100 * np.mean(saved['curves']['test_error'][name][-1]):.1f} %"
            for name in names
            if name in saved["curves"]["test_error"]
        )
        seeds = saved["config"]["seeds"]
        saved_images = saved["config"].get("train_subset") or 55000
        which = f"seed {seeds[0]}" if len(seeds) == 1 else f"mean over {len(seeds)} seeds"
        sentence += (
            f" The saved run's networks ({which}), "
            f"trained {epochs_done(saved)} epochs on {saved_images:,} images, reach {trained}."
        )
        if epochs_done(live) < epochs_done(saved) or images < saved_images:
            sentence += " This build's networks are trained for less, so its probe shows how to measure the border,"
            sentence += " not what fully trained networks do there."
    return sentence

    return sentence


def border_markdown(probe: dict[str, list[dict]]) -> str:
    """The border probe (:func:`lnutils.experiments.conv.border_probe`) as a table."""
    if not probe:
        return NO_NETWORKS
    rows = [
        [
            name,
            row["block"],
            row["size"],
            f"{100 * row['active at border']:.0f}%",
            f"{100 * row['active in centre']:.0f}%",
            f"{row['position spread']:.2f}",
            f"{row['channel scale ratio']:.1f}",
        ]
        for name, blocks in probe.items()
        for row in blocks
    ]
    headers = [
        "normalization",
        "block",
        "size",
        "active at border",
        "active in centre",
        "position spread",
        "channel scale ratio",
    ]
    return markdown_table(headers, rows)


def border_sentences(probe: dict[str, list[dict]]) -> str:
    """Plain sentences from the probe: does LN(C,H,W) show the border effect the paper guessed, or a channel effect?"""
    if not probe:
        return NO_NETWORKS
    if "layer norm (C,H,W)" not in probe or "batch norm" not in probe:
        return "The probe needs the batch-norm and LN(C,H,W) networks."
    ln, bn = probe["layer norm (C,H,W)"], probe["batch norm"]
    sentences = []
    for block in range(len(ln)):
        ln_gap = ln[block]["active in centre"] - ln[block]["active at border"]
        bn_gap = bn[block]["active in centre"] - bn[block]["active at border"]
        sentences.append(
            f"Block {block + 1}: under LN(C,H,W) border units are active "
            f"{100 * ln[block]['active at border']:.0f}% of the time against "
            f"{100 * ln[block]['active in centre']:.0f}% in the centre (gap {100 * ln_gap:+.0f} points); under "
            f"batch norm the gap is {100 * bn_gap:+.0f} points."
        )

    def gap(row):
        return row["active in centre"] - row["active at border"]

    larger_gap = sum(gap(ln_row) > gap(bn_row) for ln_row, bn_row in zip(ln, bn))
    channel = ln[0]["channel scale ratio"], bn[0]["channel scale ratio"]
    conclusion = (
        f"In {larger_gap} of {len(ln)} blocks LN(C,H,W) has the larger centre-minus-border gap, "
        + (
            "which is what the border hypothesis predicts."
            if larger_gap > len(ln) / 2
            else "so this probe does not support the border hypothesis in this network."
        )
        + " The conv outputs entering LN(C,H,W) in block 1 differ in scale between channels by a factor "
        f"{channel[0]:.1f}"
        f" (those entering batch norm: {channel[1]:.1f}). LN(C,H,W) divides all channels of an image by one σ, so "
        + (
            "channels that much quieter than the rest come out small: a second mechanism, independent of the "
            "border, that can matter here."
            if channel[0] > 2
            else "with scales this similar, that second mechanism (quiet channels squashed by a shared σ) matters "
            "little here."
        )
    )
    return "\n\n".join(sentences + [conclusion])


CLAIMS = {
    "batch_norm_beats_layer_norm": "Batch norm beats layer norm in a ConvNet (Ba et al. 2016, Sec. 6.7)",
    "layer_norm_beats_no_normalization": "Layer norm beats no normalization in a ConvNet (Ba et al. 2016, Sec. 6.7)",
    "group_norm_beats_layer_norm": "Group norm beats layer norm (Wu & He 2018, Table 1)",
    "batch_norm_degrades_more_than_group_norm": (
        "From batch 128 to 4, batch norm's error grows more than group norm's (Wu & He 2018, Fig. 1)"
    ),
    "batch_norm_degrades_more_than_layer_norm": "From batch 128 to 4, batch norm's error grows more than layer norm's",
}


def _where(verdict: dict) -> str:
    planned = verdict.get("epochs_planned")
    of = f" of {planned}" if planned and planned != verdict["epoch"] else ""
    large_epoch = verdict.get("large_batch_epoch", verdict["epoch"])
    across = "large_batch_epoch" in verdict  # a batch-size claim: the change from batch 128 to this one
    if across and large_epoch != verdict["epoch"]:  # each part at its own budget's end
        return (
            f"{verdict['dataset']}, batch {verdict['batch_size']} at epoch {verdict['epoch']} vs 128 at epoch "
            f"{large_epoch} (each the end of its cooldown)"
        )
    batch = f"batch {verdict['batch_size']} vs 128" if across else f"batch {verdict['batch_size']}"
    return f"{verdict['dataset']}, {batch}, epoch {verdict['epoch']}{of}"


def verdicts_markdown(verdicts: list[dict]) -> str:
    """The chapter's claims against the runs (:func:`lnutils.experiments.conv.verdicts`)."""
    if not verdicts:
        return "No run has both methods of any claim yet."
    return verdict_table(verdicts, CLAIMS, _where, "test error %, or its change")


def summary_markdown(verdicts: list[dict]) -> str:
    """The Summary's verdict sentences for the saved run (:func:`lnutils.report.cells.verdict_summary`)."""
    return verdict_summary(verdicts, CLAIMS, where=_where)


def budget_check_markdown(checks: list[dict], budget_result: dict | None) -> str:
    """The budget check (:func:`lnutils.experiments.conv_budget.budget_check`): per checked part and claim, the
    checked seed's difference at the cpu budget and at the longer one; for a part still training, how far
    it got."""
    out = []
    if checks:
        rows = []
        for check in checks:
            short, long = check["difference_at_checked_budget"], check["difference_at_longer_budget"]
            first, second = check["roles"]
            rows.append(
                [
                    f"{check['dataset']}, batch {check['batch_size']}, epochs {check['epochs'][0]} → "
                    f"{check['epochs'][1]}",
                    CLAIMS[check["claim"]],
                    f"{first} − {second}",
                    f"{short:+.2f} → {long:+.2f}",
                    {None: "not tested (one seed)", True: "**yes**", False: "**no**"}[check["confirmed"]],
                ]
            )
        headers = ["part", "claim", "difference", "at the cpu budget → the longer", "same answer"]
        seeds = sorted({seed for check in checks for seed in check["seeds"]})
        label = "Seed" if len(seeds) == 1 else "Seeds"
        out.append(
            markdown_table(headers, rows)
            + f"\n\n{label} {', '.join(map(str, seeds))}; points of test error. A longer budget confirms an "
            "answer when the comparison rule gives the same answer on it, which needs an interval and so at "
            "least two seeds: with one seed the check shows how far each difference moved, and confirms nothing."
        )
    finished = {name for name, _, done in result_parts(budget_result) if done}
    for name, record, done in result_parts(budget_result):
        if not done:
            out.append(
                f"The budget check on {record['dataset']}, batch {record['batch_size']}, seed "
                f"{record['config']['seeds'][0]} is still training: epoch {epochs_done(record)} of "
                f"{record['config']['epochs']}. Until it finishes, that seed confirms nothing."
            )
    started = {name for name, _, _ in result_parts(budget_result)} | finished
    not_yet = [
        f"{dataset}, batch {batch_size}, seed {seed}"
        for (dataset, batch_size, seed), name in conv_budget.budget_check_names().items()
        if name not in started
    ]
    if not_yet or not out:
        on = f" on {'; '.join(not_yet)}" if not_yet else ""
        out.append(
            f"The budget check{on} has not been trained on this machine yet: `python -m lnutils.experiments "
            "conv budget --overwrite` trains it (the file it replaces is kept). Until it finishes, it confirms "
            "nothing."
        )
    return "\n\n".join(out)


def retrace_markdown(check: dict | None) -> str:
    """The live check against the saved run (:func:`lnutils.experiments.conv.retrace`)."""
    if check is None:
        return retrace_sentence(None, "")
    return retrace_sentence(
        check, f"the {check['normalization']} network ({check['dataset']}, batch {check['batch_size']})"
    )


KEY_QUESTIONS = {
    "batch_norm_beats_layer_norm": "BN or LN(C,H,W) in a small ConvNet?",
    "layer_norm_beats_no_normalization": "LN(C,H,W) or no normalization?",
    "batch_norm_degrades_more_than_group_norm": "From batch 128 to 4, does BN lose more than GN?",
}


def key_answers_markdown(verdicts: list[dict]) -> str:
    """Chapter 3's key questions and answers (:func:`lnutils.report.cells.key_answers`)."""
    return key_answers(verdicts, KEY_QUESTIONS, where=lambda v: f"{v['dataset']}, batch {v['batch_size']}")
