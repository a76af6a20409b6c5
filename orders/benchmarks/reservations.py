"""``bench reservations``: N concurrent clients reserve one unit at a time from ONE hot SKU at ONE
location until it runs out — through the real service (``inventory.services.reservation_reserve_fast``:
conditional UPDATE + INSERT in one statement, autocommit), and the same load through a baseline that
does read-check-write under ``SELECT … FOR UPDATE`` in a transaction. Each client is a separate
process with its own database connection.

Run it against a separate database, e.g.
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/omni_orders_bench python manage.py bench reservations --json``.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid
from typing import Any, Callable

from django.db import connection, connections, transaction

NAME = "reservations"
HELP = "Concurrent single-unit reservations on one hot SKU: conditional update vs read-check-write baseline."


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
    from inventory.services import reservation_reserve_fast

    ok = 0
    while reservation_reserve_fast(stock_level_id=level_id, quantity=1, reference=f"bench:{n}:{ok}") is not None:
        ok += 1
    return ok


_BASELINE_STEPS = (
    "SELECT on_hand, reserved, product_id, location_id FROM inventory_stocklevel WHERE id = %s FOR UPDATE",
    "UPDATE inventory_stocklevel SET reserved = reserved + 1, updated_at = now() WHERE id = %s",
    "INSERT INTO inventory_reservation (stock_level_id, quantity, reference, status, expires_at, created_at, closed_at) "
    "VALUES (%s, 1, %s, 'open', NULL, now(), NULL)",
    "INSERT INTO inventory_outboxevent (product_id, location_id, reason, created_at, processed_at) "
    "VALUES (%s, %s, 'reservation', now(), NULL)",
)


def _baseline_client(level_id: int, n: int) -> int:
    """Read-check-write: lock the row, check in Python, then write (the classic pattern)."""
    import psycopg

    ok = 0
    connection.ensure_connection()
    while True:
        # Same driver path as the real one (prepared statements on a server-side-binding cursor).
        with transaction.atomic(), psycopg.Cursor(connection.connection) as cur:
            cur.execute(_BASELINE_STEPS[0], [level_id], prepare=True)
            on_hand, reserved, product_id, location_id = cur.fetchone()
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
    fn: Callable[[int, int], int] = _fast_client if kind == "fast" else _baseline_client
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


def _check(level_id: int) -> tuple[int, int, int]:
    from django.db.models import Sum

    from inventory.models import Reservation, StockLevel

    level = StockLevel.objects.get(pk=level_id)
    open_sum = Reservation.objects.filter(stock_level_id=level_id, status="open").aggregate(s=Sum("quantity"))["s"] or 0
    return level.on_hand, level.reserved, open_sum


def run(*, out: Callable[[str], None], clients: int = 32, units: int = 4000, **_: Any) -> dict[str, Any]:
    """ABBA order (real, baseline, baseline, real; half the units each time) so that a change in the
    machine's load during the run hits both paths alike."""
    import os

    from inventory.services import ledger_check

    if connection.vendor != "postgresql":
        out("This benchmark needs PostgreSQL (set DATABASE_URL).")
    load_before = os.getloadavg()[0]
    tag = uuid.uuid4().hex[:8]
    halves = (units // 2, units - units // 2)
    totals = {"fast": [0, 0.0], "baseline": [0, 0.0]}
    oversold = 0
    for i, kind in enumerate(("fast", "baseline", "baseline", "fast")):
        part = halves[0] if i < 2 else halves[1]
        level_id = _make_level(part, f"{tag}-{i}")
        ok, wall = _run(kind, level_id, clients)
        totals[kind][0] += ok
        totals[kind][1] += wall
        on_hand, reserved, open_sum = _check(level_id)
        oversold += max(reserved - on_hand, 0) + max(ok - on_hand, 0) + max(open_sum - on_hand, 0)
    ledger_ok = ledger_check() == []
    (fast_ok, fast_wall), (base_ok, base_wall) = totals["fast"], totals["baseline"]
    fast_rate = fast_ok / fast_wall if fast_wall else 0.0
    base_rate = base_ok / base_wall if base_wall else 0.0
    out(f"real path: {fast_ok} reservations by {clients} clients in {fast_wall:.2f}s = {fast_rate:,.0f}/s")
    out(f"baseline (select_for_update read-check-write): {base_ok} in {base_wall:.2f}s = {base_rate:,.0f}/s")
    return {
        "clients": clients, "units": units, "succeeded": fast_ok, "baseline_succeeded": base_ok, "oversold": oversold,
        "ledger_ok": ledger_ok, "reservations_per_s": round(fast_rate, 1), "baseline_per_s": round(base_rate, 1),
        "ratio": round(fast_rate / base_rate, 2) if base_rate else None,
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
