"""lnutils.bench: its options, and each stack measured beside a plain loop in the same run."""

from __future__ import annotations

import pytest

from lnutils import bench


@pytest.mark.parametrize("arguments", [["--batch-sizes", "0"], ["--steps", "-1"], ["--steps", "0"], ["--warmup", "-2"]])
def test_bench_refuses_counts_below_one(arguments, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["train", *arguments])
    assert exit_info.value.code == 2 and "error:" in capsys.readouterr().err


def test_bench_stacks_sets_each_stack_beside_a_plain_loop_in_one_run():
    rows = bench.bench_stacks(batch_sizes=(4,), seeds=(0, 1), steps=1)
    assert {row["stack"] for row in rows} >= {"conv, batch norm, looped", "conv, batch norm, grouped"}
    for row in rows:
        assert row["plain loop ms/step"] > 0 and row["stack ms/step"] > 0
        assert 0 < row["% of matmul peak"] < 100


def test_bench_stacks_reports_the_plain_loops_time_over_the_stacks(monkeypatch):
    """With a clock that says a plain-loop step takes 3 ms and a stack step 1 ms, every row says 3× and
    the two times it was computed from."""
    last = []
    monkeypatch.setattr(bench, "_stack_step", lambda *args: last.append("stack"))
    monkeypatch.setattr(bench, "_plain_steps", lambda *args: last.append("plain"))

    def clock(function, device="cpu"):
        function()
        return {"stack": 0.001, "plain": 0.003}[last[-1]]

    monkeypatch.setattr(bench, "_timed", clock)
    monkeypatch.setattr(bench, "matmul_peak_gflops", lambda device: 100.0)
    rows = bench.bench_stacks(batch_sizes=(4,), seeds=(0, 1), steps=2)
    assert rows and all(row["× plain (speed)"] == pytest.approx(3.0) for row in rows)
    assert all(row["plain loop ms/step"] == pytest.approx(3.0) for row in rows)
    assert all(row["stack ms/step"] == pytest.approx(1.0) for row in rows)
