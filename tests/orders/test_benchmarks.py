"""The benchmarks run end to end on tiny inputs and report consistent figures (speed is not asserted)."""

from __future__ import annotations

import pytest


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reservations_benchmark_small_run():
    from orders.benchmarks import reservations

    lines: list[str] = []
    result = reservations.run(out=lines.append, clients=3, units=31)
    assert {k: result[k] for k in ("clients", "units", "succeeded", "baseline_succeeded", "oversold", "ledger_ok")} == {
        "clients": 3, "units": 31, "succeeded": 31, "baseline_succeeded": 31, "oversold": 0, "ledger_ok": True}
    assert result["reservations_per_s"] > 0 and result["baseline_per_s"] > 0
    assert len(lines) == 9 and result["baseline_raw_sql_per_s"] > 0


@pytest.mark.django_db
def test_routing_benchmark_small_run():
    from orders.benchmarks import routing

    result = routing.run(out=lambda line: None, locations=12, orders=5, skus=4)
    assert (result["locations"], result["orders"]) == (12, 5)
    assert 0 < result["p50_ms"] <= result["p95_ms"]
    assert 0 < result["avg_candidates"] <= 12
