"""A webhook POST runs with no transaction open: while a slow receiver holds the push, the
pusher's database session is idle (no snapshot, no row lock, no "idle in transaction"), stock
changes and a publish for the same channel's SKUs commit at once, a second pusher of the channel
steps back, and once the receiver answers everything converges."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection, connections

from allocation.models import MessageStatus, SyncMessage
from allocation.selectors import atp_for_channel
from allocation.sync.drain import sync_outbox_drain
from allocation.sync.push import sync_channel_push
from inventory import services as stock

from ..inventory.factories import LocationFactory, ProductFactory
from .sync_helpers import sync_channel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class SlowReceiver:
    """Answers 200 to every POST; the first one waits until ``release()`` (at most 20 s)."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self._release = threading.Event()
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                first = not outer.bodies
                outer.bodies.append(body)
                if first:
                    outer.arrived.set()
                    outer._release.wait(20)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def release(self) -> None:
        self._release.set()

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def figures(self) -> dict[str, int]:
        return {u["sku"]: u["available"] for body in self.bodies for u in body["updates"]}


@pytest.fixture
def receiver():
    r = SlowReceiver()
    yield r
    r.stop()


def _session_state(pid: int) -> tuple[str, object]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT state, xact_start FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()


def test_a_slow_receiver_holds_no_transaction_and_blocks_no_stock_change_or_publish(receiver):
    store = LocationFactory(code="ST-01")
    web = sync_channel(code="web", locations=[store], url=receiver.url, timeout_seconds=30)
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=5)
    sync_outbox_drain()

    pusher: dict = {}

    def push() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pusher["pid"] = cursor.fetchone()[0]
            pusher["result"] = sync_channel_push(channel_id=web.id)
        finally:
            connections.close_all()

    thread = threading.Thread(target=push)
    thread.start()
    try:
        assert receiver.arrived.wait(10), "the push never reached the receiver"
        # the pusher waits on the network only: its session is idle, with no transaction open
        state, xact_start = _session_state(pusher["pid"])
        assert (state, xact_start) == ("idle", None)

        # meanwhile, with every lock wait cut short, a sale, the drain and the publish commit at once
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        started = time.monotonic()
        stock.stock_sell(product=tee, location=store, quantity=2)
        drained = sync_outbox_drain()
        elapsed = time.monotonic() - started
        assert drained.published == {web.id: 1} and elapsed < 2
        assert list(SyncMessage.objects.filter(channel=web).order_by("id").values_list("available", "status")) == [
            (5, MessageStatus.PENDING), (3, MessageStatus.PENDING),
        ]
        # one pusher per channel: a second one steps back instead of sending the same messages twice
        assert sync_channel_push(channel_id=web.id).busy is True
    finally:
        receiver.release()
        thread.join(30)

    # the first pusher delivers what was published during its POST too, in order
    assert pusher["result"].sent == 2
    assert [u["available"] for body in receiver.bodies for u in body["updates"]] == [5, 3]
    assert set(SyncMessage.objects.filter(channel=web).values_list("status", flat=True)) == {MessageStatus.SENT}
    assert receiver.figures() == {"TEE": 3} == {"TEE": atp_for_channel(channel=web, product_ids=[tee.pk])[tee.pk]}
    assert sync_channel_push(channel_id=web.id).sent == 0  # the lock was released; nothing left
