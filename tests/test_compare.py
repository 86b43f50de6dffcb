"""The comparison rule (lnutils.compare.answer, holm, answer_family): each of the four answers follows
its inputs, the Student-t numbers match published tables, and Holm's step stops where it should."""

import math

import numpy as np
import pytest

from lnutils import compare
from lnutils.compare import EQUIVALENT, FIRST_LOWER, SECOND_LOWER, UNDECIDED, answer, answer_family, holm


@pytest.mark.parametrize(
    "probability, df, expected",
    # two-sided 95 % and one-sided 95 % critical values from any t table
    [(0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 4, 2.776), (0.975, 30, 2.042), (0.95, 2, 2.920)],
)
def test_t_quantiles_match_the_table(probability, df, expected):
    assert compare.t_quantile(probability, df) == pytest.approx(expected, abs=1e-3)


def test_the_t_cdf_is_symmetric_and_tends_to_the_normal():
    assert compare.t_cdf(0.0, 3) == pytest.approx(0.5)
    assert compare.t_cdf(-1.3, 5) == pytest.approx(1 - compare.t_cdf(1.3, 5))
    assert compare.t_cdf(1.96, 10_000) == pytest.approx(0.975, abs=1e-4)


SEEDS = np.array([1.30, 1.40, 1.35])


def test_a_clear_gap_is_first_lower_with_its_interval():
    found = answer(SEEDS, SEEDS + np.array([0.50, 0.45, 0.55]), margin=0.2)
    assert found["answer"] == FIRST_LOWER
    assert found["d"] == pytest.approx(-0.5)
    assert found["lo"] < -0.5 < found["hi"] < 0
    # the paired interval: d ± t(0.975, 2) · SD / sqrt(3)
    half = 4.3027 * np.std([0.50, 0.45, 0.55], ddof=1) / math.sqrt(3)
    assert found["hi"] - found["d"] == pytest.approx(half, rel=1e-4)


def test_the_same_gap_reversed_is_second_lower():
    assert answer(SEEDS + 0.5 + np.array([0, 0.05, -0.05]), SEEDS, margin=0.2)["answer"] == SECOND_LOWER


def test_a_gap_inside_a_tight_margin_is_equivalent_even_when_it_is_significant():
    lower = answer(SEEDS, SEEDS + np.array([0.010, 0.011, 0.009]), margin=0.05)
    assert lower["p_difference"] < 0.05 and lower["answer"] == EQUIVALENT
    # the same numbers against a margin smaller than the gap: a difference
    assert answer(SEEDS, SEEDS + np.array([0.010, 0.011, 0.009]), margin=0.005)["answer"] == FIRST_LOWER


def test_a_noisy_gap_is_undecided_and_more_seeds_decide_it():
    noisy = answer(SEEDS, SEEDS + np.array([0.3, -0.1, 0.2]), margin=0.05)
    assert noisy["answer"] == UNDECIDED and noisy["lo"] < 0 < noisy["hi"]
    rng = np.random.default_rng(0)
    many = 0.13 + 0.1 * rng.standard_normal(40)
    assert answer(np.zeros(40), many, margin=0.05)["answer"] == FIRST_LOWER


def test_one_seed_gives_no_interval():
    found = answer([1.0], [2.0], margin=0.1)
    assert found["answer"] == UNDECIDED and math.isnan(found["lo"]) and "one seed" in found["why"]


def test_unpaired_values_use_welch():
    found = answer([1.0, 1.1, 0.9, 1.0], [2.0, 2.4, 1.6], margin=0.1, paired=False)
    assert found["answer"] == FIRST_LOWER and not found["paired"]
    assert 2 <= found["df"] <= 5  # Welch-Satterthwaite between the smaller sample's n-1 and n1+n2-2


def test_paired_values_must_pair():
    with pytest.raises(ValueError, match="one per seed"):
        answer([1.0, 2.0], [1.0, 2.0, 3.0], margin=0.1)
    with pytest.raises(ValueError, match="margin must be positive"):
        answer([1.0, 2.0], [1.0, 2.0], margin=0)


def test_holm_steps_down_and_stops_at_the_first_failure():
    # sorted: 0.005 < 0.05/4, 0.01 < 0.05/3, 0.03 > 0.05/2: stop; 0.04 is kept though 0.04 < 0.05
    assert holm([0.01, 0.04, 0.03, 0.005]) == [True, False, False, True]
    assert holm([0.001, 0.002]) == [True, True]
    assert holm([0.2, 0.001]) == [False, True]


def test_the_family_keeps_only_what_survives_holm():
    clear = answer(SEEDS, SEEDS + np.array([0.50, 0.51, 0.49]), margin=0.1)
    borderline = answer(SEEDS, SEEDS + np.array([0.25, 0.15, 0.20]), margin=0.01)
    assert borderline["answer"] == FIRST_LOWER  # p about 0.02 alone, above 0.05 / 3
    family = answer_family([clear, borderline])
    assert [a["holm_answer"] for a in family] == [FIRST_LOWER, UNDECIDED]
    assert family[0]["family"] == 4 and family[0]["expected_false"] == pytest.approx(0.2)
