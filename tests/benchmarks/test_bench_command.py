"""Every ``manage.py bench`` runs at a tiny size in a scratch database of its own and leaves the
user's database (here: the test database, with a channel, stock and a ledger in it), the user's
Redis exactly as they were, and no scratch database behind. Speed is not asserted; the
figures each bench reports are checked for consistency."""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from allocation.models import Channel, ChannelSync, ChannelVisibility
from inventory import services as stock
from inventory.models import StockLevel
from omni.benchmarks import scratch

from ..inventory.factories import LocationFactory, ProductFactory

pytestmark = pytest.mark.django_db

PG = pytest.mark.postgres

BENCHES = [
    pytest.param("reservations", ["--clients", "2", "--units", "12"], marks=PG, id="reservations"),
    pytest.param("routing", ["--locations", "6", "--orders", "3", "--skus", "3"], id="routing"),
    pytest.param("atp", ["--skus", "40"], marks=PG, id="atp"),
    pytest.param("import", ["--rows", "90", "--baseline-rows", "9", "--locations", "4"], id="import"),
    pytest.param("sync", ["--rate", "20", "--seconds", "1.5", "--skus", "4", "--poll-seconds", "0.5", "--producers", "2",
                          "--concurrency", "2"], marks=[PG, pytest.mark.integration], id="sync"),
    pytest.param("movements", ["--items", "4", "--rows", "2"], id="movements"),
    pytest.param("soak", ["--seconds", "4", "--clients", "4", "--workers", "2", "--skus", "4", "--hot-skus", "2", "--stores", "2"],
                 marks=[PG, pytest.mark.integration], id="soak"),
    pytest.param("api", ["--seconds", "1", "--clients", "2", "--workers", "1", "--skus", "6", "--stores", "2",
                         "--profile-orders", "2", "--availability-rate", "20", "--orders-rate", "6",
                         "--paced-connections", "3"], marks=[PG, pytest.mark.integration], id="api"),
    pytest.param("store", ["--open", "4", "--requests", "3"], id="store"),
    pytest.param("eventwait", ["--skus", "60", "--backlogs", "60", "--events", "20"], marks=PG, id="eventwait"),
    pytest.param("dashboard", ["--days", "3", "--stores", "2", "--skus", "20", "--renders", "2", "--baseline-renders", "1"],
                 id="dashboard"),
]


def _user_data() -> None:
    """What a user has: an active channel with a sync endpoint, stock with its ledger."""
    store = LocationFactory(code="USER-ST")
    product = ProductFactory(sku="USER-SKU")
    stock.stock_receive(product=product, location=store, quantity=7, source="user")
    channel = Channel.objects.create(code="user-web", name="User web", kind="webshop")
    ChannelVisibility.objects.create(channel=channel, location=store)
    ChannelSync.objects.create(channel=channel, url="http://127.0.0.1:9/hook", secret="user-secret")


def _database_state() -> dict[str, list]:
    """Every row of every table of the current database, sorted."""
    state = {}
    with connection.cursor() as cur:
        for table in sorted(connection.introspection.table_names(cur)):
            cur.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            state[table] = sorted((tuple(row) for row in cur.fetchall()), key=repr)
    return state


def _scratch_databases() -> set[str]:
    """The scratch databases this test process's benches created and have not dropped (the server
    is shared: other databases come and go)."""
    if connection.vendor != "postgresql":
        return set()
    with scratch.pg_admin(connection.settings_dict) as admin:
        names = {row[0] for row in admin.execute("SELECT datname FROM pg_database")}
    return {n for n in names if n.startswith(scratch.PREFIX) and f"_{os.getpid()}_" in n}


def _scratch_directories() -> list[Path]:
    """The temporary directories this test process's benches made and left behind."""
    return list(Path(tempfile.gettempdir()).glob(f"omni-bench-*-{os.getpid()}-*"))


def _redis_keys() -> list[bytes] | None:
    if not settings.REDIS_URL:
        return None
    import redis

    try:
        return sorted(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).keys("*"))
    except redis.RedisError:
        return None


