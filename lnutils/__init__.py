"""lnutils: the helper package of the Layer Normalization book.

Modules, one idea each:

* :mod:`lnutils.norms` — BN, LN, GN, IN, RMSNorm and DyT as functions from their equations (torch),
  with the hand-derived backward of BN and LN.
* :mod:`lnutils.layers` — the same as ``torch.nn`` modules (parameters and running statistics).
* :mod:`lnutils.norms_numpy` — BN and LN forward and derived backward in NumPy.
* :mod:`lnutils.datafiles` — data files found, read and downloaded safely (shared by the datasets).
* :mod:`lnutils.data` — MNIST / Fashion-MNIST loaders with a provenance record.
* :mod:`lnutils.corpus` — Shakespeare's plays as the character corpus of chapter 5.
* :mod:`lnutils.environment` — versions and device, printed by every notebook's first cell.
* :mod:`lnutils.invariance` — the invariance table of Ba et al. 2016 (Table 1), computed.
* :mod:`lnutils.stacks` — several seeds of one model trained in lockstep (the stacks every trainer takes).
* :mod:`lnutils.mlp`, :mod:`lnutils.cnn`, :mod:`lnutils.rnn`, :mod:`lnutils.transformer` — the models of
  chapters 2, 3, 4 and 5.
* :mod:`lnutils.train` — the lockstep trainer (eager, or a CUDA graph on a GPU) and its checkpoints.
* :mod:`lnutils.kept_networks` — trained networks kept as small checked files, for the probes.
* :mod:`lnutils.runs` — where results and checkpoints go, provenance, safe saving, rate selection.
* :mod:`lnutils.parts` — a run made of parts, each resumable, shared by two processes part by part.
* :mod:`lnutils.compare` — the comparison rule every answer uses: a 95 % interval over seeds, an
  equivalence margin fixed before the runs, Holm over a chapter's family.
* :mod:`lnutils.experiments` — the four experiments (``mnist``, ``conv``, ``rnn``, ``transformer``) under
  one contract: configurations, resumable runs, their numbers and answers as data, and one command line
  (``python -m lnutils.experiments``, options in :mod:`lnutils.cli`).
* :mod:`lnutils.report` — every table and verdict sentence, computed from the numbers.
* :mod:`lnutils.plotting` — the book's one matplotlib style, colours and figures.
* :mod:`lnutils.check` — the students' self-checks (their code called through :mod:`lnutils.student_code`,
  their common mistakes named from :mod:`lnutils.check_mistakes`, the report from :mod:`lnutils.check_report`);
  :mod:`lnutils.smoke` — every chapter on one
  device in seconds; :mod:`lnutils.bench` — speed against a plain PyTorch loop.

Only numpy, torch and matplotlib are required; tqdm is used when present.
"""

__version__ = "0.1.0"
