"""Words from numbers: the Markdown tables and verdict sentences the chapters display.

One module per experiment (:mod:`~lnutils.report.mnist`, :mod:`~lnutils.report.conv`,
:mod:`~lnutils.report.rnn`, :mod:`~lnutils.report.transformer`) and the cells they share
(:mod:`~lnutils.report.cells`).  The modules of :mod:`lnutils.experiments` train, read the
result files and decide (each verdict is data: :func:`lnutils.compare.make_verdict`); the
modules here only render what they are given: they open no file and decide nothing
(``tests/test_layout.py`` holds them to it).  Every sentence that compares numbers states the
outcome of the comparison rule (:func:`lnutils.compare.answer`) that the verdict carries, with
its interval and its number of seeds.
"""
