"""``bench soak``: Omni under a long mixed load — gunicorn on PostgreSQL with a real Celery worker (sync
drain, pushes, the import), ``--clients`` keep-alive clients from this process for ``--seconds``, and a
channel endpoint (the reference receiver of ``tests.harness.receiver``) taking the web channel's
availability pushes.

Each client draws its next operation at random: availability reads, orders (half of them reach for
the last units of a few hot SKUs, a quarter are BOPIS), checkout holds (most released at once),
cancellations of recent orders, store work through the fulfillment API as the stores' system would
do it (start, pick or reject a line as not found or damaged, pack and ship, or ready and hand over),
POS sales and returns; one stock import (CSV delta upload, then its progress polled) runs a third of
the way in. Then the load stops, the sync drains, and the run is judged:

- ``errors_5xx``: answers ≥ 500 (and ``errors_connection``: requests that got no answer);
- ``oversold``: stock rows with a negative bucket or more reserved than on hand, plus hot SKUs whose
  live allocations (reserved or fulfilled) exceed the units they ever had;
- ``ledger_ok``: ``inventory.services.ledger_check()`` finds nothing (every stock row equals its ledger
  and its open reservations, every open reservation has a live owner);
- ``channels_converged``: after the load stops and the sync drains, the receiver's last figure for
  every SKU equals the ATP Omni computes for the channel;
- ``capacity_exceeded``: store-days that took more orders than the store's daily capacity (and
  ``store_days_full``: those that reached it, so that the race for the last slot was run);
- ``p95_ms`` per operation, and the count of each operation's answers by status; the baseline is
  ``GET /health/live`` drawn in the same mix (``baseline_p95_ms``: what the server's queue alone
  costs under this load on this machine).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from collections import defaultdict, deque
from typing import Any

from omni.benchmarks.measure import load_average, percentile

NAME = "soak"
HELP = "A long mixed load (orders racing for hot SKUs, holds, cancels, store work, POS, an import, reads) under gunicorn + a worker."
REQUIRES = ("postgresql", "redis-server")

# operation → weight of the draw
MIX = {"availability": 30, "order": 22, "hold": 8, "cancel": 5, "work": 20, "pos": 15, "health": 3}
SECRET = "soak-secret"


def add_arguments(parser) -> None:
    parser.add_argument("--seconds", type=float, default=180.0, help="how long the load runs (default 180)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (0: omni/gunicorn.py's, cores + 1)")
    parser.add_argument("--skus", type=int, default=60, help="ordinary SKUs (default 60)")
    parser.add_argument("--hot-skus", type=int, default=6, help="SKUs with only a few units, raced for (default 6)")
    parser.add_argument("--stores", type=int, default=6, help="stores (default 6)")
    parser.add_argument("--capacity", type=int, default=8, help="each store's daily order capacity (default 8: stores fill up)")
    parser.add_argument("--seed", type=int, default=11)


class _Shared:
    """What the clients share: recent orders (to cancel), the figures, and each answer's latency."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.orders: deque[int] = deque(maxlen=500)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))

    def record(self, op: str, status: int, ms: float) -> None:
        with self.lock:
            self.latency[op].append(ms)
            self.statuses[op][status] += 1


class _Client:
    """One keep-alive connection; every call is timed and recorded under its operation's name."""

    def __init__(self, port: int, shared: _Shared) -> None:
        self.port, self.shared = port, shared
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, op: str, method: str, path: str, *, key: str, body: Any = None, raw: bytes | None = None,
             content_type: str = "application/json", idem: bool = False) -> tuple[int, Any]:
        headers = {"Authorization": f"Token {key}"}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        if idem:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        began = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            res = self.conn.getresponse()
            payload = res.read()
            status = res.status
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            status, payload = 0, b""
        self.shared.record(op, status, (time.perf_counter() - began) * 1000)
        try:
            parsed = json.loads(payload) if payload and status and status != 204 else None
        except ValueError:
            parsed = None
        return status, parsed


class _Plan:
    """The world the load acts on (codes and keys only: the clients speak HTTP)."""

    def __init__(self, *, web_key: str, fulfil_key: str, pos_key: str, skus: list[str], hot: list[str], stores: list[str]) -> None:
        self.web_key, self.fulfil_key, self.pos_key = web_key, fulfil_key, pos_key
        self.skus, self.hot, self.stores = skus, hot, stores


