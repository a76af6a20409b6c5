"""Real concurrency on PostgreSQL: many threads hammer the same stock rows."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
from django.db import connection, connections

from inventory import services
from inventory.models import StockLevel, StockMovement
from omni.errors import InsufficientStock, OmniError

from .factories import LocationFactory, ProductFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8


def run_threads(target, n: int = THREADS) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # pragma: no cover - surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_concurrent_receive_sell_adjust_keep_ledger_and_on_hand_in_agreement():
    sku, other = ProductFactory(sku="HOT-1"), ProductFactory(sku="HOT-2")
    store, dc = LocationFactory(code="ST-1"), LocationFactory(code="DC-1", kind="dc")
    services.stock_receive(product=sku, location=store, quantity=20)
    services.stock_receive(product=other, location=dc, quantity=20)

    def work(i: int) -> Counter:
        rng = random.Random(i)
        done: Counter = Counter()
        for n in range(25):
            product, location = rng.choice([(sku, store), (other, dc)])
            op = rng.choice(["receive", "sell", "sell", "sell", "adjust", "damage", "count"])
            try:
                if op == "receive":
                    services.stock_receive(product=product, location=location, quantity=rng.randint(1, 3))
                elif op == "sell":
                    services.stock_sell(product=product, location=location, quantity=rng.randint(1, 4))
                elif op == "adjust":
                    services.stock_adjust(product=product, location=location, quantity=rng.choice([-2, -1, 1, 2]), note="test")
                elif op == "damage":
                    services.stock_mark_damaged(product=product, location=location, quantity=1)
                else:
                    services.cycle_count_record(product=product, location=location, counted=rng.randint(0, 15))
                done[op] += 1
            except InsufficientStock:
                done["refused"] += 1
        return done

    totals = sum(run_threads(work), Counter())
    assert totals["refused"] > 0 and totals["sell"] > 0  # the race really happened both ways
    assert services.ledger_check() == []
    for level in StockLevel.objects.all():
        assert level.on_hand >= 0 and level.damaged >= 0
        ledger = list(StockMovement.objects.filter(stock_level=level, bucket="on_hand").order_by("id").values_list("quantity", "balance_after"))
        running = 0
        for qty, balance in ledger:  # each balance_after is the running sum: no lost update
            running += qty
            assert balance == running
        assert running == level.on_hand


def test_last_unit_is_sold_once():
    sku, store = ProductFactory(sku="LAST-1"), LocationFactory(code="ST-1")
    services.stock_receive(product=sku, location=store, quantity=1)

    def work(i: int) -> str:
        try:
            services.stock_sell(product=sku, location=store, quantity=1, source="pos", external_id=f"till-{i}")
            return "sold"
        except InsufficientStock:
            return "refused"

    assert sorted(run_threads(work)) == ["refused"] * (THREADS - 1) + ["sold"]
    assert StockLevel.objects.get().on_hand == 0
    assert services.ledger_check() == []


def test_same_external_id_sent_concurrently_changes_stock_once():
    sku, store = ProductFactory(sku="ONCE-1"), LocationFactory(code="ST-1")
    services.stock_receive(product=sku, location=store, quantity=100)

    def work(i: int):
        result = services.stock_sell(product=sku, location=store, quantity=3, source="pos", external_id="till-42")
        return result.replayed

    replayed = run_threads(work)
    assert sorted(replayed) == [False] + [True] * (THREADS - 1)
    assert StockLevel.objects.get().on_hand == 97
    assert StockMovement.objects.filter(source="pos", external_id="till-42").count() == 1
    assert services.ledger_check() == []


def test_same_count_and_transfer_receipt_sent_concurrently_apply_once():
    sku, store, dc = ProductFactory(sku="ONCE-2"), LocationFactory(code="ST-1"), LocationFactory(code="DC-1", kind="dc")
    services.stock_receive(product=sku, location=store, quantity=10)
    services.stock_receive(product=sku, location=dc, quantity=10)
    transfer = services.transfer_ship(product=sku, from_location=dc, to_location=store, quantity=4).transfer

    def work(i: int):
        out = []
        for call in (
            lambda: services.cycle_count_record(product=sku, location=store, counted=7, source="wms", external_id="cc-1").count.pk,
            lambda: services.transfer_receive(transfer=transfer, source="wms", external_id="tin-1").transfer.pk,
        ):
            try:
                out.append(call())
            except OmniError as exc:  # pragma: no cover - would fail the assertion below
                out.append(exc.code)
        return tuple(out)

    results = run_threads(work)
    assert len(set(results)) == 1  # every thread got the same count and transfer back
    level = StockLevel.objects.get(location=store)
    assert level.on_hand == 11  # counted 7, then +4 transfer in (whatever the order, each applied once)
    assert StockMovement.objects.filter(external_id__in=["cc-1", "tin-1"]).count() == 2
    assert services.ledger_check() == []


def test_concurrent_api_batches_with_the_same_ids_apply_once(db):
    from rest_framework.test import APIClient

    from .factories import MerchandiserFactory

    sku, store = ProductFactory(sku="API-1"), LocationFactory(code="ST-1")
    services.stock_receive(product=sku, location=store, quantity=50)
    user = MerchandiserFactory(username="merch")
    payload = {"source": "pos", "movements": [
        {"external_id": f"till-{n}", "kind": "sale", "sku": "API-1", "location": "ST-1", "quantity": 2} for n in range(5)
    ]}

    def work(i: int):
        client = APIClient()
        client.force_authenticate(user)
        res = client.post("/api/v1/stock-movements", payload, format="json")
        return res.status_code, res.json()["summary"]["failed"]

    assert set(run_threads(work, n=4)) == {(200, 0)}
    assert StockLevel.objects.get().on_hand == 40
    assert services.ledger_check() == []
    assert connection.vendor == "postgresql"


def test_a_duplicate_movement_batch_waits_for_the_first_and_replays_it():
    """A stock system resends its batch (same Idempotency-Key) while the first is still waiting for
    a busy stock row: the resend waits on the first one's key, then answers its answer (replayed).
    The receipt is booked once."""
    import time

    from django.db import transaction
    from rest_framework.test import APIClient

    from omni.access.models import Scope
    from tests.access.factories import issue_token
    from tests.allocation.factories import ChannelFactory

    loc = LocationFactory(code="MV-DUP")
    services.stock_receive(product=ProductFactory(sku="MV-SKU"), location=loc, quantity=5)
    token = issue_token(ChannelFactory(code="wms-dup"), Scope.STOCK_WRITE, locations=[loc])
    batch = {"movements": [{"external_id": "GRN-1", "kind": "receipt", "sku": "MV-SKU", "location": "MV-DUP", "quantity": 7}]}
    results: dict[str, object] = {}

    def send(name):
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            res = client.post("/api/v1/stock-movements", batch, format="json", HTTP_IDEMPOTENCY_KEY="batch-7")
            results[name] = (res.status_code, res.json(), res.headers.get("Idempotent-Replayed"))
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[name] = exc
        finally:
            connection.close()

    def waiting() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
            return cursor.fetchone()[0]

    def until(count):
        deadline = time.monotonic() + 30
        while waiting() != count:
            assert time.monotonic() < deadline, f"never {count} waiting"
            time.sleep(0.02)

    first, second = threading.Thread(target=send, args=("first",)), threading.Thread(target=send, args=("second",))
    with transaction.atomic():
        StockLevel.objects.select_for_update(of=("self",)).get(location=loc)  # the row is busy
        first.start()
        until(1)
        second.start()
        until(2)
        assert first.is_alive() and second.is_alive()
    first.join(10)
    second.join(10)
    status, body, replayed = results["first"]
    assert (status, replayed, body["summary"]["applied"]) == (200, None, 1), body
    assert results["second"] == (200, body, "true")
    assert StockLevel.objects.get(location=loc).on_hand == 12
    assert StockMovement.objects.filter(external_id="GRN-1").count() == 1
