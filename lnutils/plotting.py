"""The book's one plotting style: same colour for the same method in every chapter.

Colours are the Okabe-Ito palette (safe for the common forms of colour blindness).
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from lnutils.compare import geometric_mean, t_quantile
from lnutils.experiments.rnn import PREDICT_MEAN_MSE

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}

# One colour per method, used by every chapter.
METHOD_COLORS = {
    "baseline": OKABE_ITO["black"],
    "none": OKABE_ITO["black"],
    "batch norm": OKABE_ITO["blue"],
    "layer norm": OKABE_ITO["vermillion"],
    "weight norm": OKABE_ITO["green"],
    "instance norm": OKABE_ITO["purple"],
    "group norm": OKABE_ITO["green"],  # not orange: beside layer norm's vermillion the two blur
    "rms norm": OKABE_ITO["sky blue"],
    # the recurrent cells of chapter 4
    "lstm": OKABE_ITO["black"],
    "ln-lstm": OKABE_ITO["vermillion"],
    "bn-lstm": OKABE_ITO["blue"],
    "gru": OKABE_ITO["green"],
    "ln-gru": OKABE_ITO["orange"],
    # chapter 5: the places and kinds of norm in a Transformer
    "post-ln": OKABE_ITO["blue"],
    "pre-ln": OKABE_ITO["vermillion"],
    "layernorm": OKABE_ITO["vermillion"],
    "rmsnorm": OKABE_ITO["sky blue"],
    "dynamic tanh": OKABE_ITO["green"],
    "no norm": OKABE_ITO["black"],
}


def color(method: str) -> str:
    """The method's colour; "RMS norm" and "rms norm", "layer norm (C,H,W)" and "layer norm" share one."""
    key = method.lower().split(" (")[0]
    if key not in METHOD_COLORS:
        raise KeyError(f"no colour for {method!r}; the book's methods are {sorted(METHOD_COLORS)}")
    return METHOD_COLORS[key]


def use_book_style() -> None:
    """Apply the book's matplotlib style (call once at the top of a notebook)."""
    mpl.rcParams.update(
        {
            "figure.figsize": (7.0, 4.0),
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "legend.fontsize": 9,
            "legend.frameon": False,
            "font.size": 10,
            "axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO.values())[1:] + ["#000000"]),
        }
    )


def draw_normalization_sets(batch: int = 6, channels: int = 6, groups: int = 2, sample: int = 2, channel: int = 3):
    """The set S_i of values sharing μ and σ with one value i (marked ●), for each method.

    Each panel is an N × C grid; one cell stands for the H × W positions of that
    (sample, channel), which every method below pools over.  Like Wu & He 2018, Fig. 2.
    """
    sets = {
        "batch norm\nS = (N, H, W) of channel c": lambda n, c: c == channel,
        "layer norm\nS = (C, H, W) of sample n": lambda n, c: n == sample,
        "instance norm\nS = (H, W) of (n, c)": lambda n, c: n == sample and c == channel,
        f"group norm (G={groups})\nS = (C/G, H, W) of n's group": lambda n, c: n == sample
        and c // (channels // groups) == channel // (channels // groups),
        "RMS norm\nS as layer norm, no μ": lambda n, c: n == sample,
    }
    columns = 3  # rows of three panels: the figure keeps the column's width, and its text stays readable
    rows = -(-len(sets) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(7.2, 2.9 * rows), squeeze=False)
    for ax in axes.ravel()[len(sets) :]:
        ax.set_visible(False)
    for ax, (title, member) in zip(axes.ravel(), sets.items()):
        grid = np.array([[member(n, c) for n in range(batch)] for c in range(channels)], dtype=float)
        method = title.split("\n")[0].split(" (")[0]
        cmap = mpl.colors.ListedColormap(["#EEEEEE", color(method)])
        ax.imshow(grid, cmap=cmap, vmin=0, vmax=1, origin="lower")
        ax.plot(sample, channel, "o", color="white", markeredgecolor="black")
        ax.set_xticks(range(batch), [str(n) for n in range(batch)], fontsize=8)
        ax.set_yticks(range(channels), [str(c) for c in range(channels)], fontsize=8)
        ax.set_xlabel("sample n (batch axis N)", fontsize=9)
        ax.set_ylabel("channel c", fontsize=9)
        ax.set_title(title, fontsize=9)
        ax.grid(False)
    fig.tight_layout()
    return fig