def _order(client: _Client, plan: _Plan, rng: random.Random, shared: _Shared) -> None:
    lines = [{"sku": rng.choice(plan.hot if rng.random() < 0.5 else plan.skus), "quantity": 1}]
    if rng.random() < 0.3:
        extra = rng.choice(plan.skus)
        if extra != lines[0]["sku"]:
            lines.append({"sku": extra, "quantity": rng.choice((1, 2))})
    body: dict[str, Any] = {"external_id": uuid.uuid4().hex, "latitude": 38 + rng.random() * 4, "longitude": 27 + rng.random() * 8,
                            "lines": lines}
    if rng.random() < 0.25:
        body.update(delivery_mode="bopis", pickup_location=rng.choice(plan.stores))
    status, answer = client.call("order", "POST", "/api/v1/orders", key=plan.web_key, body=body, idem=True)
    if status == 201 and answer:
        with shared.lock:
            shared.orders.append(answer["id"])


def _hold(client: _Client, plan: _Plan, rng: random.Random, shared: _Shared) -> None:
    body = {"lines": [{"sku": rng.choice(plan.hot if rng.random() < 0.3 else plan.skus), "quantity": 1}], "ttl_seconds": 60}
    status, answer = client.call("hold", "POST", "/api/v1/holds", key=plan.web_key, body=body)
    if status == 201 and answer and rng.random() < 0.8:
        client.call("hold_release", "DELETE", f"/api/v1/holds/{answer['id']}", key=plan.web_key)


def _cancel(client: _Client, plan: _Plan, rng: random.Random, shared: _Shared) -> None:
    with shared.lock:
        if not shared.orders:
            return
        order_id = shared.orders[rng.randrange(len(shared.orders))]
    client.call("cancel", "POST", f"/api/v1/orders/{order_id}/cancel", key=plan.web_key, body={"reason": "soak"}, idem=True)


def _work(client: _Client, plan: _Plan, rng: random.Random, shared: _Shared) -> None:
    """A store takes one new work item and takes it as far as it goes."""
    key = plan.fulfil_key
    status, page = client.call("works_list", "GET", "/api/v1/fulfillment/works?status=new&page_size=50",
                               key=key)
    if status != 200 or not page or not page.get("results"):
        return
    work_id = rng.choice(page["results"])["id"]
    status, work = client.call("start", "POST", f"/api/v1/fulfillment/works/{work_id}/start", key=key, body={}, idem=True)
    if status != 200 or not work:
        return  # another store client took it first (409), or it was cancelled meanwhile
    for line in work["lines"]:
        if not line["open"]:
            continue
        if rng.random() < 0.08:
            reason = rng.choice(("not_found", "damaged"))
            status, work = client.call("reject", "POST", f"/api/v1/fulfillment/works/{work_id}/reject", key=key, idem=True,
                                       body={"lines": [{"line": line["id"], "quantity": line["open"], "reason": reason}]})
        else:
            status, work = client.call("pick", "POST", f"/api/v1/fulfillment/works/{work_id}/pick", key=key, idem=True,
                                       body={"line": line["id"], "quantity": line["open"]})
        if status != 200 or not work:
            return
    if work["status"] != "picked":
        return
    if work["pickup_location"] and work["kind"] == "bopis":
        status, work = client.call("ready", "POST", f"/api/v1/fulfillment/works/{work_id}/ready", key=key, body={}, idem=True)
        if status == 200:
            client.call("hand_over", "POST", f"/api/v1/fulfillment/works/{work_id}/hand-over", key=key, idem=True,
                        body={"collector_name": "Soak Customer", "id_kind": "id_card", "id_last_digits": "1234"})
        return
    status, _ = client.call("pack", "POST", f"/api/v1/fulfillment/works/{work_id}/pack", key=key, body={"box_type": "M"}, idem=True)
    if status == 200:
        client.call("ship", "POST", f"/api/v1/fulfillment/works/{work_id}/ship", key=key, idem=True,
                    body={"tracking_number": f"T{work_id}", "carrier": "soak"})


