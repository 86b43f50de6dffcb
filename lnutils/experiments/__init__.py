"""The book's four experiments, one contract each fulfils with the same names:

* :mod:`lnutils.experiments.mnist` — Ba et al. 2016, Figure 6 (chapter 2); its readings of the curves in
  :mod:`~lnutils.experiments.mnist_readings`, its questions answered in
  :mod:`~lnutils.experiments.mnist_verdicts`, its learning rates in
  :mod:`~lnutils.experiments.mnist_rates`;
* :mod:`lnutils.experiments.conv` — layer norm in convolutional networks (chapter 3); the border probe in
  :mod:`~lnutils.experiments.conv_probes`, its questions answered in :mod:`~lnutils.experiments.conv_verdicts`,
  the longer-budget check in :mod:`~lnutils.experiments.conv_budget`;
* :mod:`lnutils.experiments.rnn` — layer norm in recurrent networks (chapter 4); the adding problem in
  :mod:`~lnutils.experiments.adding`, the probes in :mod:`~lnutils.experiments.rnn_probes`, its questions
  answered in :mod:`~lnutils.experiments.rnn_verdicts`, the BN-LSTM
  study in :mod:`~lnutils.experiments.bn_lstm`;
* :mod:`lnutils.experiments.transformer` — layer norm in Transformers (chapter 5); the probe at
  initialization in :mod:`~lnutils.experiments.transformer_probes`, its training (and why it has a trainer of
  its own) in :mod:`~lnutils.experiments.transformer_training`.

Each chapter imports its experiment's main module, which re-exports what the chapter reads from the others.

The contract (``tests/test_contract.py`` checks it for all four):

``PROFILES``
    The profile names: ``quick`` (a book build's live run, minutes; it ranks nothing), ``cpu`` (the saved
    evidence, trained on one CPU core) where there is one, ``paper`` (the paper's scale, a GPU).
``run_profile(profile, device, ..., results_dir=None, checkpoint_dir=None, overwrite=False,
time_budget_seconds=None)``
    Trains a profile's parts, resumable part by part (:func:`lnutils.parts.run_parts`), and writes its result
    file as it goes; returns what the file holds.
``results_file(profile)`` and ``saved_results(profile)``
    Where a profile's result is written, and the result as saved (or the copy shipped with lnutils).
``part_name(...)``
    A part's key in the result file (its arguments are what the experiment's parts differ in).
``PUBLISHED``
    The published numbers the chapter sets beside its own ({source: {what: value}}, or, for Figure 6, the
    values read off the figure by batch size).
``verdicts(result)``
    The chapter's questions answered on a result, as data: a list of
    :func:`lnutils.compare.make_verdict` dicts (a claim id, the two roles, per-seed values, the comparison
    rule's answer with its interval, whether the claim holds, the evidence level, and ``metric``: an id of
    what was compared, whose words are in :data:`lnutils.report.cells.METRIC_WORDS`), the family under Holm
    (:func:`lnutils.compare.verdict_family`).  Never sentences: ``tests/test_layout.py`` keeps ``print``
    and metric sentences out of these modules (progress goes through :func:`lnutils.progress.say`) and
    keeps :mod:`lnutils.report` from calling a decision.

Every question is answered by one rule, :func:`lnutils.compare.answer`: a Student-t interval of the
(paired) difference over seeds, and equivalence within a margin fixed before the runs (TOST).

The experiments return numbers and never format them: tables and sentences are in :mod:`lnutils.report`
(one module per experiment, with the same name), figures in :mod:`lnutils.plotting`.  One command line runs
them all (``python -m lnutils.experiments --help``).
"""
