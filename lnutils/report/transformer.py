"""The words of chapter 5 (layer norm in Transformers): tables and sentences made from the
numbers of :mod:`lnutils.experiments.transformer`.  Nothing here reads a file or decides a verdict."""

from __future__ import annotations

import math

import numpy as np

from lnutils.experiments import transformer as experiment
from lnutils.report.cells import budget_check_table, key_answers, other_data_words, verdict_summary, verdict_table
from lnutils.transformer import NORMS, PLACEMENTS

LN2 = math.log(2)

CLAIMS = {
    "post_ln_gradient_grows_with_layer": (
        "Post-LN: the gradient of W₂ grows with the layer index (Xiong et al. 2020, Fig. 3)"
    ),
    "pre_ln_gradient_flat_across_layers": "Pre-LN: the gradient of W₂ is about the same in every layer (Fig. 3)",
    "pre_ln_last_gradient_shrinks_with_depth": (
        "Pre-LN: the last layer's gradient shrinks as the model gets deeper (Theorem 1)"
    ),
    "post_ln_last_gradient_independent_of_depth": (
        "Post-LN: the last layer's gradient does not depend on depth (Theorem 1)"
    ),
    "pre_ln_last_gradient_shrinks_with_depth_beyond_smallest": (
        "Pre-LN: the same, from the second-smallest depth on (Theorem 1 bounds an order in L)"
    ),
    "post_ln_last_gradient_independent_of_depth_beyond_smallest": (
        "Post-LN: the same, from the second-smallest depth on (Theorem 1 bounds an order in L)"
    ),
    "pre_ln_hidden_norm_within_lemma_bounds": ("Pre-LN: (1 + l/2)d ≤ ‖x_l‖² ≤ (1 + 3l/2)d at every layer (Lemma 2)"),
    "post_ln_hidden_norm_near_three_halves_d": "Post-LN: ‖x‖² ≈ 3d/2 at every layer, within 10 % (Lemma 2)",
    "post_ln_needs_warmup": (
        "Post-LN at a high learning rate ends better with warm-up than without (Xiong et al. 2020)"
    ),
    "pre_ln_trains_without_warmup": (
        "Pre-LN at the same rate does as well without warm-up as with it (Xiong et al. 2020)"
    ),
    "rms_norm_matches_layer_norm": "RMSNorm matches LayerNorm (Zhang & Sennrich 2019)",
    "dyt_matches_layer_norm": "Dynamic Tanh matches LayerNorm (Zhu et al. 2025)",
    "normalization_helps": "LayerNorm ends better than no normalization",
    "dyt_helps_with_little_data": "With little text, DyT ends better than LN (Verma 2026)",
    "dyt_hurts_with_much_data": "With all the text, LN ends better than DyT (Verma 2026)",
}

ROLE_WORDS = {
    "post with warm-up": "post-LN with warm-up",
    "post without warm-up": "post-LN without warm-up",
    "pre without warm-up": "pre-LN without warm-up",
    "pre with warm-up": "pre-LN with warm-up",
    "rms": "RMSNorm",
    "dyt": "DyT",
    "layer": "LayerNorm",
    "none": "no norm",
    "dyt small text": "DyT",
    "layer small text": "LN",
    "dyt all text": "DyT",
    "layer all text": "LN",
}


def _cell(value) -> str:
    return str(value).replace("|", "\\|")  # a pipe inside a cell (|αx|) would split it


def _table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _mean_sd(values) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return "–"
    if not np.all(np.isfinite(values)):
        return f"diverged ({int(np.sum(~np.isfinite(values)))} of {len(values)})"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"


def setting_label(training: experiment.Training) -> str:
    text = "all text" if training.train_characters is None else f"first {training.train_characters:,} chars"
    warm = f"warm-up {training.warmup_steps}" if training.warmup_steps else "no warm-up"
    return f"{PLACEMENTS[training.placement]}, {NORMS[training.norm]}, lr {training.learning_rate:g}, {warm}, {text}"