def seed_mean(values, log: bool = False) -> np.ndarray:
    """The mean over seeds (columns) of an (epochs, seeds) array; on a log axis the geometric mean
    (:func:`lnutils.compare.geometric_mean`), as the tables give it: seeds' NLLs span orders of
    magnitude, and their arithmetic mean is the largest of them."""
    values = np.asarray(values, dtype=float)
    return geometric_mean(values, axis=1) if log else values.mean(axis=1)


def _band(
    ax,
    values,
    method: str,
    style: str = "-",
    label: str | None = None,
    alpha: float = 0.2,
    scale: float = 1.0,
    log: bool = False,
):
    """Mean over seeds (columns) as a line (geometric on a log axis), min-max over seeds as a band.
    A short curve (a few epochs) also marks its points, so that a run of one epoch is still visible."""
    values = np.asarray(values, dtype=float) * scale
    epochs = np.arange(1, len(values) + 1)
    marker = "o" if len(values) <= 10 else None
    ax.plot(
        epochs,
        seed_mean(values, log),
        style,
        color=color(method),
        label=label,
        linewidth=1.5,
        marker=marker,
        markersize=3,
    )
    if values.shape[1] > 1:
        ax.fill_between(epochs, values.min(axis=1), values.max(axis=1), color=color(method), alpha=alpha, linewidth=0)


def readable_log_ticks(ax) -> None:
    """A log axis that spans less than a decade gets plain tick labels (2.2, not 2.2×10⁰)."""
    low, high = ax.get_ylim()
    if low > 0 and high / low < 10:
        plain = mpl.ticker.FuncFormatter(lambda value, _: f"{value:.3g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)


def integer_epochs(ax) -> None:
    """Whole-number epoch ticks, and an axis around a run of one epoch."""
    left, right = ax.get_xlim()
    ax.set_xlim(min(left, 0.5), max(right, 1.5))
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True, min_n_ticks=1))


