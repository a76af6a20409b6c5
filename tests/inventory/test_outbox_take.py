"""``inventory.outbox.outbox_take_pending``: the oldest pending rows, at most ``limit``, marked
processed in the caller's transaction; rows another drain holds are skipped, and rows of a
rolled-back take are pending again."""

from __future__ import annotations

import threading

import pytest
from django.db import connections, transaction

from inventory.models import OutboxEvent
from inventory.outbox import outbox_pending_exists, outbox_take_pending

from .factories import ProductFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class _Undo(Exception):
    pass


def test_two_takers_never_take_the_same_row_and_a_rollback_leaves_rows_pending():
    products = [ProductFactory(sku=f"P{i}") for i in range(5)]
    rows = [OutboxEvent.objects.create(product=p, reason="receipt") for p in products]

    with pytest.raises(_Undo), transaction.atomic():
        assert [p for p, _ in outbox_take_pending(limit=2)] == [products[0].pk, products[1].pk]  # oldest first
        raise _Undo
    assert OutboxEvent.objects.filter(processed_at__isnull=True).count() == 5  # rolled back: pending again

    held, release = threading.Event(), threading.Event()
    other: dict = {}

    def first_taker() -> None:
        try:
            with transaction.atomic():
                other["taken"] = [p for p, _ in outbox_take_pending(limit=2)]
                held.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=first_taker)
    thread.start()
    try:
        assert held.wait(10)
        with transaction.atomic():
            mine = outbox_take_pending(limit=10)  # does not wait for the other taker's rows
    finally:
        release.set()
        thread.join(10)

    assert other["taken"] == [products[0].pk, products[1].pk]
    assert [p for p, _ in mine] == [p.pk for p in products[2:]]
    assert [created for _, created in mine] == [r.created_at for r in rows[2:]]
    assert not outbox_pending_exists()