def profile_markdown(settings: experiment.Profile) -> str:
    return (
        f"Profile **{settings.name}**: {settings.layers} layers, d = {settings.width}, {settings.heads} heads, "
        f"context {settings.context}, batch {settings.batch_size}, {settings.steps:,} steps "
        f"(evaluated every {settings.eval_every}), seeds {', '.join(map(str, settings.seeds))}."
    )


def probe_markdown(probe: dict) -> str:
    """The probe by layer: W₂'s gradient norm (mean ± sd over seeds) and ‖x_l‖² against Lemma 2."""
    bounds = experiment.lemma_bounds(probe["width"], probe["layers"])
    rows = []
    for layer in range(probe["layers"]):
        post = np.array(probe["post"]["gradient_norm_by_layer"])[:, layer]
        pre = np.array(probe["pre"]["gradient_norm_by_layer"])[:, layer]
        post_sq = np.array(probe["post"]["squared_norm_by_layer"])[:, layer].mean()
        pre_sq = np.array(probe["pre"]["squared_norm_by_layer"])[:, layer].mean()
        rows.append(
            [
                layer + 1,
                _mean_sd(post),
                _mean_sd(pre),
                f"{post_sq:.0f} (3d/2 = {bounds['post'][layer]:.0f})",
                f"{pre_sq:.0f} ({bounds['pre_low'][layer]:.0f} to {bounds['pre_high'][layer]:.0f})",
            ]
        )
    headers = ["layer l", "‖∂L/∂W₂‖ post-LN", "‖∂L/∂W₂‖ pre-LN", "‖x‖² post-LN (Lemma 2)", "‖x_l‖² pre-LN (Lemma 2)"]
    seeds = len(probe["post"]["gradient_norm_by_layer"])
    return _table(headers, rows) + f"\n\nMean ± sd over {seeds} seeds at initialization, d = {probe['width']}."


def probe_verdicts_markdown(verdicts: list[dict]) -> str:
    rows = []
    for v in verdicts:
        found = v["trend"]
        agrees = "yes" if found == v["expected"] else "no"
        rows.append([CLAIMS[v["claim"]], v["expected"], found, f"**{agrees}**"])
    return _table(["claim", "the paper", "measured here", "agrees"], rows) + (
        "\n\n'grows' or 'shrinks': the comparison rule on log10 of the gradient norm, first layer against last "
        "(or smallest model against largest, for the depth claims; paired by seed), gives a direction; 'flat': "
        "the two are equivalent within a factor "
        f"{10**experiment.TREND_MARGIN_LOG10:.2f}; 'undecided': neither. The probe trains nothing, so it is "
        "complete in every profile."
    )


def training_markdown(payload: dict) -> str:
    """One row per setting: final validation loss (nats and bits per character), seeds done, convergence."""
    config = payload["config"]
    rows = []
    for key, fields in config["settings"].items():
        training = experiment.Training(**fields)
        losses = experiment.final_losses(payload, training)
        values = list(losses["values"].values())
        finite = [v for v in values if np.isfinite(v)]
        bits = _mean_sd(np.array(finite) / LN2) if finite and len(finite) == len(values) else "–"
        rows.append(
            [
                setting_label(training),
                _mean_sd(values),
                bits,
                f"{len(values)} of {len(config['seeds'])}",
                last_change(payload, training),
            ]
        )
    last = f"change over the last {config['eval_every']:,} steps"
    headers = ["setting", "validation loss (nats/char)", "bits/char", "seeds done", last]
    note = (
        f"Last evaluation, step {config['steps']:,}; mean ± sd over seeds. The last column: how much the "
        "validation loss still moved at the end of the decay (mean over seeds). A loss that stops moving "
        "because its learning rate decays says nothing of a longer budget: the budget check below answers "
        "that."
    )
    if not payload.get("complete"):
        note += " **Partial run**: the settings without all seeds are still training."
    return _table(headers, rows) + "\n\n" + note


