"""``bench api``: Omni over HTTP — gunicorn as ``omni/gunicorn.py`` runs it in production (threaded
workers sized to the machine, keep-alive) on PostgreSQL with a real Celery worker, load from this
process (a separate process from the server) on loopback.

Phases of ``--seconds`` each: the baseline (``GET /health/live``: the HTTP stack and Django with
no database, the ceiling of this server on this machine), availability reads (``GET
/api/v1/availability?sku=…`` as a partner token) and order intake (``POST /api/v1/orders``, one or
two lines, a fresh Idempotency-Key each). Then the order path is profiled in-process: queries per
order and the time of each phase (validation, the channel ATP check, routing, reserving, the answer).

Reads and orders are each measured twice, because a throughput and a latency answer two questions:

- **How many a second at most** (``availability_rps``, ``orders_rps``): ``--clients`` closed-loop
  keep-alive clients, each sending its next request as soon as the previous one is answered, so the
  server is never idle. Their latency (``*_saturated_p95_ms``) is the queue those clients make, not
  the server's: by Little's law 16 clients at 120 orders/s wait 133 ms on average however fast each
  order is served, and twice the clients would double it. It is reported, not judged.
- **How fast at the goal's rate** (``availability_p95_ms``, ``orders_p95_ms``): requests *arrive*
  at ``--availability-rate`` / ``--orders-rate`` a second (the issue's goals, 500 and 150), evenly
  spaced, whatever the server does (an open loop over ``--paced-connections`` keep-alive
  connections, as wrk2 measures), and each latency counts from when the request was due, not from
  when a free connection sent it: a server that falls behind is charged for the queue it makes
  (no "coordinated omission"). ``*_paced_served_rps`` says how many it answered a second.
"""

from __future__ import annotations

import cProfile
import http.client
import json
import os
import pstats
import random
import threading
import time
from typing import Any

from omni.benchmarks.measure import load_average, percentile

NAME = "api"
HELP = "HTTP throughput and p95 of availability reads and order intake under gunicorn + PostgreSQL + a real worker."
REQUIRES = ("postgresql", "redis-server")

# Functions whose cumulative time is each phase of an order (cProfile names: file suffix, function).
# ``idempotency`` contains ``intake`` (order_create), which contains the phases from ``validate``
# to ``materialize``; ``auth`` and ``throttle`` run before it, in DRF's ``initial``.
PHASES = {
    "auth": ("omni/access/auth.py", "authenticate"),
    "throttle": ("omni/access/throttling.py", "allow_request"),
    "parse": ("orders/api/views.py", "_parse"),
    "intake": ("orders/services/intake.py", "order_create"),
    "materialize": ("fulfillment/services/materialize.py", "materialize"),
    "validate": ("orders/services/validation.py", "order_validate"),
    "channel_atp": ("allocation/availability/atp.py", "atp_for_channel"),
    "route": ("orders/routing/engine.py", "route"),
    "reserve": ("orders/services/allocating.py", "allocations_reserve"),
    "idempotency": ("orders/services/idempotency.py", "idempotent_call"),
    "answer": ("orders/api/views.py", "_order_out"),
}


