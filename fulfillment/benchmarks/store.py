"""``bench store``: server time of the store app's queue and pick pages with N open work items.

A store with ``--open`` open work items (placed as real orders, so routing, reservations and
materialisation made them; a third of them half picked), a signed-in associate, and Django's test
client calling the views in-process: the time measured is the server's (middleware, view, queries,
template), no network, no browser. The baseline in the same run renders the same queue page with
the naive read (the works, then one query per work for its order and one for its lines), the way
a page that loops over model instances reads.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable

from omni.benchmarks.measure import load_average, percentile

NAME = "store"
HELP = "Queue and pick page server time (p95) with 200 open work items at one store, against a per-item query baseline."


def add_arguments(parser) -> None:
    parser.add_argument("--open", type=int, default=200, help="open work items at the store")
    parser.add_argument("--requests", type=int, default=60, help="requests per page measured")
    parser.add_argument("--seed", type=int, default=7)


def _setup(open_items: int, seed: int):
    """A store, a warehouse far away, 30 SKUs in stock, ``open_items`` orders routed to the store."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from allocation.models import Channel, ChannelVisibility
    from fulfillment.models import Work
    from fulfillment.services import pick
    from inventory.models import Location, Product
    from inventory.services import stock_receive
    from omni.access.models import StaffAssignment
    from orders.models import DeliveryMode
    from orders.services import LineInput, OrderInput, order_create

    rng = random.Random(seed)
    store = Location.objects.create(code="BS-STORE", name="Bench store", kind="store", latitude=41.0, longitude=29.0,
                                    can_pickup=True, can_ship=True)
    channel = Channel.objects.create(code="bench-store", name="Bench web", kind="webshop")
    ChannelVisibility.objects.create(channel=channel, location=store)
    products = [Product.objects.create(sku=f"BS-{i:03d}-{rng.choice(['S', 'M', 'L', 'XL'])}", name=f"Bench item {i}",
                                       barcode=f"869{i:010d}") for i in range(30)]
    for p in products:
        stock_receive(product=p, location=store, quantity=10 * open_items, source="bench")
    user = get_user_model().objects.create_user(username="bench.associate", password="x")
    StaffAssignment.objects.create(user=user, location=store)
    for n in range(open_items):
        lines = [LineInput(sku=p.sku, quantity=rng.randint(1, 3), unit_price=Decimal("10.00"))
                 for p in rng.sample(products, rng.randint(1, 4))]
        bopis = n % 3 == 0
        order_create(channel=channel, data=OrderInput(
            external_id=f"BS-{n:05d}", lines=lines, latitude=41.0, longitude=29.0,
            delivery_mode=DeliveryMode.BOPIS if bopis else DeliveryMode.STANDARD,
            pickup_location=store.code if bopis else ""))
    works = list(Work.objects.filter(location=store).order_by("pk"))
    for w in works[::3]:
        line = w.lines.order_by("pk").first()
        assert line is not None
        pick(work=w, line=line, qty=1, actor="bench")
    return store, user, works


def _naive_queue_rows(*, location, statuses=None):
    """Baseline read: the same rows, read per item (the works, then each one's order and lines)."""
    from fulfillment.models import OPEN_STATUSES, Work
    from fulfillment.selectors import QueueRow

    location_id = getattr(location, "pk", location)
    wanted = sorted(OPEN_STATUSES if statuses is None else set(statuses))
    rows = []
    for w in Work.objects.filter(location_id=location_id, status__in=wanted).order_by("deadline", "pk"):
        lines = list(w.lines.all())
        rows.append(QueueRow(pk=w.pk, order_number=w.order.external_id, kind=w.kind, status=w.status, deadline=w.deadline,
                             picked=sum(min(ln.picked, ln.wanted) for ln in lines), wanted=sum(ln.wanted for ln in lines)))
    return rows


def _measure(client, urls: list[str], requests: int) -> tuple[list[float], int]:
    from django.db import connection

    for url in urls[:3]:  # warm up
        assert client.get(url).status_code == 200
    seen = [0]

    def count(execute, sql, params, many, context):
        seen[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):  # every statement of one request, session and auth included
        response = client.get(urls[0])
    assert response.status_code == 200, response.status_code
    timings = []
    for i in range(requests):
        t0 = time.perf_counter()
        response = client.get(urls[i % len(urls)])
        timings.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    return timings, seen[0]


def run(*, out: Callable[[str], None], open: int = 200, requests: int = 60, seed: int = 7, **_: Any) -> dict[str, Any]:
    from django.test import Client

    from fulfillment.models import OPEN_STATUSES, Work
    from fulfillment.store.views import queue as queue_views

    load_before = load_average()
    store, user, works = _setup(open, seed)
    open_items = Work.objects.filter(location=store, status__in=sorted(OPEN_STATUSES)).count()
    client = Client()
    client.force_login(user)
    queue_url = [f"/s/{store.code}/?show=all"]
    pick_urls = [f"/s/{store.code}/w/{w.pk}/" for w in works[:: max(len(works) // 20, 1)]]
    queue_t, queue_q = _measure(client, queue_url, requests)
    pick_t, pick_q = _measure(client, pick_urls, requests)
    real = queue_views.queue_rows
    queue_views.queue_rows = _naive_queue_rows
    try:
        base_t, base_q = _measure(client, queue_url, requests)
    finally:
        queue_views.queue_rows = real
    q95, p95, b95 = percentile(queue_t, 0.95), percentile(pick_t, 0.95), percentile(base_t, 0.95)
    out(f"{open_items} open work items: queue p95 {q95:.1f} ms ({queue_q} queries), pick p95 {p95:.1f} ms "
        f"({pick_q} queries); baseline queue (per-item queries) p95 {b95:.1f} ms ({base_q} queries)")
    return {
        "open_items": open_items, "p95_ms": round(max(q95, p95), 2), "queries": max(queue_q, pick_q),
        "queue_p50_ms": round(percentile(queue_t, 0.5), 2), "queue_p95_ms": round(q95, 2), "queue_queries": queue_q,
        "pick_p50_ms": round(percentile(pick_t, 0.5), 2), "pick_p95_ms": round(p95, 2), "pick_queries": pick_q,
        "baseline_p95_ms": round(b95, 2), "baseline_queries": base_q, "ratio_p95": round(b95 / q95, 2) if q95 else None,
        "requests": requests, "goal_p95_ms": 150, "load_avg_1m": [load_before, load_average()],
    }