def last_change(payload: dict, training: experiment.Training) -> str:
    """The mean over seeds of the validation loss's change between the last two evaluations."""
    changes = [
        r["validation_loss"][-1] - r["validation_loss"][-2]
        for seed in payload["config"]["seeds"]
        if (r := payload["parts"].get(experiment.part_name(training, seed))) is not None
        and r["diverged_at"] is None
        and len(r["validation_loss"]) >= 2
    ]
    return f"{np.mean(changes):+.3f}" if changes else "–"


def verdicts_markdown(verdicts: list[dict]) -> str:
    """The training claims (:func:`lnutils.experiments.transformer.verdicts`): the comparison rule's
    answer on the final validation losses (nats per character), a diverged run worse than any finished one."""
    roles = {v["roles"][0]: ROLE_WORDS.get(v["roles"][0], v["roles"][0]) for v in verdicts}
    roles.update({v["roles"][1]: ROLE_WORDS.get(v["roles"][1], v["roles"][1]) for v in verdicts})
    return verdict_table(verdicts, CLAIMS, lambda v: f"step {v['step']:,}", "nats/char", digits=3, names=roles)


def budget_check_markdown(checks: list[dict], budget_result: dict | None) -> str:
    """The budget check (:func:`lnutils.experiments.transformer.budget_check`): each claim's answer at the
    cpu profile's steps and at twice the decay, and whether the two agree; or how far the check got."""
    if not checks:
        return (
            "The budget check has not been trained on this machine yet: `python -m lnutils.experiments "
            "transformer run --profile budget` trains it (every setting and seed again, the decay twice as "
            "long). Until it finishes, it confirms nothing."
        )
    return budget_check_table(checks, CLAIMS, "Nats per character", 3, ROLE_WORDS)


def regime_markdown(payload: dict) -> str:
    """DyT in the two regimes: the loss change against LN, α at the end, the saturated fraction."""
    settings = experiment.profile_from_config(payload["config"])
    roles = settings.experiments()["regime"]
    dyt = experiment.dyt_regime(payload)
    rows = []
    for size in ("small text", "all text"):
        change = experiment.relative_change(payload, roles[f"dyt {size}"], roles[f"layer {size}"])
        runs = dyt.get(f"dyt {size}", {})
        alpha = [r["alpha_mean"][-1] for r in runs.values() if r["alpha_mean"]]
        saturated = [r["saturated"][-1] for r in runs.values() if r["saturated"]]
        chars = "all" if roles[f"dyt {size}"].train_characters is None else f"{roles[f'dyt {size}'].train_characters:,}"
        rows.append(
            [
                f"{size} ({chars} characters)",
                "–" if change is None else f"{change:+.1f} %",
                _mean_sd(alpha),
                "–" if not saturated else f"{100 * np.mean(saturated):.1f} %",
            ]
        )
    headers = [
        "training text",
        "DyT's loss vs LN's",
        "α at the end (mean over layers)",
        "inputs with |αx| > 2 at the end",
    ]
    return _table(headers, rows) + (
        "\n\nThe loss change is (DyT − LN) / LN of the mean final validation loss; negative means DyT is better. "
        "It is a description, not a verdict: the verdict table applies the seed-noise rule."
    )


def saved_run_markdown(payload: dict | None, name: str) -> str:
    """Where the saved run stands, its provenance, or the one command that would make it."""
    command = f"python -m lnutils.experiments transformer run --profile {name}"
    if payload is None:
        return f"No saved `{name}` run ships with this build. The command that makes it: `{command}`."
    config, source = payload["config"], payload.get("provenance") or {}
    total = len(config["settings"]) * len(config["seeds"])
    status = "complete" if payload.get("complete") else f"partial: {len(payload['parts'])} of {total} runs"
    commit = (source.get("commit") or "unknown")[:10]
    hours = sum(r.get("seconds", 0.0) for r in payload["parts"].values()) / 3600
    return (
        f"Saved `{name}` run: {status}; {hours:.2f} h of training on {source.get('device', 'unknown device')}, "
        f"commit `{commit}`, torch {source.get('versions', {}).get('torch', '?')}, data checksum "
        f"`{config['data'][:12]}…`. It resumes with `{command}`."
    )