def _pos(client: _Client, plan: _Plan, rng: random.Random, shared: _Shared) -> None:
    kind = "sale" if rng.random() < 0.7 else "return"
    movement = {"external_id": uuid.uuid4().hex, "kind": kind, "sku": rng.choice(plan.skus), "location": rng.choice(plan.stores),
                "quantity": 1}
    client.call("pos", "POST", "/api/v1/stock-movements", key=plan.pos_key, body={"movements": [movement]})


def _availability(client: _Client, plan: _Plan, rng: random.Random, shared: _Shared) -> None:
    skus = ",".join(rng.sample(plan.hot + plan.skus, 3))
    client.call("availability", "GET", f"/api/v1/availability?sku={skus}", key=plan.web_key)


def _health(client: _Client, plan: _Plan, rng: random.Random, shared: _Shared) -> None:
    """The baseline under the same load: the HTTP stack and Django with no database (the queueing the
    server adds to every operation on this machine)."""
    client.call("health", "GET", "/health/live", key=plan.web_key)


OPERATIONS = {"health": _health, "availability": _availability, "order": _order, "hold": _hold, "cancel": _cancel, "work": _work,
              "pos": _pos}


def _import(port: int, plan: _Plan, shared: _Shared, rng: random.Random, deadline: float) -> dict[str, Any]:
    """One CSV delta import through the API (multipart), then its progress until it is done."""
    client = _Client(port, shared)
    rows = "".join(f"{sku},{rng.choice(plan.stores)},{rng.randint(1, 5)},soak\n" for sku in rng.sample(plan.skus, min(20, len(plan.skus))))
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="mode"\r\n\r\ndelta\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="apply_valid"\r\n\r\ntrue\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nsoak\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="soak.csv"\r\nContent-Type: text/csv\r\n\r\n'
        f"sku,location,quantity,note\n{rows}\r\n",
        f"--{boundary}--\r\n",
    ]
    status, job = client.call("import", "POST", "/api/v1/imports/stock", key=plan.web_key, raw="".join(parts).encode(),
                              content_type=f"multipart/form-data; boundary={boundary}")
    if status != 202 or not job:
        return {"status": f"upload answered {status}"}
    while time.monotonic() < deadline + 120:
        status, job = client.call("import_progress", "GET", f"/api/v1/imports/stock/{job['id']}", key=plan.web_key)
        if status == 200 and job and job.get("status") in ("done", "failed", "cancelled"):
            return {"status": job["status"]}
        time.sleep(1)
    return {"status": "unfinished"}


def _setup(*, skus: int, hot_skus: int, stores: int, capacity: int, url: str) -> tuple[_Plan, list[int], dict[str, int]]:
    from allocation.models import Channel, ChannelSync, ChannelVisibility, SyncMode
    from inventory import services as stock
    from inventory.models import Location, Product
    from omni.access.models import Scope
    from omni.access.services import partner_token_issue

    rng = random.Random(5)
    dc = Location.objects.create(code="SK-DC", name="Soak DC", kind="dc", latitude=40.8, longitude=29.4, can_ship=True, can_pickup=False)
    shops = [Location.objects.create(code=f"SK-ST{i:02d}", name=f"Soak store {i}", kind="store", latitude=37 + rng.random() * 4,
                                     longitude=27 + rng.random() * 9, can_ship=True, can_pickup=True, daily_capacity=capacity,
                                     timezone="Europe/Istanbul") for i in range(stores)]
    web = Channel.objects.create(code="soak-web", name="Soak web", kind="webshop", sync_mode=SyncMode.REALTIME, sync_window_seconds=0)
    pos = Channel.objects.create(code="soak-pos", name="Soak POS", kind="pos")
    ChannelVisibility.objects.bulk_create([ChannelVisibility(channel=web, location=loc) for loc in [dc, *shops]]
                                          + [ChannelVisibility(channel=pos, location=loc) for loc in shops])
    ChannelSync.objects.create(channel=web, url=url, secret=SECRET, max_attempts=50)
    ordinary = [Product.objects.create(sku=f"SK-{i:04d}", name=f"soak {i}") for i in range(skus)]
    hot = [Product.objects.create(sku=f"SK-HOT-{i:02d}", name=f"soak hot {i}", velocity_class="A") for i in range(hot_skus)]
    for product in ordinary:
        stock.stock_receive(product=product, location=dc, quantity=5000, source="soak")
        for shop in shops:
            stock.stock_receive(product=product, location=shop, quantity=40, source="soak")
    hot_units: dict[str, int] = {}
    for product in hot:  # a few units at two stores: the last units everyone races for
        for shop in rng.sample(shops, min(2, len(shops))):
            stock.stock_receive(product=product, location=shop, quantity=3, source="soak")
            hot_units[product.sku] = hot_units.get(product.sku, 0) + 3
    _t, web_key = partner_token_issue(channel=web, name="soak web shop", scopes=Scope.values)
    _t, fulfil_key = partner_token_issue(channel=web, name="soak stores", scopes=[Scope.FULFILLMENT_WRITE], locations=[dc, *shops])
    _t, pos_key = partner_token_issue(channel=pos, name="soak POS", scopes=[Scope.STOCK_READ, Scope.STOCK_WRITE], locations=shops)
    plan = _Plan(web_key=web_key, fulfil_key=fulfil_key, pos_key=pos_key, skus=[p.sku for p in ordinary], hot=[p.sku for p in hot],
                 stores=[s.code for s in shops])
    return plan, [p.pk for p in [*ordinary, *hot]], hot_units


