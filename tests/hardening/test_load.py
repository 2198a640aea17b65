"""Load, scaled down: 32 IHD/PPMID/CAD nodes (each joined with CBKE) polling at
10 times their normal rate for 90 virtual seconds; every request answered.
The longer run is ``benchmarks/bench_load.py`` (figures in docs/reliability.md)."""

from __future__ import annotations

from benchmarks.bench_load import population, run_load


def test_population_is_ten_times_the_normal_rate() -> None:
    nodes = population(32, 10.0)
    assert len(nodes) == 32
    assert {n.kind for n in nodes} == {"ihd", "ppmid", "cad"}
    ihd = next(n for n in nodes if n.kind == "ihd")
    assert ihd.demand_s == 1.0 and ihd.registers_s == 6.0  # 10 s and 60 s normally


def test_32_nodes_at_ten_times_their_rate_are_all_answered() -> None:
    result = run_load(nodes=32, hours=1.5 / 60, rate=10.0)
    assert result.requests > 3000
    assert result.failures == 0 and result.answered == result.requests
    assert len(result.latencies) >= result.requests - 32 * 3  # matched on the air (a few in flight at the end)
    assert result.percentile(99) < 1.0  # virtual seconds