def published_markdown() -> str:
    rows = [[source, what, value] for source, values in experiment.PUBLISHED.items() for what, value in values.items()]
    return _table(["source", "what", "value"], rows)


def retrace_markdown(check: dict) -> str:
    """Whether the live code retraced the saved run, in words computed from the two losses."""
    if check["saved"] is None:
        return (
            f"The saved run does not hold `{check['setting']}` seed {check['seed']} yet, so there is nothing to "
            f"retrace; the live run reached {check['live'][-1]:.3f} nats at step {check['steps'][-1]}."
        )
    difference = max(abs(a - b) for a, b in zip(check["live"], check["saved"]))
    if not check.get("same_data", True):
        return (
            f"Live check ({check['seconds']:.0f} s): `{check['setting']}`, seed {check['seed']}, validation loss "
            f"live {check['live'][-1]:.4f} nats, saved {check['saved'][-1]:.4f}. {other_data_words(*check['data'])}"
        )
    retraces = "retraces" if difference <= check["tolerance"] else "does NOT retrace"
    return (
        f"Live check ({check['seconds']:.0f} s): `{check['setting']}`, seed {check['seed']}, trained again for "
        f"{check['steps'][-1]} steps. Validation loss live {check['live'][-1]:.4f} nats, saved "
        f"{check['saved'][-1]:.4f}: the largest difference is {difference:.4f} nats, so this build's code "
        f"**{retraces}** the saved run (tolerance {check['tolerance']} nats: other thread counts round differently)."
    )


LEDGER = [
    (
        "Xiong et al. 2020",
        "Post-LN's gradients at initialization grow towards the output layer; pre-LN's do not. Lemma 2 bounds "
        "the hidden norms. Post-LN needs a learning-rate warm-up; pre-LN does not (Transformer base, IWSLT14, "
        "BERT).",
        "The same probe at initialization on a character model (10 seeds, d and the FFN initialized as the "
        "lemma assumes: W ~ N(0, 1/fan-in), ReLU). Warm-up: 4-layer models at a learning rate 5× the norms "
        "experiment's, with and without a linear warm-up of 10 % of the steps.",
        "Their models and data take GPU days; the mechanism is depth and learning rate, which a small model has.",
    ),
    (
        "Zhang & Sennrich 2019",
        "RMSNorm (no re-centering, no bias) matches LN's quality and runs 7-64 % faster.",
        "RMSNorm in the pre-LN model, 5 seeds; its speed in `python -m lnutils.bench norms` beside LN, the "
        "book's and PyTorch's fused kernels.",
        "Quality and speed are separate claims: speed depends on the kernel, not the equation.",
    ),
    (
        "Zhu et al. 2025",
        "Dynamic Tanh, γ tanh(αx) + β with α0 = 0.5, replaces LN in Transformers with no loss of quality.",
        "DyT in the pre-LN model in place of every LN, including the final one, 5 seeds.",
        "The paper's models are ViTs, DiTs and LLaMA; ours is a 4-layer character model.",
    ),
    (
        "Verma 2026",
        "DyT helps with little data (−27 % validation loss at 64M parameters and 1M tokens) and hurts with "
        "much (+19 % at 118M tokens); 49 % of its activations saturate at 1M tokens, 23 % at 118M.",
        "DyT against LN on a 200,000-character slice and on all 4.3M training characters, with α and the "
        "fraction |αx| > 2 over training.",
        "The CPU profile's 'much data' is about 1.4 passes over the text, far from 118M tokens: the GPU profile "
        "comes closer (82M characters seen).",
    ),
    (
        "This chapter",
        "—",
        "No dropout, no weight decay, no gradient clipping (clipping would hide what warm-up does); Adam "
        "(β = 0.9, 0.98); cosine decay to a tenth of the rate; validation on two held-out plays.",
        "One recipe for every setting, so that only the norm and its place differ.",
    ),
]


def ledger_markdown() -> str:
    return _table(["paper", "what it states", "what this chapter does", "why"], [list(row) for row in LEDGER])


