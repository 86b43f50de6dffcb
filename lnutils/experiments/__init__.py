"""The book's three experiments, one shape each: configurations and profiles, the
resumable runs that write result files, and the numbers the chapters show.

* :mod:`lnutils.experiments.mnist` — Ba et al. 2016, Figure 6 (chapter 2);
* :mod:`lnutils.experiments.conv` — layer norm in convolutional networks (chapter 3);
* :mod:`lnutils.experiments.rnn` — layer norm in recurrent networks (chapter 4).

They return numbers and never format them: tables and sentences are in
:mod:`lnutils.report`, figures in :mod:`lnutils.plotting`.  One command line runs
them all (``python -m lnutils.experiments --help``).
"""