def add_arguments(parser) -> None:
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (0: omni/gunicorn.py's, cores + 1)")
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--profile-orders", type=int, default=30)
    parser.add_argument("--availability-rate", type=float, default=500.0,
                        help="reads a second offered in the paced phase (the goal: p95 < 100 ms at 500/s)")
    parser.add_argument("--orders-rate", type=float, default=150.0,
                        help="orders a second offered in the paced phase (the goal: p95 < 100 ms at 150/s)")
    parser.add_argument("--paced-connections", type=int, default=64,
                        help="keep-alive connections the paced phases send from (enough that none waits for one)")


def _setup(skus: int, stores: int) -> tuple[str, list[str]]:
    from allocation.models import Channel, ChannelVisibility
    from inventory.models import Location, MovementReason, Product, StockLevel, StockMovement
    from omni.access.models import Scope
    from omni.access.services import partner_token_issue

    rng = random.Random(7)
    channel = Channel.objects.create(code="bench-api", name="Bench web", kind="webshop")
    locations = [Location.objects.create(code="BA-DC", name="Bench DC", kind="dc", latitude=40.8, longitude=29.4, can_ship=True)]
    for i in range(stores):
        locations.append(Location.objects.create(
            code=f"BA-ST{i:02d}", name=f"Bench store {i}", kind="store", latitude=36 + rng.random() * 6,
            longitude=27 + rng.random() * 16, can_ship=True, daily_capacity=100_000, timezone="Europe/Istanbul"))
    ChannelVisibility.objects.bulk_create([ChannelVisibility(channel=channel, location=loc) for loc in locations])
    products = Product.objects.bulk_create([Product(sku=f"BA-{i:05d}", name=f"bench {i}") for i in range(skus)])
    levels = StockLevel.objects.bulk_create([
        StockLevel(product=p, location=loc, on_hand=100_000 if loc.kind == "dc" else 500) for p in products for loc in locations])
    StockMovement.objects.bulk_create([
        StockMovement(stock_level=lv, bucket="on_hand", reason=MovementReason.RECEIPT, quantity=lv.on_hand, balance_after=lv.on_hand,
                      source="bench") for lv in levels])
    _token, key = partner_token_issue(channel=channel, name="bench", scopes=Scope.values)
    return key, [p.sku for p in products]


def _exchange(conn: http.client.HTTPConnection, port: int, call: tuple) -> tuple[http.client.HTTPConnection, int]:
    """One request on a keep-alive connection: the connection to go on with and the answer's status
    (0 when the connection broke; a new one replaces it)."""
    method, path, body, headers = call
    try:
        conn.request(method, path, body=body, headers=headers)
        res = conn.getresponse()
        res.read()
        return conn, res.status
    except (OSError, http.client.HTTPException):
        conn.close()
        return http.client.HTTPConnection("127.0.0.1", port, timeout=30), 0


class _Load:
    """``clients`` threads, each with its own keep-alive connection, for ``seconds``."""

    def __init__(self, *, port: int, clients: int, seconds: float, request) -> None:
        self.port, self.clients, self.seconds, self.request = port, clients, seconds, request
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.lock = threading.Lock()

    def _client(self, n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        rng = random.Random(n)
        lat: list[float] = []
        statuses: dict[int, int] = {}
        end = time.monotonic() + self.seconds
        i = 0
        while time.monotonic() < end:
            call = self.request(rng, n, i)
            i += 1
            began = time.perf_counter()
            conn, status = _exchange(conn, self.port, call)
            lat.append((time.perf_counter() - began) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
        conn.close()
        with self.lock:
            self.latencies.extend(lat)
            for k, v in statuses.items():
                self.statuses[k] = self.statuses.get(k, 0) + v

    def run(self) -> dict[str, Any]:
        threads = [threading.Thread(target=self._client, args=(n,)) for n in range(self.clients)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began
        ok = sum(v for k, v in self.statuses.items() if 200 <= k < 300)
        return {"rps": round(ok / elapsed, 1), "p50_ms": round(percentile(self.latencies, 0.5), 1),
                "p95_ms": round(percentile(self.latencies, 0.95), 1), "requests": len(self.latencies), "ok": ok,
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())}}


class _Paced:
    """An open loop: request ``i`` is due at ``start + i / rate`` for ``seconds``, sent by whichever
    of ``connections`` threads is free (each with its own keep-alive connection), and its latency
    counts from when it was due. When every connection is busy the next request goes out late and
    its wait is part of its latency, as a user arriving at that moment would see it. A server so far
    behind that the phase would last more than twice its time (and 5 s) is not waited for: what is
    not sent by then counts as unanswered (status 0), with its wait so far as its latency."""

    def __init__(self, *, port: int, rate: float, seconds: float, connections: int, request) -> None:
        self.port, self.rate, self.seconds, self.request = port, rate, seconds, request
        self.total = max(int(rate * seconds), 1)
        self.connections = max(min(connections, self.total), 1)
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.lock = threading.Lock()
        self.next_index = 0
        self.start = 0.0
        self.last_done = 0.0

    def _take(self) -> int | None:
        with self.lock:
            if self.next_index >= self.total:
                return None
            now = time.perf_counter()
            if now > self.start + 2 * self.seconds + 5:
                # far behind: stop sending; each request not sent yet counts as waiting until now (a
                # lower bound of what it would have waited) and as not answered
                waits = [(now - (self.start + i / self.rate)) * 1000 for i in range(self.next_index, self.total)]
                self.latencies.extend(waits)
                self.statuses[0] = self.statuses.get(0, 0) + len(waits)
                self.next_index = self.total
                return None
            self.next_index += 1
            return self.next_index - 1

    def _client(self, n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        rng = random.Random(n)
        lat: list[float] = []
        statuses: dict[int, int] = {}
        while (i := self._take()) is not None:
            due = self.start + i / self.rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            conn, status = _exchange(conn, self.port, self.request(rng, n, i))
            done = time.perf_counter()
            lat.append((done - due) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
        conn.close()
        with self.lock:
            self.latencies.extend(lat)
            self.last_done = max(self.last_done, time.perf_counter())
            for k, v in statuses.items():
                self.statuses[k] = self.statuses.get(k, 0) + v

    def run(self) -> dict[str, Any]:
        threads = [threading.Thread(target=self._client, args=(n,)) for n in range(self.connections)]
        self.start = time.perf_counter() + 0.2  # every thread is up before the first request is due
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = self.last_done - self.start
        ok = sum(v for k, v in self.statuses.items() if 200 <= k < 300)
        return {"offered_rps": self.rate, "served_rps": round(ok / elapsed, 1) if elapsed > 0 else 0.0,
                "p50_ms": round(percentile(self.latencies, 0.5), 1), "p95_ms": round(percentile(self.latencies, 0.95), 1),
                "p99_ms": round(percentile(self.latencies, 0.99), 1), "requests": len(self.latencies), "ok": ok,
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())}}


def _proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process (all its threads) so far, from ``/proc/<pid>/stat``."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _redis_server_pids(url: str) -> list[int]:
    """The private redis-server the bench started (``--port`` of the broker's URL), found by its command line."""
    from urllib.parse import urlsplit

    port = str(urlsplit(url).port or 6379)
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            # started as ``redis-server --port N …``; it retitles itself ``redis-server 127.0.0.1:N``
            if argv and b"redis-server" in argv[0] and (port.encode() in argv or argv[0].endswith(f":{port}".encode())):
                pids.append(int(entry))
    return pids


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:  # field 5 of stat: the process group
                pids.append(int(entry))
    return pids


class _CpuByProcess:
    """CPU spent during a phase by each process that serves it: gunicorn (master and workers, its
    process group), the Celery worker (with its embedded beat), the PostgreSQL backends connected
    to this database, the bench's private redis-server (broker, cache, throttle counters), and this
    load generator. Per-process deltas of ``/proc/<pid>/stat``; a
    backend that connects and exits inside the phase is missed (Django keeps them for
    ``CONN_MAX_AGE``). Linux only: on other systems nothing is reported."""

    def __init__(self, served) -> None:
        self.served = served
        self.before: dict[str, dict[int, float]] = {}
        self.load_before = 0.0

    def _pids(self) -> dict[str, list[int]]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            backends = [row[0] for row in cursor.fetchall()]
        assert self.served.server is not None and self.served.worker.process is not None, "started"
        from django.conf import settings

        return {"gunicorn": _group_pids(self.served.server.pid), "worker": _group_pids(self.served.worker.process.pid),
                "postgresql": backends, "redis": _redis_server_pids(settings.REDIS_URL)}

    def _sample(self) -> dict[str, dict[int, float]]:
        sample: dict[str, dict[int, float]] = {}
        for name, pids in self._pids().items():
            sample[name] = {}
            for pid in pids:
                cpu = _proc_cpu_seconds(pid)
                if cpu is not None:
                    sample[name][pid] = cpu
        return sample

    def start(self) -> None:
        if os.path.exists("/proc/self/stat"):
            self.before = self._sample()
        self.load_before = time.process_time()

    def ms_per(self, count: int) -> dict[str, float | None]:
        """CPU per ``count`` orders, once the worker has drained what the phase left in the outbox
        (its work for those orders counts too; at most 10 s more)."""
        if not self.before or not count:
            return {}
        from inventory.outbox import outbox_pending_exists

        deadline = time.monotonic() + 10
        while outbox_pending_exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the drain's last publish, after its outbox read
        after = self._sample()
        spent = {name: sum(cpu - self.before[name].get(pid, 0.0) for pid, cpu in pids.items()) for name, pids in after.items()}
        spent["load_generator"] = time.process_time() - self.load_before
        result: dict[str, float | None] = {name: round(seconds * 1000 / count, 2) for name, seconds in spent.items()}
        for name, pids in after.items():
            if not pids:
                result[name] = None  # its process was not found: unknown, not zero
        result["total"] = round(sum(spent.values()) * 1000 / count, 2)
        return result


def _profile_orders(*, key: str, skus: list[str], n: int) -> dict[str, Any]:
    """Queries per order and time per phase, in-process through the real view (Django's test client)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    rng = random.Random(99)
    queries: list[int] = []
    profiler = cProfile.Profile()
    began = time.perf_counter()
    for i in range(n):
        body = _order_body(rng, skus, f"profile-{i}")
        with CaptureQueriesContext(connection) as ctx:
            profiler.enable()
            res = client.post("/api/v1/orders", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"profile-{i}")
            profiler.disable()
        assert res.status_code == 201, res.content[:300]
        queries.append(len(ctx.captured_queries))
    total_ms = (time.perf_counter() - began) * 1000 / n
    stats = pstats.Stats(profiler)
    phases: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for phase, (suffix, name) in PHASES.items():
            if func == name and filename.endswith(suffix):
                phases[phase] = round(ct * 1000 / n, 2)
    return {"queries_per_order": round(sum(queries) / n, 1), "profile_order_ms": round(total_ms, 2),
            "profile_phase_ms": phases}


def _order_body(rng: random.Random, skus: list[str], external_id: str) -> str:
    lines = [{"sku": sku, "quantity": 1} for sku in rng.sample(skus, rng.choice((1, 2)))]
    return json.dumps({"external_id": external_id, "latitude": 41.0 + rng.random(), "longitude": 29.0 + rng.random(),
                       "lines": lines})


def run(*, out, seconds: float = 8.0, clients: int = 16, workers: int = 0, skus: int = 200, stores: int = 20,
        profile_orders: int = 30, availability_rate: float = 500.0, orders_rate: float = 150.0,
        paced_connections: int = 64, **_: Any) -> dict:
    from django.conf import settings

    from tests.harness.processes import ServedOmni

    if not settings.REDIS_URL:
        raise SystemExit("bench api needs a broker: run it through `manage.py bench api` (it starts a private redis-server)")
    load_before = load_average()
    out(f"setting up {skus} SKUs at a DC and {stores} stores")
    key, sku_codes = _setup(skus, stores)
    served = ServedOmni(workers=workers, broker_url=settings.REDIS_URL, prefix="omni-bench-api-")
    port, workers = served.port, served.workers
    auth = {"Authorization": f"Token {key}"}

    def read(rng, n, i):
        return "GET", f"/api/v1/availability?sku={rng.choice(sku_codes)}", None, auth

    def order(prefix):
        return lambda rng, n, i: ("POST", "/api/v1/orders", _order_body(rng, sku_codes, f"{prefix}-{n}-{i}"),
                                  {**auth, "Content-Type": "application/json", "Idempotency-Key": f"{prefix}-{n}-{i}"})

    def paced(rate, request):
        return _Paced(port=port, rate=rate, seconds=seconds, connections=paced_connections, request=request).run()

    try:
        served.start()
        out(f"gunicorn: {workers} workers × {served.threads} threads (gthread, omni/gunicorn.py) on 127.0.0.1:{port}; "
            f"a real Celery worker; {clients} closed-loop clients, then {availability_rate:g} reads/s and "
            f"{orders_rate:g} orders/s offered; {seconds:g} s per phase")

        baseline = _Load(port=port, clients=clients, seconds=seconds,
                         request=lambda rng, n, i: ("GET", "/health/live", None, {})).run()
        out(f"baseline GET /health/live: {baseline['rps']} rps, p95 {baseline['p95_ms']} ms")
        avail = _Load(port=port, clients=clients, seconds=seconds, request=read).run()
        out(f"availability, {clients} clients: {avail['rps']} rps, p95 {avail['p95_ms']} ms ({avail['statuses']})")
        avail_paced = paced(availability_rate, read)
        out(f"availability at {availability_rate:g}/s offered: {avail_paced['served_rps']} served/s, "
            f"p95 {avail_paced['p95_ms']} ms from when each was due ({avail_paced['statuses']})")
        cpu = _CpuByProcess(served)
        cpu.start()
        orders = _Load(port=port, clients=clients, seconds=seconds, request=order("load")).run()
        orders_cpu = cpu.ms_per(orders["ok"])
        out(f"orders, {clients} clients: {orders['rps']} rps, p95 {orders['p95_ms']} ms ({orders['statuses']}); "
            f"CPU ms per order by process: {orders_cpu}")
        orders_paced = paced(orders_rate, order("paced"))
        out(f"orders at {orders_rate:g}/s offered: {orders_paced['served_rps']} served/s, "
            f"p95 {orders_paced['p95_ms']} ms from when each was due ({orders_paced['statuses']})")
    finally:
        served.stop()
    profile = _profile_orders(key=key, skus=sku_codes, n=profile_orders)
    out(f"order path in-process: {profile['queries_per_order']} queries, {profile['profile_order_ms']} ms per order; "
        f"phases (ms): {profile['profile_phase_ms']}")
    return {
        "gunicorn_workers": workers, "gunicorn_threads": served.threads, "clients": clients, "seconds": seconds,
        "paced_connections": paced_connections,
        "baseline_rps": baseline["rps"], "baseline_p95_ms": baseline["p95_ms"],
        "availability_ratio_to_baseline": round(avail["rps"] / baseline["rps"], 3) if baseline["rps"] else None,
        "availability_saturated_p95_ms": avail["p95_ms"], "availability_offered_rps": availability_rate,
        "availability_paced_served_rps": avail_paced["served_rps"], "availability_paced_p99_ms": avail_paced["p99_ms"],
        "availability_errors": avail["requests"] - avail["ok"] + avail_paced["requests"] - avail_paced["ok"],
        "orders_saturated_p95_ms": orders["p95_ms"], "orders_offered_rps": orders_rate,
        "orders_paced_served_rps": orders_paced["served_rps"], "orders_paced_p50_ms": orders_paced["p50_ms"],
        "orders_paced_p99_ms": orders_paced["p99_ms"],
        "orders_errors": orders["requests"] - orders["ok"] + orders_paced["requests"] - orders_paced["ok"],
        "orders_cpu_ms_per_order": orders_cpu,
        **profile,
        "load_avg_1m": [load_before, load_average()],
        "availability_rps": avail["rps"], "availability_p95_ms": avail_paced["p95_ms"],
        "orders_rps": orders["rps"], "orders_p95_ms": orders_paced["p95_ms"],
    }