SPEED_VARIANTS = [
    ("layer norm", "torch fused", "LayerNorm, PyTorch fused"),
    ("rms norm", "torch fused", "RMSNorm, PyTorch fused"),
    ("layer norm", "derived backward", "LayerNorm, the book's (derived backward)"),
    ("rms norm", "book (autograd)", "RMSNorm, the book's (autograd)"),
    ("dynamic tanh", "book (autograd)", "Dynamic Tanh, the book's (autograd)"),
]


def speed_markdown(rows: list[dict]) -> str:
    """The benchmark's rows for the Transformer's norms, as ratios against fused LayerNorm in the same
    run, and a sentence on RMSNorm's claim computed from them."""
    shapes = list(dict.fromkeys(row["shape"] for row in rows))
    by_key = {(row["layer"], row["variant"], row["shape"]): row for row in rows}
    table = [
        [label] + [f"{by_key[(layer, variant, shape)]['× LN fused']:.2f}×" for shape in shapes]
        for layer, variant, label in SPEED_VARIANTS
        if all((layer, variant, shape) in by_key for shape in shapes)
    ]
    sentences = []
    for shape in shapes:
        ratio = by_key[("rms norm", "torch fused", shape)]["× LN fused"]
        change = 100 * (ratio - 1)
        sentences.append(
            f"at {shape}, PyTorch's fused RMSNorm took {ratio:.2f}× the time of its fused LayerNorm "
            f"({abs(change):.0f} % {'more' if change > 0 else 'less'} time)"
        )
    headers = ["forward + backward, time × fused LayerNorm"] + [f"input {shape}" for shape in shapes]
    return (
        _table(headers, table)
        + "\n\nIn this build, "
        + "; ".join(sentences)
        + ". Zhang & Sennrich 2019 report 7-64 % less time. One run of timings on a shared machine: "
        "`python -m lnutils.bench norms` repeats it."
    )


def stuck_sentence(payload: dict, unigram: float, tolerance: float = 0.05) -> str:
    """Which settings ended within ``tolerance`` nats of the unigram loss (learned character frequencies
    and nothing of their order), computed from every seed's last validation loss."""
    stuck, diverged = [], []
    for key, fields in payload["config"]["settings"].items():
        training = experiment.Training(**fields)
        values = experiment.final_losses(payload, training)["values"]
        near = [seed for seed, value in values.items() if np.isfinite(value) and abs(value - unigram) < tolerance]
        if near:
            stuck.append(f"{setting_label(training)} ({len(near)} of {len(values)} seeds)")
        if any(not np.isfinite(value) for value in values.values()):
            diverged.append(setting_label(training))
    text = f"Predicting each character by its frequency in the training text gives {unigram:.3f} nats per character. "
    text += (
        "Runs that ended within {:.2f} nats of it learned the frequencies and nothing of their order: {}.".format(
            tolerance, "; ".join(stuck)
        )
        if stuck
        else f"No run of the saved file ended within {tolerance:.2f} nats of it."
    )
    if diverged:
        text += " Diverged (a non-finite loss): " + "; ".join(diverged) + "."
    return text


def summary_markdown(verdicts: list[dict]) -> str:
    """The Summary's answers for the saved run (:func:`lnutils.report.cells.verdict_summary`)."""
    roles = {role: ROLE_WORDS.get(role, role) for v in verdicts for role in v["roles"]}
    return verdict_summary(verdicts, CLAIMS, digits=3, names=roles)


KEY_QUESTIONS = {
    "pre_ln_trains_without_warmup": "Pre-LN without warm-up as good as with it?",
    "rms_norm_matches_layer_norm": "RMSNorm as good as LayerNorm?",
    "dyt_matches_layer_norm": "Dynamic Tanh as good as LayerNorm?",
}


def key_answers_markdown(verdicts: list[dict]) -> str:
    """Chapter 5's key questions and answers (:func:`lnutils.report.cells.key_answers`)."""
    roles = {role: ROLE_WORDS.get(role, role) for v in verdicts for role in v["roles"]}
    return key_answers(verdicts, KEY_QUESTIONS, digits=3, names=roles)
