"""lnutils.plotting: every method has its colour, and a partial run is marked on its figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lnutils import plotting  # noqa: E402
from lnutils.cnn import NORMALIZATIONS  # noqa: E402
from lnutils.mlp import METHODS  # noqa: E402
from lnutils.rnn import CELLS  # noqa: E402


def test_every_method_name_the_book_uses_has_a_colour():
    for name in (*METHODS, *NORMALIZATIONS, *CELLS, "RMS norm"):
        assert plotting.color(name).startswith("#")
    with pytest.raises(KeyError, match="no colour for 'dropout'"):
        plotting.color("dropout")


def test_figure6_marks_a_partial_run_in_its_panel_titles():
    curves = {metric: {m: np.full((3, 2), 0.02).tolist() for m in METHODS} for metric in ("train_nll", "test_error")}
    figure = plotting.plot_figure6({128: curves, 4: curves}, notes={4: "partial run: 3 of 65 epochs"})
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles.count("batch size 128") == 2
    assert titles.count("batch size 4\n(partial run: 3 of 65 epochs)") == 2
    plt.close(figure)


def test_activity_maps_figure_has_a_row_per_normalization():
    maps = {name: [np.random.rand(28, 28), np.random.rand(14, 14)] for name in ("none", "batch norm")}
    figure = plotting.activity_maps_figure(maps)
    assert [ax.get_ylabel() for ax in figure.axes if ax.get_ylabel() in maps] == ["none", "batch norm"]
    plt.close(figure)