def _judge(*, hot_units: dict[str, int]) -> dict[str, Any]:
    from django.db.models import F, Q, Sum

    from inventory.models import Location, LocationDayLoad, StockLevel
    from inventory.services import ledger_check
    from orders.models import Allocation, AllocationStatus

    bad_rows = StockLevel.objects.filter(Q(on_hand__lt=0) | Q(reserved__lt=0) | Q(reserved__gt=F("on_hand"))).count()
    live: dict[str, int] = {
        row["line__product__sku"]: row["units"] for row in
        Allocation.objects.filter(line__product__sku__in=list(hot_units),
                                  status__in=[AllocationStatus.RESERVED, AllocationStatus.FULFILLED])
        .values("line__product__sku").annotate(units=Sum("quantity"))}
    over_hot = sum(1 for sku, units in live.items() if units > hot_units[sku])
    capacity: dict[int, int] = {loc: cap for loc, cap in Location.objects.values_list("id", "daily_capacity") if cap is not None}
    loads = [(orders, capacity[loc]) for loc, orders in LocationDayLoad.objects.values_list("location_id", "orders") if loc in capacity]
    exceeded = sum(1 for orders, cap in loads if orders > cap)
    full = sum(1 for orders, cap in loads if orders == cap)
    discrepancies = ledger_check()
    return {"oversold": bad_rows + over_hot, "ledger_ok": not discrepancies, "ledger_discrepancies": len(discrepancies),
            "capacity_exceeded": exceeded, "store_days_full": full, "hot_units_sold_or_reserved": sum(live.values()),
            "hot_units": sum(hot_units.values())}


def _use_broker(app, *, eager: bool, url: str) -> None:
    app._pool = None
    app.conf.task_always_eager = eager
    app.conf.broker_url = url