def legend_below(fig, axes, columns: int = 3) -> None:
    """One legend for the figure, under the panels (never over the data)."""
    handles, labels = [], []
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    fig.legend(handles, labels, loc="lower center", ncol=columns, fontsize=8, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.06 + 0.035 * ((len(labels) - 1) // columns), 1, 1))


def plot_figure6(
    main: dict,
    overlay: dict | None = None,
    main_label: str = "",
    overlay_label: str = "",
    notes: dict[int, str] | None = None,
):
    """The MNIST figure: rows are batch sizes, columns train NLL (log scale) and test error.

    ``main`` maps batch size -> curves (as written by lnutils.train.History).  Lines are
    means over seeds (geometric for the NLL, on its log axis), bands span the seeds'
    min to max.  Sized for the book's column
    (about 7 inches).  The live quick run has its own figure: :func:`plot_live_check`.
    ``overlay`` (dashed) is kept for a reader's own comparisons.  ``notes`` marks a batch
    size's panels, e.g. {4: "partial run: 8 of 65 epochs"} (:func:`lnutils.report.partial_notes`).
    """
    batch_sizes = sorted(set(main) | set(overlay or {}), reverse=True)
    fig, axes = plt.subplots(len(batch_sizes), 2, figsize=(7.2, 2.9 * len(batch_sizes) + 0.5), squeeze=False)
    for row, batch_size in enumerate(batch_sizes):
        last_errors = [2.0]  # every curve's last point (mean over seeds, %) must be inside the error axes
        for source, style, suffix in ((main, "-", main_label), (overlay or {}, "--", overlay_label)):
            curves = source.get(batch_size)
            if curves is None:
                continue
            for method in curves["train_nll"]:
                label = f"{method} {suffix}".strip()
                _band(axes[row, 0], curves["train_nll"][method], method, style, label, log=True)
                _band(axes[row, 1], curves["test_error"][method], method, style, scale=100)
                last_errors.append(100 * float(np.mean(curves["test_error"][method][-1])))
        axes[row, 0].set_yscale("log")
        readable_log_ticks(axes[row, 0])
        axes[row, 0].set_ylabel("train NLL (nats)")
        axes[row, 1].set_ylabel("test error (%)")
        for ax in axes[row]:
            note = (notes or {}).get(batch_size)
            ax.set_title(f"batch size {batch_size}" + (f"\n({note})" if note else ""), fontsize=10)
            ax.set_xlabel("epoch")
            integer_epochs(ax)
        # zoom in on the end of training, where the methods differ
        axes[row, 1].set_ylim(0.8, min(axes[row, 1].get_ylim()[1], 1.25 * max(last_errors)))
    legend_below(fig, axes)
    return fig


def plot_live_check(live: dict, saved: dict):
    """The live quick run (markers) on the saved paper run's first epochs (lines): test error
    per batch size, over the epochs the live run has."""
    batch_sizes = sorted(live, reverse=True)
    fig, axes = plt.subplots(1, len(batch_sizes), figsize=(3.6 * len(batch_sizes), 3.0), squeeze=False)
    for ax, batch_size in zip(axes[0], batch_sizes):
        epochs = len(next(iter(live[batch_size]["test_error"].values())))
        for method, values in live[batch_size]["test_error"].items():
            live_mean = 100 * np.asarray(values, dtype=float).mean(axis=1)
            ax.plot(
                np.arange(1, epochs + 1),
                live_mean,
                "o",
                color=color(method),
                label=f"{method}, this build",
                markersize=5,
            )
            if batch_size in saved:
                saved_values = 100 * np.asarray(saved[batch_size]["test_error"][method], dtype=float)[:epochs]
                ax.plot(
                    np.arange(1, len(saved_values) + 1),
                    saved_values.mean(axis=1),
                    "-",
                    color=color(method),
                    label=f"{method}, saved run",
                )
        ax.set(title=f"batch size {batch_size}", xlabel="epoch", ylabel="test error (%)")
        integer_epochs(ax)
    legend_below(fig, axes, columns=2)
    return fig


def plot_curves(curves: dict, metrics=("train_nll", "test_error"), styles: dict | None = None, seed: int | None = None):
    """Per-epoch curves of several methods, one panel per metric (log scale for NLL), mean over
    seeds (or one seed), with integer epoch ticks and the legend below."""
    labels = {"train_nll": "train NLL (nats)", "test_error": "test error (%)", "val_error": "validation error (%)"}
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.1), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for name, values in curves[metric].items():
            values = np.asarray(values, dtype=float) * (1 if metric == "train_nll" else 100)
            line = values[:, seed] if seed is not None else seed_mean(values, log=metric == "train_nll")
            style = (styles or {}).get(name, "-")
            ax.plot(np.arange(1, len(line) + 1), line, style, color=color(name), marker="o", markersize=3, label=name)
        ax.set(xlabel="epoch", ylabel=labels[metric], yscale="log" if metric == "train_nll" else "linear")
        if metric == "train_nll":
            readable_log_ticks(ax)
        integer_epochs(ax)
    legend_below(fig, axes, columns=4)
    return fig


def plot_validation_by_setting(records: dict):
    """Validation error per epoch (mean over seeds), one panel per setting of chapter 4."""
    fig, axes = plt.subplots(1, len(records), figsize=(3.6 * len(records), 3.1), squeeze=False)
    for ax, (setting, record) in zip(axes[0], records.items()):
        for cell, values in record["curves"]["val_error"].items():
            values = 100 * np.asarray(values, dtype=float)
            ax.plot(
                np.arange(1, len(values) + 1), values.mean(axis=1), "o-", color=color(cell), label=cell, markersize=4
            )
        ax.set(title=f"sequential MNIST, {setting}", xlabel="epoch", ylabel="validation error (%)")
        integer_epochs(ax)
        low, high = ax.get_ylim()
        if high - low < 2:  # a run of one or two epochs: give the points room
            middle = (high + low) / 2
            ax.set_ylim(max(0, middle - 2), middle + 2)
    legend_below(fig, axes, columns=5)
    return fig


def plot_adding_losses(results: dict, length: int, window: int = 50):
    """Training MSE on the adding problem (moving mean over ``window`` steps) per cell."""
    fig, ax = plt.subplots(figsize=(6.0, 3.3))
    for cell, result in results.items():
        losses = np.convolve(result["train_loss"], np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window, window + len(losses)), losses, color=color(cell), label=cell)
    ax.axhline(PREDICT_MEAN_MSE, color="grey", linestyle=":", label="predict the mean")
    ax.set(
        xlabel="training step",
        ylabel=f"train MSE ({window}-step mean)",
        yscale="log",
        title=f"adding problem, length {length}",
    )
    legend_below(fig, ax, columns=4)
    return fig


