"""Real concurrency on PostgreSQL: many clients, their own connections, one scarce SKU."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from inventory.models import Reservation, StockLevel
from inventory.services import ReservationRequest, ledger_check, reservations_create
from omni.api.errors import error_body
from omni.errors import InsufficientStock
from orders.models import Order
from orders.services import idempotent_call, order_create

from .factories import ChannelFactory, LocationFactory, ProductFactory, make_visible, order_input, receive

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_threads(n, target):
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_clients_of_several_channels_race_for_the_last_units():
    channels = [ChannelFactory(code=f"race-{i}") for i in range(4)]
    a, b = LocationFactory(code="RACE-A", latitude=41.0, longitude=29.0), LocationFactory(code="RACE-B", latitude=39.9, longitude=32.8)
    for ch in channels:
        make_visible(ch, a, b)
    sku = ProductFactory(sku="LAST-UNITS")
    other = ProductFactory(sku="PLENTY")
    receive(sku, a, 3)
    receive(sku, b, 2)
    receive(other, a, 100)

    def place(i):
        ch = channels[i % 4]
        lines = [("LAST-UNITS", 1), ("PLENTY", 1)] if i % 2 else [("LAST-UNITS", 1)]
        try:
            order_create(channel=ch, data=order_input(f"R-{i}", *lines))
            return "ok"
        except InsufficientStock as exc:
            return exc.code

    results = run_threads(16, place)
    assert not [r for r in results if isinstance(r, Exception)], results
    counts = Counter(results)
    assert counts["ok"] == 5  # exactly the 5 units on hand were sold, to 5 orders
    assert counts["insufficient_stock"] == 11
    levels = {lv.location.code: (lv.on_hand, lv.reserved) for lv in StockLevel.objects.filter(product=sku).select_related("location")}
    assert levels == {"RACE-A": (3, 3), "RACE-B": (2, 2)}
    assert Order.objects.count() == 5
    # Losing multi-line orders reserved nothing of the plentiful SKU either.
    plenty_orders = Order.objects.filter(lines__product=other).count()
    assert StockLevel.objects.get(product=other).reserved == plenty_orders
    assert ledger_check() == []


def test_single_unit_reservations_never_oversell_a_hot_row():
    loc = LocationFactory(code="HOT")
    sku = ProductFactory(sku="HOT-SKU")
    receive(sku, loc, 40)
    level_id = StockLevel.objects.get(product=sku).pk

    def grab(i):
        got = 0
        while True:
            try:
                reservations_create(requests=[ReservationRequest(product=sku, location=loc, quantity=1, reference=f"t:{i}:{got}")])
            except InsufficientStock:
                return got
            got += 1

    results = run_threads(12, grab)
    assert sum(results) == 40
    level = StockLevel.objects.get(pk=level_id)
    assert (level.on_hand, level.reserved) == (40, 40)
    assert Reservation.objects.filter(stock_level_id=level_id, status="open").count() == 40
    assert ledger_check() == []


def test_concurrent_duplicates_of_one_idempotency_key_place_one_order():
    ch = ChannelFactory(code="dup")
    loc = LocationFactory(code="DUP-LOC", latitude=41.0, longitude=29.0)
    make_visible(ch, loc)
    ProductFactory(sku="DUP-SKU")
    from inventory.models import Product

    receive(Product.objects.get(sku="DUP-SKU"), loc, 10)
    payload = {"external_id": "D-1", "lines": [["DUP-SKU", 2]]}

    def call(i):
        def handler():
            order = order_create(channel=ch, data=order_input("D-1", ("DUP-SKU", 2)))
            return 201, {"id": order.pk}

        ans = idempotent_call(channel=ch, key="same-key", body=payload, handler=handler,
                              error_body=lambda e: error_body(e.code, e.message, e.details))
        return ans.status, ans.body, ans.replayed

    results = run_threads(8, call)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {(s, b["id"]) for s, b, _r in results} == {(201, Order.objects.get().pk)}
    assert sum(1 for *_x, replayed in results if not replayed) == 1
    assert StockLevel.objects.get().reserved == 2


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees its first snapshot only
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


def _until(predicate, seconds=30.0):
    import time

    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_duplicate_hold_request_waits_for_the_first_and_replays_it():
    """Two partner requests with one Idempotency-Key, the second sent while the first is still
    reserving: the second waits for the first to commit, then answers its hold (replayed). The
    units are held once."""
    from django.db import transaction
    from rest_framework.test import APIClient

    from orders.models import Hold
    from tests.access.factories import issue_token

    ch = ChannelFactory(code="hold-dup")
    loc = LocationFactory(code="HOLD-DUP", latitude=41.0, longitude=29.0)
    make_visible(ch, loc)
    receive(ProductFactory(sku="HOLD-SKU"), loc, 10)
    token = issue_token(ch)
    results: dict[str, object] = {}

    def send(name):
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            res = client.post("/api/v1/holds", {"lines": [{"sku": "HOLD-SKU", "quantity": 3}], "ttl_seconds": 300},
                              format="json", HTTP_IDEMPOTENCY_KEY="cart-42")
            results[name] = (res.status_code, res.json(), res.headers.get("Idempotent-Replayed"))
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[name] = exc
        finally:
            connection.close()

    first, second = threading.Thread(target=send, args=("first",)), threading.Thread(target=send, args=("second",))
    with transaction.atomic():
        # the stock row is busy: the first request claims the key, then waits at its reservation
        StockLevel.objects.select_for_update(of=("self",)).get(location=loc)
        first.start()
        _until(lambda: _waiting_on_locks() == 1)
        second.start()  # same key: waits on the first one's key row
        _until(lambda: _waiting_on_locks() == 2)
        assert first.is_alive() and second.is_alive()
    first.join(10)
    second.join(10)
    status, body, replayed = results["first"]
    assert (status, replayed) == (201, None), body
    assert results["second"] == (201, body, "true")
    assert Hold.objects.count() == 1 and StockLevel.objects.get(location=loc).reserved == 3
