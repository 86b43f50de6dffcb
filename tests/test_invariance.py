"""The invariance table of Ba et al. 2016 (Table 1), computed: every cell agrees with the paper,
and a changed layer changes the table (the check can fail)."""

from __future__ import annotations

from lnutils import invariance


def test_computed_table_matches_the_paper():
    found = invariance.invariance_table(seed=0)
    assert found == {method: tuple(row) for method, row in invariance.PAPER_TABLE_1.items()}


def test_the_table_follows_the_layer(monkeypatch):
    original = invariance.normalized_layer

    def without_centring(method, weight, inputs, gain, bias):
        if method == "layer norm":  # RMS instead of LN: no longer invariant to shifting the weights
            summed = inputs @ weight.T
            return gain * summed / summed.square().mean(-1, keepdim=True).sqrt() + bias
        return original(method, weight, inputs, gain, bias)

    monkeypatch.setattr(invariance, "normalized_layer", without_centring)
    assert invariance.invariance_table(seed=0)["layer norm"] != tuple(invariance.PAPER_TABLE_1["layer norm"])