def _bench(*args: str) -> tuple[list[str], dict]:
    out = io.StringIO()
    call_command("bench", *args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    return lines, json.loads(lines[-1])


def _documented_keys(name: str) -> set[str]:
    """The JSON keys README's Benchmarks section names for this benchmark (and for every one)."""
    readme = (settings.BASE_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Benchmarks\n", 1)[1].split("\n## ", 1)[0]
    item = next(part for part in section.split("\n- ") if part.startswith(f"**`{name}`**"))
    return set(re.findall(r"`([a-z0-9_]+)`", item)) | {"load_avg_1m"}


def _check_figures(name: str, result: dict) -> None:
    if name == "reservations":
        assert {k: result[k] for k in ("clients", "units", "succeeded", "baseline_succeeded", "oversold", "ledger_ok")} == {
            "clients": 2, "units": 12, "succeeded": 12, "baseline_succeeded": 12, "oversold": 0, "ledger_ok": True}
        assert result["limit_transactions"] == 12 and result["limit_per_s"] > 0
        assert result["ratio_to_limit"] == pytest.approx(result["reservations_per_s"] / result["limit_per_s"], abs=0.01)
    elif name == "routing":
        assert (result["locations"], result["orders"]) == (6, 3) and 0 < result["p50_ms"] <= result["p95_ms"]
    elif name == "atp":
        assert (result["skus"], result["stock_rows"], result["baseline_skus"], result["baseline_scope"]) == (
            40, 2000, 40, "every SKU")
        assert result["baseline_mismatches"] == 0 and result["baseline_matches_sql"] is True
        assert result["snapshot_total_atp"] > 0 and result["ratio"] > 0
    elif name == "import":
        assert (result["rows"], result["baseline_rows"], result["ledger_ok"]) == (90, 9, True)
        assert result["movements_written"] > 0
        if result["database"] == "postgresql":
            assert result["copy_rows"] == 90 and result["copy_rows_per_s"] > 0
            assert result["ratio_to_copy"] == pytest.approx(result["rows_per_s"] / result["copy_rows_per_s"], abs=0.01)
    elif name == "soak":
        assert (result["clients"], result["errors_5xx"], result["errors_connection"], result["oversold"]) == (4, 0, 0, 0)
        assert (result["ledger_ok"], result["channels_converged"], result["capacity_exceeded"]) == (True, True, 0)
        assert result["requests"] == sum(sum(s.values()) for s in result["statuses"].values()) > 0
        assert set(result["p95_ms"]) == set(result["statuses"]) and result["hot_units_sold_or_reserved"] <= result["hot_units"]
    elif name == "api":
        assert (result["clients"], result["gunicorn_workers"], result["availability_errors"], result["orders_errors"]) == (2, 1, 0, 0)
        assert min(result["baseline_rps"], result["availability_rps"], result["orders_rps"]) > 0
        assert 0 < result["availability_p95_ms"] and 0 < result["orders_p95_ms"] and result["queries_per_order"] > 0
        # the paced phases offered what was asked and their latencies count from when each request was due
        assert (result["availability_offered_rps"], result["orders_offered_rps"], result["paced_connections"]) == (20, 6, 3)
        assert 0 < result["orders_paced_served_rps"] <= 6 * 1.2 and 0 < result["availability_paced_served_rps"] <= 20 * 1.2
        assert 0 < result["orders_paced_p50_ms"] <= result["orders_p95_ms"] <= result["orders_paced_p99_ms"]
        assert result["orders_cpu_ms_per_order"]["total"] > 0 and result["profile_phase_ms"]["intake"] > 0
        # every process that serves an order is charged, the private redis-server too
        assert set(result["orders_cpu_ms_per_order"]) == {"gunicorn", "worker", "postgresql", "redis", "load_generator", "total"}
        assert None not in result["orders_cpu_ms_per_order"].values()  # each process was found
    elif name == "sync":
        assert (result["changes"], result["lost"], result["stale_applied"], result["baseline_lost"]) == (30, 0, 0, 0)
        assert result["updates_received"] > 0 and result["baseline_updates"] > 0 and result["baseline_polls"] >= 2
        assert 0 < result["baseline_p50_ms"] <= result["baseline_p99_ms"]
    elif name == "movements":
        assert result["items"] == 4 and result["batch_items_per_s"] > 0
    elif name == "store":
        assert (result["open_items"], result["requests"]) == (4, 3) and result["p95_ms"] > 0
        assert result["queries"] < result["baseline_queries"]  # the queue reads in one query, the baseline per work
    elif name == "eventwait":
        [one] = result["rounds"]
        assert (result["skus"], one["outbox_rows"]) == (60, 60) and one["events_during"] >= 1
        assert one["drain_round_ms"] > 0 and 0 < one["max_event_ms"] and result["baseline_p50_ms"] <= result["baseline_max_ms"]
    elif name == "dashboard":
        assert (result["days"], result["renders"], result["same_figures"]) == (3, 2, True)
        assert 0 < result["p50_ms"] <= result["p95_ms"] and result["queries"] > 0 and result["kpi_fact_rows"] > 0


@pytest.mark.parametrize(("name", "args"), BENCHES)
def test_bench_runs_in_its_own_scratch_database_and_leaves_the_users_data_alone(name, args, bench_template):
    _user_data()
    before = (_database_state(), _scratch_databases(), _redis_keys())

    lines, result = _bench(name, "--json", *args)

    assert lines[0].startswith(f"scratch database {'postgres://' if connection.vendor == 'postgresql' else 'sqlite:///'}")
    assert f"{scratch.PREFIX}{name}_" in lines[0] or connection.vendor != "postgresql"
    _check_figures(name, result)
    assert set(result) <= _documented_keys(name), "README's Benchmarks section names every key"
    assert (_database_state(), _scratch_databases(), _redis_keys()) == before
    assert not _scratch_databases() and not _scratch_directories()
    assert Channel.objects.get(code="user-web").is_active
    assert StockLevel.objects.get(product__sku="USER-SKU").on_hand == 7


@pytest.mark.postgres
def test_keep_leaves_the_scratch_database_for_inspection(bench_template):
    lines, _ = _bench("routing", "--keep", "--json", "--locations", "3", "--orders", "2", "--skus", "3")
    assert not _scratch_directories()  # only the database is kept
    kept = next(line for line in lines if line.startswith("kept: ")).rsplit("/", 1)[-1]
    try:
        assert kept.startswith(f"{scratch.PREFIX}routing_{os.getpid()}_") and kept in _scratch_databases()
    finally:
        with scratch.pg_admin(connection.settings_dict) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{kept}" WITH (FORCE)')


def test_the_measurement_step_refuses_to_run_outside_its_scratch_database():
    with pytest.raises(CommandError, match="--in-scratch is internal"):
        call_command("bench", "routing", "--in-scratch", stdout=io.StringIO())