def plot_rnn_probes(statistics: dict, gradients: dict):
    """Per time step: spread of the recurrent summed input, norm of h_t, and ‖∂L/∂h_t‖, per cell.
    None when there is nothing to plot (no trained networks on this machine)."""
    if not statistics:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(7.4, 3.0))  # the column's width: text at its printed size
    for cell, stats in statistics.items():
        steps = np.arange(1, len(gradients[cell]) + 1)
        axes[0].plot(steps, stats["recurrent input std"], color=color(cell), label=cell)
        axes[1].plot(steps, stats["hidden norm"], color=color(cell))
        axes[2].semilogy(steps, gradients[cell], color=color(cell))
    axes[0].set(xlabel="time step t", ylabel="std of recurrent input")
    axes[1].set(xlabel="time step t", ylabel="mean ‖h_t‖")
    axes[2].set(xlabel="time step t", ylabel="mean ‖∂L/∂h_t‖")
    legend_below(fig, axes, columns=5)
    return fig


def plot_bn_lstm_study(found: dict):
    """The BN-LSTM study (:func:`lnutils.experiments.bn_lstm.study`): left, test error with the batch's own
    statistics for the first k steps (population statistics after) and for all but the first k; right,
    per step, how far the population mean sits from the batches' (in population standard deviations)
    for each of the three normalizations."""
    fig, axes = plt.subplots(1, 2, figsize=(7.4, 3.0))
    for key, label, style in (
        ("batch_statistics_for_the_first_k_steps", "batch statistics for steps < k", "-"),
        ("batch_statistics_for_all_but_the_first_k_steps", "batch statistics for steps ≥ k", "--"),
    ):
        ks = [int(k) for k in found[key]]
        axes[0].plot(ks, list(found[key].values()), style, marker="o", markersize=3, color="black", label=label)
    axes[0].set(xlabel="k (of 28 steps)", ylabel="test error %")
    axes[0].legend(fontsize="small")
    names = {"norm_ih": "W_x x_t", "norm_hh": "W_h h_{t−1}", "norm_cell": "c_t"}
    for (name, rows), line in zip(found["statistics_by_step"].items(), ("-", "--", ":")):
        steps = np.arange(len(rows["mean_shift"]))
        axes[1].semilogy(steps, np.maximum(rows["mean_shift"], 1e-4), line, color="black", label=names[name])
    axes[1].set(xlabel="time step t", ylabel="|μ_B − μ_pop| / σ_pop")
    axes[1].legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_gains_and_biases(layers: dict[str, tuple], method: str = "layer norm"):
    """Histograms of the learned gain g and bias b of each normalized layer (they start at 1 and 0)."""
    fig, axes = plt.subplots(len(layers), 2, figsize=(7.2, 2.4 * len(layers)), squeeze=False)
    for row, (layer, (gain, bias)) in enumerate(layers.items()):
        axes[row, 0].hist(gain, bins=40, color=color(method))
        axes[row, 0].axvline(1.0, color="grey", linestyle=":")
        axes[row, 1].hist(bias, bins=40, color=color(method))
        axes[row, 1].axvline(0.0, color="grey", linestyle=":")
        axes[row, 0].set(ylabel=f"{layer}\nunits", xlabel="gain g (started at 1)")
        axes[row, 1].set(xlabel="bias b (started at 0)")
    fig.tight_layout()
    return fig


