"""lnutils: the helper package of the Layer Normalization book.

Modules, one idea each:

* :mod:`lnutils.norms` — BN, LN, GN, IN and RMSNorm from their equations (torch).
* :mod:`lnutils.norms_numpy` — BN and LN forward and derived backward in NumPy.
* :mod:`lnutils.data` — MNIST / Fashion-MNIST loaders with a provenance record.
* :mod:`lnutils.environment` — versions and device, printed by every notebook's first cell.
* :mod:`lnutils.invariance` — the invariance table of Ba et al. 2016 (Table 1), computed.
* :mod:`lnutils.mlp` — the 784-1000-1000-10 MLPs, K of them trained in lockstep.
* :mod:`lnutils.train` — the training loop, checkpoints and result files.
* :mod:`lnutils.plotting` — the book's one matplotlib style and colours.

Only numpy, torch and matplotlib are required; tqdm is used when present.
"""

__version__ = "0.1.0"
