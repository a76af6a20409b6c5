"""A store's partner event does not wait for a whole sync drain round: the round marks dirty SKUs
in one short commit, then publishes each channel in its own transaction, so an event of one channel
commits while another channel's figures are still being computed (``bench eventwait`` measures it)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from allocation.models import SyncMessage
from allocation.sync import publish
from allocation.sync.drain import sync_outbox_drain
from allocation.sync.publish import sync_event_publish
from inventory import services as stock

from ..inventory.factories import LocationFactory, ProductFactory
from .sync_helpers import sync_channel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_an_event_commits_while_the_drain_publishes_another_channel(monkeypatch):
    store = LocationFactory(code="ST-01")
    web = sync_channel(code="web", locations=[store])
    app = sync_channel(code="app", locations=[store])
    stock.stock_receive(product=ProductFactory(sku="TEE"), location=store, quantity=10)

    computing, resume = threading.Event(), threading.Event()
    original = publish.atp_for_channel

    def slow_for_app(*, channel, **kwargs):
        """The drain computes the app channel's figures: hold it there."""
        if channel.pk == app.pk and not computing.is_set():
            computing.set()
            resume.wait(20)
        return original(channel=channel, **kwargs)

    monkeypatch.setattr(publish, "atp_for_channel", slow_for_app)
    outcome: dict = {}

    def drain() -> None:
        try:
            outcome["drain"] = sync_outbox_drain()
        finally:
            connections.close_all()

    thread = threading.Thread(target=drain)
    thread.start()
    try:
        assert computing.wait(10), "the drain never reached the app channel"
        t0 = time.perf_counter()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '3s'")  # waiting for the round would fail here
            sync_event_publish(channel=web, kind="shipped", payload={"order": "W-1"})
        waited = time.perf_counter() - t0
    finally:
        resume.set()
        thread.join(20)

    assert waited < 2  # not held behind the app channel's publish
    assert SyncMessage.objects.filter(channel=web, kind="event", event="shipped").count() == 1
    assert set(outcome["drain"].published) == {web.pk, app.pk}  # and the round finished for both