def activity_maps_figure(maps: dict[str, list[np.ndarray]]):
    """Rows: normalizations; columns: blocks; each map the fraction of active units per position
    (from :func:`lnutils.experiments.conv.activity_maps_by_name`).  None when there are no maps (no
    trained networks on this machine)."""
    if not maps:
        return None
    names = list(maps)
    blocks = max(len(m) for m in maps.values())
    fig, axes = plt.subplots(len(names), blocks, figsize=(8, 2.4 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        for block, active in enumerate(maps[name]):
            ax = axes[row, block]
            shown = ax.imshow(active, vmin=0, vmax=1, cmap="viridis")
            ax.set_xticks([]), ax.set_yticks([])
            ax.grid(False)
            if block == 0:
                ax.set_ylabel(name, fontsize=9)
            if row == 0:
                ax.set_title(f"block {block + 1}")
        fig.colorbar(shown, ax=axes[row].tolist(), label="fraction active", shrink=0.8)
    return fig


# ----------------------------------------------------------------------------- chapter 5: Transformers

PLACEMENT_LABELS = {"post": "post-LN", "pre": "pre-LN"}


def plot_initialization_probe(probe: dict):
    """Xiong et al. 2020 at initialization: W₂'s gradient norm by layer (their Fig. 3), the last
    layer's by depth (Theorem 1), and ‖x_l‖² by layer against Lemma 2's bounds.  Lines are the
    mean over seeds, bands the range."""
    fig, axes = plt.subplots(1, 3, figsize=(9.0, 3.5))
    layers = np.arange(1, probe["layers"] + 1)
    for placement, label in PLACEMENT_LABELS.items():
        for ax, key, x in (
            (axes[0], "gradient_norm_by_layer", layers),
            (axes[1], "last_layer_gradient_by_depth", np.asarray(probe["depths"])),
            (axes[2], "squared_norm_by_layer", layers),
        ):
            values = np.asarray(probe[placement][key], dtype=float)
            ax.plot(x, values.mean(0), "o-", color=color(label), label=label, markersize=3)
            ax.fill_between(x, values.min(0), values.max(0), color=color(label), alpha=0.2, linewidth=0)
    width = probe["width"]
    axes[2].plot(layers, 1.5 * width * np.ones_like(layers), ":", color=color("post-LN"), label="Lemma 2: 3d/2")
    axes[2].fill_between(
        layers,
        (1 + layers / 2) * width,
        (1 + 3 * layers / 2) * width,
        color=color("pre-LN"),
        alpha=0.08,
        label="Lemma 2: pre-LN bounds",
        hatch="//",
        edgecolor=color("pre-LN"),
        linewidth=0,
    )
    axes[0].set(xlabel="layer l", ylabel="‖∂L/∂W₂‖", title=f"by layer ({probe['layers']} layers)")
    axes[1].set(xlabel="number of layers L", ylabel="last layer's ‖∂L/∂W₂‖", title="last layer, by depth")
    axes[2].set(xlabel="layer l", ylabel="‖x‖²", title=f"hidden state, d = {width}")
    for ax in axes:
        ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    legend_below(fig, axes, columns=2)
    return fig


def plot_transformer_runs(payload: dict, roles: dict, title: str, labels: dict | None = None, log: bool = False):
    """Validation loss over training steps, one line per role (mean over the seeds done, band: range).

    ``roles`` maps a role to its setting's key in ``payload["parts"]``; ``labels`` gives each role's
    legend text, colour key and (optionally) line style.  A diverged seed's curve stops where it diverged."""
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    styles = ["-", "--", "-.", ":"]
    for index, (role, key) in enumerate(roles.items()):
        records = [r for name, r in payload["parts"].items() if name.rsplit("/", 1)[0] == key]
        curves = [r for r in records if r["validation_loss"]]
        if not curves:
            continue
        length = min(len(r["validation_loss"]) for r in curves)
        steps = np.asarray(curves[0]["steps"][:length])
        values = np.array([r["validation_loss"][:length] for r in curves])
        label, colour_key, *style = (labels or {}).get(role, (role, role))
        diverged = sum(r["diverged_at"] is not None for r in records)
        text = f"{label} ({len(records)} seed{'s' if len(records) != 1 else ''}" + (
            f", {diverged} diverged)" if diverged else ")"
        )
        line = style[0] if style else styles[index % len(styles)]
        ax.plot(steps, values.mean(0), line, color=color(colour_key), label=text)
        if len(values) > 1:
            ax.fill_between(steps, values.min(0), values.max(0), color=color(colour_key), alpha=0.15, linewidth=0)
    ax.set(xlabel="training step", ylabel="validation loss (nats/char)", title=title)
    if log:
        ax.set_yscale("log")
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_dyt_alpha(regime: dict, threshold: float = 2.0):
    """DyT's α (mean over layers) and the fraction of its inputs with |αx| > threshold, over training,
    one line per seed, for the small slice and for all the text."""
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4))
    styles = {"dyt small text": "--", "dyt all text": "-"}
    for role, seeds in regime.items():
        for seed, record in seeds.items():
            label = role.removeprefix("dyt ") if seed == min(seeds) else None
            axes[0].plot(
                record["steps"][: len(record["alpha_mean"])],
                record["alpha_mean"],
                styles[role],
                color=color("Dynamic Tanh"),
                label=label,
                alpha=0.8,
            )
            axes[1].plot(
                record["steps"][: len(record["saturated"])],
                100 * np.asarray(record["saturated"]),
                styles[role],
                color=color("Dynamic Tanh"),
                label=label,
                alpha=0.8,
            )
    axes[0].set(xlabel="training step", ylabel="α (mean over DyT layers)", title="α during training")
    axes[1].set(xlabel="training step", ylabel=f"% of inputs with |αx| > {threshold:g}", title="saturation")
    legend_below(fig, axes, columns=2)
    return fig