def run(*, out, seconds: float = 180.0, clients: int = 64, workers: int = 0, skus: int = 60, hot_skus: int = 6, stores: int = 6,
        capacity: int = 8, seed: int = 11, **_: Any) -> dict:
    from django.conf import settings
    from django.db import connection

    from allocation.models import Channel, MessageStatus, SyncMessage
    from allocation.selectors import atp_for_channel
    from allocation.sync.drain import sync_outbox_drain
    from allocation.sync.push import sync_channel_push
    from inventory.models import Product
    from inventory.outbox import outbox_pending_exists
    from omni.celery import app
    from tests.harness.processes import ServedOmni, wait_for
    from tests.harness.receiver import Receiver

    if not settings.REDIS_URL:
        raise SystemExit("bench soak needs a broker: run it through `manage.py bench soak` (it starts a private redis-server)")
    load_before = load_average()
    receiver = Receiver(secret=SECRET)
    url = receiver.start()
    _use_broker(app, eager=True, url=settings.REDIS_URL)  # set-up commits wake nobody
    out(f"setting up {skus} SKUs and {hot_skus} hot SKUs at a DC and {stores} stores (capacity {capacity}/day); receiver {url}")
    plan, product_ids, hot_units = _setup(skus=skus, hot_skus=hot_skus, stores=stores, capacity=capacity, url=url)
    web = Channel.objects.get(code="soak-web")
    sync_outbox_drain()
    sync_channel_push(channel_id=web.pk)
    out(f"the receiver starts with {len(receiver.available)} SKUs' figures")

    served = ServedOmni(workers=workers, broker_url=settings.REDIS_URL, prefix="omni-bench-soak-", request_timeout=120,
                        worker_env={"OMNI_SYNC_SWEEP_SECONDS": "10"})
    port, workers = served.port, served.workers
    shared = _Shared()
    imported: dict[str, Any] = {}
    try:
        served.start()
        _use_broker(app, eager=False, url=settings.REDIS_URL)
        out(f"gunicorn: {workers} workers × {served.threads} threads (gthread, omni/gunicorn.py) on 127.0.0.1:{port}; "
            f"a real Celery worker; {clients} clients for {seconds:g} s")
        names, weights = list(MIX), list(MIX.values())
        began = time.monotonic()
        deadline = began + seconds

        def client_loop(n: int) -> None:
            rng = random.Random(seed * 1000 + n)
            client = _Client(port, shared)
            while time.monotonic() < deadline:
                OPERATIONS[rng.choices(names, weights)[0]](client, plan, rng, shared)
            client.conn.close()

        def import_loop() -> None:
            time.sleep(seconds / 3)
            imported.update(_import(port, plan, shared, random.Random(seed), deadline))

        threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
        threads.append(threading.Thread(target=import_loop))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began
        total = sum(sum(s.values()) for s in shared.statuses.values())
        out(f"load done: {total} requests in {elapsed:.0f} s; import {imported.get('status')}; waiting for the sync to drain")

        def converged() -> bool:
            if outbox_pending_exists() or SyncMessage.objects.filter(channel=web, status=MessageStatus.PENDING).exists():
                return False
            figures = atp_for_channel(channel=web, product_ids=product_ids)
            skus = dict(Product.objects.filter(pk__in=product_ids).values_list("pk", "sku"))
            with receiver.lock:
                return all(receiver.available.get(skus[pid]) == figure for pid, figure in figures.items())

        drain_began = time.monotonic()
        try:
            wait_for(converged, timeout=180, interval=0.5, what="the channel to converge")
            is_converged = True
        except TimeoutError:
            is_converged = False
            out("warning: the channel did not converge within 180 s")
        drain_seconds = time.monotonic() - drain_began
    finally:
        served.stop()
        receiver.stop()
        _use_broker(app, eager=True, url=settings.REDIS_URL)
        connection.close()
    verdict = _judge(hot_units=hot_units)
    statuses = {op: dict(sorted(s.items())) for op, s in sorted(shared.statuses.items())}
    errors_5xx = sum(n for s in shared.statuses.values() for code, n in s.items() if code >= 500)
    errors_connection = sum(s.get(0, 0) for s in shared.statuses.values())
    p95 = {op: round(percentile(lat, 0.95), 1) for op, lat in sorted(shared.latency.items())}
    for op in sorted(statuses):
        out(f"  {op:<16} p95 {p95[op]:>8} ms  {statuses[op]}")
    out(f"oversold {verdict['oversold']}, ledger ok {verdict['ledger_ok']}, converged {is_converged} "
        f"(drained in {drain_seconds:.1f} s), capacity exceeded {verdict['capacity_exceeded']} "
        f"({verdict['store_days_full']} store-days full)")
    return {
        "clients": clients, "seconds": round(elapsed, 1), "gunicorn_workers": workers,
        "requests": total, "rps": round(total / elapsed, 1) if elapsed else 0.0,
        "errors_5xx": errors_5xx, "errors_connection": errors_connection,
        "import": imported.get("status", "not run"), "drain_seconds": round(drain_seconds, 1),
        "statuses": statuses, "load_avg_1m": [load_before, load_average()],
        **verdict, "channels_converged": is_converged, "baseline_p95_ms": p95.get("health", 0.0), "p95_ms": p95,
    }
