"""The arithmetic the benchmarks report: percentiles, the polling baseline's latencies, the pgbench
form of the reservation statement."""

from __future__ import annotations

import re

import pytest

from allocation.benchmarks.sync import _Changes, _Poller
from inventory.services import RESERVE_SQL
from omni.benchmarks.measure import percentile
from orders.benchmarks.reservations import pgbench_script


def test_percentile_is_nearest_rank():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert [percentile(values, q) for q in (0.2, 0.5, 0.8, 0.99, 1.0)] == [1.0, 3.0, 4.0, 5.0, 5.0]
    assert percentile([], 0.5) == 0.0


def test_percentile_refuses_a_percent_where_a_fraction_is_meant():
    """``percentile(x, 95)`` once reported the maximum as the p95; it must fail loudly instead."""
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95.0 and percentile(values, 0.5) == 50.0
    for q in (95, 50, 1.01, 0, -0.5):
        with pytest.raises(ValueError, match="fraction"):
            percentile(values, q)
    with pytest.raises(ValueError):
        percentile([], 95)  # refused even with nothing measured: the call itself is wrong


def test_polling_baseline_latency_runs_from_the_oldest_change_a_snapshot_carries_to_its_arrival():
    changes = _Changes()
    for sku, began in [("A", 100.0), ("B", 100.5), ("A", 101.0), ("A", 102.5), ("C", 103.0)]:
        changes.add(sku, began)
    poller = _Poller(snapshot=dict, url="", receiver=None, changes=changes, period=2.0)
    # the first snapshot was read after 3 commits and arrived at 102.0; the second carried the rest
    poller.polls = [(3, 102.0), (5, 104.2)]
    assert sorted(round(x) for x in poller.latencies_ms()) == sorted([2000, 1500, 1700, 1200])


def test_pgbench_runs_the_services_own_statement():
    script = pgbench_script(RESERVE_SQL)
    assert "%(" not in script and script.endswith(";\n")
    assert sorted(set(re.findall(r"(?<!:):([a-z]+)\b", script))) == ["floor", "location", "product", "qty", "ref"]
    assert " ".join(RESERVE_SQL.split()).replace("%(expires)s", "NULL") == re.sub(
        r"(?<!:):([a-z]+)\b", r"%(\1)s", script.rstrip(";\n"))