def plot_sensitivity(found: dict):
    """Final test error against the learning rate, one line per method (:func:`lnutils.experiments.mnist.
    sensitivity`): the mean over seeds with its 95 % Student-t interval as error bars (none for one
    seed), each method's best rate ringed, the shared rate a dotted line."""
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    for method, rates in found["test_error"].items():
        xs = sorted(rates)
        values = [np.asarray(rates[r], dtype=float) for r in xs]
        means = np.array([v.mean() for v in values])
        n = len(values[0])
        half = np.array([t_quantile(0.975, n - 1) * v.std(ddof=1) / np.sqrt(n) for v in values]) if n > 1 else None
        ax.errorbar(xs, means, yerr=half, color=color(method), marker="o", capsize=3, label=method)
        best = found["best"][method]
        ax.plot(
            [best],
            [np.mean(rates[best])],
            marker="o",
            markersize=14,
            markerfacecolor="none",
            markeredgecolor=color(method),
            linestyle="none",
        )
    ax.axvline(found["shared_rate"], color="0.5", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("Adam learning rate")
    ax.set_ylabel("final test error (%)")
    seeds = len(found["seeds"])
    ax.set_title(
        f"MNIST, batch {found['batch_size']}, 65 epochs: {seeds} seed{'s' if seeds > 1 else ''}"
        + ("" if seeds > 1 else " (no interval)")
    )
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig
