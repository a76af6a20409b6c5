"""``bench reservations``: N concurrent clients reserve one unit at a time from ONE hot SKU at ONE
location until it runs out — through the real service (``inventory.services.reservations_create``:
conditional UPDATE + INSERT in one statement, autocommit), and the same load through a baseline that
does read-check-write under ``SELECT … FOR UPDATE`` in a transaction — the classic ORM version
(``baseline_per_s``, ``ratio``) and the same in raw SQL on the real path's driver
(``baseline_raw_sql_per_s``, ``ratio_vs_raw_sql``). Each client is a separate process with its own
database connection.

The limit, in the same run: the service's own statement (``inventory.services.RESERVE_SQL``) driven
by ``pgbench`` (C, prepared statements, no Python, no Django) at the same concurrency against the
same database (``limit_per_s``, ``ratio_to_limit`` = service / limit). What separates the service
from the limit is Python, Django and the driver around the one statement, and the wake-up of the
sync drain after each commit (one Redis round trip). (The service asks psycopg to prepare its
statement, but Django connects with ``prepare_threshold=None``, so it is parsed and planned per call.)
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from typing import Any, Callable

from django.db import connection, connections, transaction

from omni.benchmarks.measure import load_average

NAME = "reservations"
HELP = "Concurrent single-unit reservations on one hot SKU: the service vs read-check-write baselines and the pgbench limit."
REQUIRES = ("postgresql",)
PGBENCH = shutil.which("pgbench") or "/usr/bin/pgbench"


def add_arguments(parser) -> None:
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (processes)")
    parser.add_argument("--units", type=int, default=4000, help="units on hand of the hot SKU")


def _make_level(units: int, tag: str) -> int:
    from inventory.models import Location, Product, StockLevel
    from inventory.services import stock_receive

    location, _ = Location.objects.get_or_create(code="BENCH-HOT", defaults={"name": "Bench hot location", "kind": "dc"})
    product = Product.objects.create(sku=f"HOT-{tag}", name="Bench hot SKU")
    stock_receive(product=product, location=location, quantity=units, source="bench")
    return StockLevel.objects.get(product=product, location=location).pk


def _fast_client(level_id: int, n: int) -> int:
    """The real service orders and holds call: ``inventory.services.reservations_create``."""
    from inventory.models import StockLevel
    from inventory.services import ReservationRequest, reservations_create
    from omni.errors import InsufficientStock

    level = StockLevel.objects.select_related("product", "location").get(pk=level_id)
    ok = 0
    while True:
        try:
            reservations_create(requests=[ReservationRequest(product=level.product, location=level.location, quantity=1,
                                                             reference=f"bench:{n}:{ok}")])
        except InsufficientStock:
            return ok
        ok += 1


_BASELINE_STEPS = (
    "SELECT on_hand, reserved, product_id, location_id FROM inventory_stocklevel WHERE id = %s FOR UPDATE",
    "UPDATE inventory_stocklevel SET reserved = reserved + 1, updated_at = now() WHERE id = %s",
    "INSERT INTO inventory_reservation (stock_level_id, quantity, reference, status, expires_at, created_at, closed_at) "
    "VALUES (%s, 1, %s, 'open', NULL, now(), NULL)",
    "INSERT INTO inventory_outboxevent (product_id, location_id, reason, created_at, processed_at) "
    "VALUES (%s, %s, 'reservation', now(), NULL)",
)


def _baseline_client(level_id: int, n: int) -> int:
    """The classic Django read-check-write: lock the row with ``select_for_update``, check in Python,
    then update, insert the reservation and the outbox row, commit."""
    from django.db.models import F

    from inventory.models import Reservation, StockLevel
    from inventory.outbox import outbox_record

    ok = 0
    while True:
        with transaction.atomic():
            level = StockLevel.objects.select_for_update().only("on_hand", "reserved", "product_id", "location_id").get(pk=level_id)
            if level.on_hand - level.reserved < 1:
                return ok
            StockLevel.objects.filter(pk=level_id).update(reserved=F("reserved") + 1)
            Reservation.objects.create(stock_level_id=level_id, quantity=1, reference=f"baseline:{n}:{ok}")
            outbox_record(product_ids=[level.product_id], location_id=level.location_id, reason="reservation")
        ok += 1


def _raw_baseline_client(level_id: int, n: int) -> int:
    """The same read-check-write in raw SQL on the same driver path as the real service (a psycopg
    server-side-binding cursor with ``prepare=True``, which Django's ``prepare_threshold=None`` makes
    a no-op for both): what is left of the difference is the extra round trips while the row is locked."""
    import psycopg

    ok = 0
    connection.ensure_connection()
    while True:
        # Same driver path as the real one (a server-side-binding cursor).
        with transaction.atomic(), psycopg.Cursor(connection.connection) as cur:
            cur.execute(_BASELINE_STEPS[0], [level_id], prepare=True)
            row = cur.fetchone()
            assert row is not None, "the stock row exists"
            on_hand, reserved, product_id, location_id = row
            if on_hand - reserved < 1:
                return ok
            cur.execute(_BASELINE_STEPS[1], [level_id], prepare=True)
            cur.execute(_BASELINE_STEPS[2], [level_id, f"baseline:{n}:{ok}"], prepare=True)
            cur.execute(_BASELINE_STEPS[3], [product_id, location_id], prepare=True)
        ok += 1


def _child(kind: str, level_id: int, n: int, barrier: Any, results: Any) -> None:
    connections.close_all()  # never share the parent's socket
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    fn: Callable[[int, int], int] = {"fast": _fast_client, "baseline": _baseline_client, "raw": _raw_baseline_client}[kind]
    barrier.wait()
    start = time.perf_counter()
    count = fn(level_id, n)
    results.put((count, start, time.perf_counter()))
    connection.close()


def _run(kind: str, level_id: int, clients: int) -> tuple[int, float]:
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(clients), ctx.Queue()
    connections.close_all()
    procs = [ctx.Process(target=_child, args=(kind, level_id, n, barrier, results)) for n in range(clients)]
    for p in procs:
        p.start()
    rows = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    succeeded = sum(r[0] for r in rows)
    wall = max(r[2] for r in rows) - min(r[1] for r in rows)
    return succeeded, wall


def pgbench_script(sql: str) -> str:
    """``RESERVE_SQL`` in pgbench's syntax: ``%(name)s`` → ``:name`` (bound as parameters of the
    prepared statement with ``-M prepared``), no expiry (``NULL``), as the service's clients send it."""
    script = sql.replace("%(expires)s", "NULL")
    script = re.sub(r"%\((\w+)\)s", r":\1", script)
    return " ".join(script.split()) + ";\n"


def _pgbench(level_id: int, clients: int, per_client: int, workdir: str) -> tuple[int, float, float]:
    """Run ``RESERVE_SQL`` ``per_client`` times on each of ``clients`` connections. Returns (transactions,
    wall seconds, tps as pgbench reports it, without connection set-up)."""
    from inventory.models import StockLevel
    from inventory.services import RESERVE_SQL

    level = StockLevel.objects.get(pk=level_id)
    path = os.path.join(workdir, "reserve.sql")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(pgbench_script(RESERVE_SQL))
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": str(db.get("PASSWORD") or "")}
    command = [
        PGBENCH, "-n", "-M", "prepared", "-h", str(db.get("HOST") or "127.0.0.1"), "-p", str(db.get("PORT") or 5432),
        "-U", str(db.get("USER") or "postgres"), "-c", str(clients), "-j", str(max(1, min(clients, os.cpu_count() or 1))),
        "-t", str(per_client), "-D", "qty=1", "-D", "floor=0", "-D", f"product={level.product_id}",
        "-D", f"location={level.location_id}", "-D", "ref=pgbench", "-f", path, str(db["NAME"]),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    tps = re.search(r"^tps = ([0-9.]+)", done.stdout, re.M)
    processed = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
    if not tps or not processed:
        raise RuntimeError(f"unexpected pgbench output: {done.stdout[-500:]}")
    return int(processed.group(1)), wall, float(tps.group(1))


def _check(level_id: int) -> tuple[int, int, int]:
    from django.db.models import Sum

    from inventory.models import Reservation, StockLevel

    level = StockLevel.objects.get(pk=level_id)
    open_sum = Reservation.objects.filter(stock_level_id=level_id, status="open").aggregate(s=Sum("quantity"))["s"] or 0
    return level.on_hand, level.reserved, open_sum


ORDER = ("fast", "baseline", "raw", "limit", "limit", "raw", "baseline", "fast")


def run(*, out: Callable[[str], None], clients: int = 32, units: int = 4000, **_: Any) -> dict[str, Any]:
    """ABBA order over four paths (real, ORM baseline, raw-SQL baseline, the pgbench limit, then back;
    half the units each time) so that a change in the machine's load during the run hits every path
    alike."""
    from inventory.services import ledger_check

    load_before = load_average()
    tag = uuid.uuid4().hex[:8]
    halves = (units // 2, units - units // 2)
    totals = {kind: [0, 0.0] for kind in ORDER}
    oversold = 0
    workdir = tempfile.mkdtemp(prefix="omni-bench-reservations-")
    try:
        for i, kind in enumerate(ORDER):
            part = halves[0] if i < len(ORDER) // 2 else halves[1]
            if kind == "limit":
                per_client = max(1, -(-part // clients))
                level_id = _make_level(per_client * clients, f"{tag}-{i}")  # every statement reserves
                ok, wall, tps = _pgbench(level_id, clients, per_client, workdir)
                wall = ok / tps  # pgbench's own clock, without connection set-up (as the clients' barrier)
            else:
                level_id = _make_level(part, f"{tag}-{i}")
                ok, wall = _run(kind, level_id, clients)
            out(f"  phase {i + 1} {kind}: {ok} in {wall:.2f}s = {ok / wall if wall else 0:,.0f}/s")
            totals[kind][0] += ok
            totals[kind][1] += wall
            on_hand, reserved, open_sum = _check(level_id)
            oversold += max(reserved - on_hand, 0) + max(ok - on_hand, 0) + max(open_sum - on_hand, 0)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ledger_ok = ledger_check() == []
    rate = {k: (ok / wall if wall else 0.0) for k, (ok, wall) in totals.items()}
    out(f"real path: {totals['fast'][0]} reservations by {clients} clients in {totals['fast'][1]:.2f}s = {rate['fast']:,.0f}/s")
    out(f"baseline (ORM select_for_update read-check-write): {totals['baseline'][0]} in {totals['baseline'][1]:.2f}s "
        f"= {rate['baseline']:,.0f}/s")
    out(f"baseline in raw SQL on the real path's driver: {totals['raw'][0]} in {totals['raw'][1]:.2f}s = {rate['raw']:,.0f}/s")
    out(f"limit (RESERVE_SQL by pgbench, {clients} connections): {totals['limit'][0]} in {totals['limit'][1]:.2f}s "
        f"= {rate['limit']:,.0f}/s; the service reaches {rate['fast'] / rate['limit'] if rate['limit'] else 0:.2f} of it")
    return {
        "clients": clients, "units": units, "succeeded": totals["fast"][0], "baseline_succeeded": totals["baseline"][0],
        "oversold": oversold, "ledger_ok": ledger_ok, "reservations_per_s": round(rate["fast"], 1),
        "baseline_per_s": round(rate["baseline"], 1),
        "ratio": round(rate["fast"] / rate["baseline"], 2) if rate["baseline"] else None,
        "baseline_raw_sql_per_s": round(rate["raw"], 1),
        "ratio_vs_raw_sql": round(rate["fast"] / rate["raw"], 2) if rate["raw"] else None,
        "limit_per_s": round(rate["limit"], 1),
        "ratio_to_limit": round(rate["fast"] / rate["limit"], 2) if rate["limit"] else None,
        "limit_transactions": totals["limit"][0],
        "load_avg_1m": [load_before, load_average()],
    }
