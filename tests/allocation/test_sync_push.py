"""Webhook push: signed bodies, acknowledgements and latency, retries, dead letters, resend, events."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from allocation.models import SyncMessage
from allocation.sync.drain import sync_outbox_drain
from allocation.sync.latency import sync_latency_percentiles
from allocation.sync.publish import sync_event_publish
from allocation.sync.push import sync_channel_push, sync_messages_resend
from allocation.sync.webhook import signature, signature_valid
from inventory import services as stock
from inventory.models import Alert
from omni.errors import NotFound, ValidationFailed
from tests.harness.receiver import Receiver

from ..inventory.factories import LocationFactory, ProductFactory
from .sync_helpers import messages, omni_figures, sync_channel

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    r = Receiver(secret="s3cret")
    r.url = r.start()
    yield r
    r.stop()


@pytest.fixture
def store():
    return LocationFactory(code="ST-01")


def test_signature_is_hmac_sha256_of_the_body():
    body = b'{"a":1}'
    assert signature("k", body).startswith("sha256=") and len(signature("k", body)) == 7 + 64
    assert signature_valid("k", body, signature("k", body))
    assert not signature_valid("other", body, signature("k", body))
    assert not signature_valid("k", body + b" ", signature("k", body))
    assert not signature_valid("k", body, None)


def test_push_delivers_signed_figures_in_order_and_records_latency(store, receiver):
    web = sync_channel(code="web", locations=[store], url=receiver.url)
    tee, cap = ProductFactory(sku="TEE"), ProductFactory(sku="CAP")
    stock.stock_receive(product=tee, location=store, quantity=10)
    stock.stock_receive(product=cap, location=store, quantity=3)
    sync_outbox_drain()
    stock.stock_sell(product=tee, location=store, quantity=2)
    sync_outbox_drain()

    result = sync_channel_push(channel_id=web.id)

    assert (result.sent, result.failed, result.dead) == (3, 0, 0)
    assert receiver.bad_signatures == 0
    assert receiver.available == {"TEE": 8, "CAP": 3} == omni_figures(web)
    assert receiver.sequence == {"TEE": 2, "CAP": 1}
    sent = SyncMessage.objects.filter(channel=web)
    assert set(sent.values_list("status", flat=True)) == {"sent"}
    assert all(m.latency_ms is not None and m.acked_at >= m.changed_at for m in sent)
    stats = sync_latency_percentiles()
    assert [(s.channel, s.pushes) for s in stats] == [("web", 3)]


def test_receiver_with_another_secret_refuses_and_message_stays_pending_then_dead(store, receiver):
    web = sync_channel(code="web", locations=[store], url=receiver.url, secret="wrong", max_attempts=2)
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=1)
    sync_outbox_drain()

    result = sync_channel_push(channel_id=web.id)

    # 401 is a permanent error: dead-lettered at once, not retried
    assert (result.sent, result.dead) == (0, 1)
    assert receiver.bad_signatures == 1 and receiver.available == {}
    assert messages(web) == [("TEE", 1, 1, 1, "dead")]


def test_endpoint_down_retries_with_backoff_then_dead_letters_then_resend_delivers(store, receiver):
    web = sync_channel(code="web", locations=[store], url=receiver.url, max_attempts=3)
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=4)
    sync_outbox_drain()
    receiver.fail_status = 503

    first = sync_channel_push(channel_id=web.id)
    message = SyncMessage.objects.get(channel=web)
    assert (first.failed, first.dead) == (1, 0) and first.retry_in > 0
    assert message.status == "pending" and message.attempts == 1 and "503" in message.last_error
    assert message.next_attempt_at > timezone.now()
    # while the endpoint is in backoff, pushes (new changes, retries, the sweep) leave it alone
    again = sync_channel_push(channel_id=web.id)
    assert (again.failed, again.retry_in > 0) == (0, True)
    assert SyncMessage.objects.get(channel=web).attempts == 1

    def backoff_passes() -> None:
        SyncMessage.objects.filter(channel=web).update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    backoff_passes()
    assert sync_channel_push(channel_id=web.id).failed == 1
    backoff_passes()
    third = sync_channel_push(channel_id=web.id)
    assert third.dead == 1
    assert messages(web) == [("TEE", 1, 4, 4, "dead")]

    receiver.fail_status = None
    assert sync_messages_resend(message_ids=[message.pk]) == 1
    assert sync_channel_push(channel_id=web.id).sent == 1
    assert receiver.available == {"TEE": 4}
    assert messages(web) == [("TEE", 1, 4, 4, "sent")]


def test_a_resent_update_the_receiver_already_has_is_dropped(store, receiver):
    web = sync_channel(code="web", locations=[store], url=receiver.url)
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=4)
    sync_outbox_drain()
    sync_channel_push(channel_id=web.id)
    SyncMessage.objects.filter(channel=web).update(status="dead")  # e.g. the ack was lost

    sync_messages_resend(message_ids=SyncMessage.objects.filter(channel=web).values_list("id", flat=True))
    sync_channel_push(channel_id=web.id)

    assert receiver.duplicates == 1
    assert receiver.available == {"TEE": 4}


def test_events_go_out_in_their_own_sequence(store, receiver):
    web = sync_channel(code="web", locations=[store], url=receiver.url)
    sync_event_publish(channel=web, kind="ready_for_pickup", payload={"order": "W-1"})
    sync_event_publish(channel=web, kind="collected", payload={"order": "W-1"})

    assert sync_channel_push(channel_id=web.id).sent == 2
    assert [(e["event"], e["sequence"], e["payload"]) for e in receiver.events] == [
        ("ready_for_pickup", 1, {"order": "W-1"}), ("collected", 2, {"order": "W-1"}),
    ]


def test_an_unknown_event_kind_is_refused_and_writes_nothing(store):
    web = sync_channel(code="web", locations=[store])
    with pytest.raises(ValidationFailed) as err:
        sync_event_publish(channel=web, kind="teleported", payload={})
    assert err.value.code == "invalid_event_kind"
    with pytest.raises(ValidationFailed):
        sync_event_publish(channel=web, kind="shipped", payload=["not", "an", "object"])
    with pytest.raises(NotFound):
        sync_event_publish(channel=None, kind="shipped", payload={})
    assert SyncMessage.objects.count() == 0


def test_latency_percentiles_per_channel(store):
    web = sync_channel(code="web", locations=[store])
    app = sync_channel(code="app", locations=[store])
    tee = ProductFactory(sku="TEE")
    now = timezone.now()
    rows = [SyncMessage(channel=web, product=tee, sequence=i + 1, available=1, delta=1, changed_at=now, status="sent",
                        acked_at=now, latency_ms=(i + 1) * 10) for i in range(100)]
    rows.append(SyncMessage(channel=app, product=tee, sequence=1, available=1, delta=1, changed_at=now, status="sent",
                            acked_at=now, latency_ms=70))
    rows.append(SyncMessage(channel=app, product=tee, sequence=2, available=1, delta=1, changed_at=now, status="sent",
                            acked_at=now - timedelta(days=2), latency_ms=99999))  # outside the window
    SyncMessage.objects.bulk_create(rows)

    stats = {s.channel: (s.pushes, s.p50_ms, s.p95_ms, s.p99_ms) for s in sync_latency_percentiles()}

    assert stats == {"app": (1, 70.0, 70.0, 70.0), "web": (100, 500.0, 950.0, 990.0)}
    assert Alert.objects.count() == 0


def test_body_names_the_channel_and_each_update(store, receiver):
    web = sync_channel(code="web", locations=[store], url=receiver.url)
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=2)
    sync_outbox_drain()
    seen = []
    original = receiver.handle
    receiver.handle = lambda body, header: (seen.append(json.loads(body)), original(body, header))[1]
    sync_channel_push(channel_id=web.id)
    assert seen[0]["channel"] == "web"
    assert [(u["type"], u["sku"], u["sequence"], u["available"], u["delta"]) for u in seen[0]["updates"]] == [
        ("availability", "TEE", 1, 2, 2)
    ]


def test_dead_letter_raises_an_alert_and_sync_drain_command_pushes(store, receiver):
    from io import StringIO

    from django.core.management import call_command

    web = sync_channel(code="web", locations=[store], url=receiver.url, max_attempts=1)
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=2)
    receiver.fail_status = 500
    out = StringIO()
    call_command("sync_drain", stdout=out)
    assert out.getvalue().strip() == "drained 1 outbox row(s); pushed 0, failed 0, dead-lettered 1"
    alert = Alert.objects.get()
    assert alert.kind == "sync_dead_letter" and "web" in alert.message

    receiver.fail_status = None
    stock.stock_sell(product=tee, location=store, quantity=1)
    call_command("sync_drain", stdout=out)
    # the newer figure arrives; the receiver sees a gap (seq 1 was dead) and takes the absolute figure
    assert receiver.available == {"TEE": 1} and receiver.sequence == {"TEE": 2}
    assert messages(web) == [("TEE", 1, 2, 2, "dead"), ("TEE", 2, 1, -1, "sent")]


def test_prune_keeps_recent_and_dead_messages(store):
    from allocation.sync.drain import sync_log_prune
    from inventory.models import OutboxEvent

    web = sync_channel(code="web", locations=[store])
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=2)
    sync_outbox_drain()
    stock.stock_receive(product=tee, location=store, quantity=1)
    sync_outbox_drain()
    old = timezone.now() - timedelta(days=30)
    first, second = SyncMessage.objects.order_by("id")
    SyncMessage.objects.filter(pk=first.pk).update(created_at=old)
    SyncMessage.objects.filter(pk=second.pk).update(created_at=old, status="dead")
    OutboxEvent.objects.update(processed_at=old)

    assert sync_log_prune(older_than_days=14) == (2, 1)
    assert messages(web) == [("TEE", 2, 3, 1, "dead")]
