"""The one contract of the four experiments (lnutils/experiments/__init__.py): the same names, and verdicts
of the same shape, answered by the one comparison rule, on each experiment's saved result."""

from __future__ import annotations

import inspect

import pytest

from lnutils.compare import ANSWERS
from lnutils.experiments import conv, conv_budget, mnist, rnn, transformer
from lnutils.report.cells import METRIC_WORDS, metric_words

EXPERIMENTS = {"mnist": mnist, "conv": conv, "rnn": rnn, "transformer": transformer}
VERDICT_KEYS = {"claim", "roles", "expected", "first_values", "second_values", "outcome", "interval", "holds"}
VERDICT_KEYS |= {"metric"}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_has_the_contracts_names(name):
    module = EXPERIMENTS[name]
    assert "quick" in module.PROFILES and "paper" in module.PROFILES
    for function in ("run_profile", "results_file", "saved_results", "part_name", "verdicts"):
        assert callable(getattr(module, function)), f"{name} has no {function}"
    assert isinstance(module.PUBLISHED, dict) and module.PUBLISHED, f"{name} has no PUBLISHED numbers"
    options = inspect.signature(module.run_profile).parameters
    assert {"results_dir", "checkpoint_dir", "overwrite", "time_budget_seconds"} <= set(options)


def saved_verdicts(name: str) -> list[dict]:
    if name == "mnist":
        return mnist.verdicts(mnist.saved_paper_runs())
    if name == "conv":
        return conv.verdicts(conv.seeds_merged(conv.saved_results("cpu")), conv_budget.saved_budget_check())
    if name == "rnn":
        return rnn.verdicts(rnn.saved_results("cpu"))
    return transformer.verdicts(transformer.saved_results("cpu"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiments_verdicts_have_one_shape_and_one_rule(name):
    found = saved_verdicts(name)
    assert found
    families = set()
    for verdict in found:
        assert VERDICT_KEYS <= set(verdict), f"{name}: {sorted(VERDICT_KEYS - set(verdict))} missing"
        assert verdict["outcome"] in ANSWERS
        assert verdict["holds"] in ("yes", "no", "undecided", "no claim")
        assert verdict["metric"] in METRIC_WORDS and metric_words(verdict)  # an id the words can say
        if verdict["interval"]:
            assert verdict["interval"]["margin"] > 0 and "p_equivalence" in verdict["interval"]
            families.add(verdict["family"])
    assert len(families) <= 1  # one family per chapter, Holm over all of it
