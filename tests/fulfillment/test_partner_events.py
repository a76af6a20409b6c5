"""Webhook events to the order's channel: each fulfilment move publishes exactly one event, in the
same transaction (a refused move publishes nothing), with the order, channel, lines, quantities,
location, time and work; sequences increase per channel; a receiver gets them signed; the admin's
*Resend event* lists them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from allocation.models import ChannelSync, SyncMessage
from allocation.sync.push import sync_channel_push
from fulfillment.models import RejectReason, WorkStatus
from fulfillment.services import Verification, dispatch, hand_over, mark_ready, pack, pick, receive as receive_transfer, reject, ship
from fulfillment.services.pickup import pickup_expire
from fulfillment.services.returns import store_return
from inventory.services import ledger_check
from omni.errors import IllegalTransition, ValidationFailed
from orders.services import ReturnItem
from tests.harness.receiver import Receiver
from tests.inventory.factories import MerchandiserFactory

from .factories import place, place_bopis, receive

pytestmark = pytest.mark.django_db

ID = Verification(collector_name="Ayşe Yılmaz", id_kind="national_id", id_last_digits="4821")


def events(channel) -> list[tuple[str, int, dict]]:
    return [(m.event, m.sequence, m.payload)
            for m in SyncMessage.objects.filter(channel=channel, kind="event").order_by("sequence")]


def kinds(channel) -> list[str]:
    return [e for e, _s, _p in events(channel)]


def pick_all(work, actor="alice"):
    for line in work.lines.all():
        pick(work=work, line=line, qty=line.quantity, actor=actor)
    work.refresh_from_db()
    return work


def test_ship_publishes_one_shipped_event_with_tracking_and_lines(world):
    receive(world.shirt, world.ist, 5)
    receive(world.mug, world.ist, 5)
    work = place(world, "W-1", ("SHIRT", 2), ("MUG", 1))
    pick_all(work)
    pack(work=work, box_type="M", actor="alice")
    assert kinds(world.web) == []  # picking and packing are the store's business

    ship(work=work, tracking_number="YK123", carrier="Yurtiçi", actor="alice")

    [(kind, seq, payload)] = events(world.web)
    assert (kind, seq) == ("shipped", 1)
    at = payload.pop("at")
    assert abs(timezone.datetime.fromisoformat(at) - timezone.now()) < timedelta(minutes=1)
    assert payload == {
        "order": "W-1", "channel": "web", "fulfillment": work.pk, "fulfillment_kind": "ship_from_store",
        "location": "ST-IST", "tracking_number": "YK123", "carrier": "Yurtiçi",
        "lines": [{"line": 1, "sku": "SHIRT", "quantity": 2}, {"line": 2, "sku": "MUG", "quantity": 1}],
    }
    assert ledger_check() == []


def test_ready_then_partial_hand_over_publish_in_sequence(world):
    receive(world.shirt, world.ist, 5)
    work = place_bopis(world, "B-1", ("SHIRT", 3))
    pick_all(work)
    mark_ready(work=work, actor="alice")
    line = work.lines.get()
    hand_over(work=work, quantities={line.pk: 2}, verification=ID, actor="alice")

    (k1, s1, ready), (k2, s2, collected) = events(world.web)
    assert (k1, k2) == ("ready_for_pickup", "collected") and s1 < s2
    work.refresh_from_db()
    assert (ready["location"], ready["pickup_code"], ready["lines"]) == (
        "ST-IST", work.pickup_code, [{"line": 1, "sku": "SHIRT", "quantity": 3}])
    assert (collected["partial"], collected["lines"], collected["declined"]) == (
        True, [{"line": 1, "sku": "SHIRT", "quantity": 2, "ready": 3}], [{"line": 1, "sku": "SHIRT", "quantity": 1}])
    assert collected["fulfillment"] == work.pk
    assert ledger_check() == []


def test_rejection_publishes_rejected_and_rerouted_from_and_to(world):
    receive(world.shirt, world.ist, 2)
    receive(world.shirt, world.ank, 5)
    work = place(world, "W-2", ("SHIRT", 2), lat=41.0, lon=29.0)
    assert work.location == world.ist

    reject(work=work, quantities={work.lines.get().pk: (2, RejectReason.DAMAGED)}, actor="alice", note="wet box")

    (k1, _s1, rejected), (k2, _s2, rerouted) = events(world.web)
    assert (k1, k2) == ("rejected", "rerouted")
    assert (rejected["location"], rejected["note"], rejected["lines"]) == (
        "ST-IST", "wet box", [{"line": 1, "sku": "SHIRT", "quantity": 2, "reason": "damaged"}])
    [moved] = rerouted["lines"]
    assert (moved["line"], moved["quantity"], moved["from"], moved["to"], moved["outcome"]) == (
        1, 2, "ST-IST", [{"location": "WH-ANK", "quantity": 2}], "rerouted")
    assert ledger_check() == []


def test_rejection_with_nowhere_to_go_says_backordered(world):
    receive(world.shirt, world.ist, 1)
    work = place(world, "W-3", ("SHIRT", 1))
    reject(work=work, quantities={work.lines.get().pk: (1, RejectReason.OTHER)}, actor="alice")
    [moved] = events(world.web)[1][2]["lines"]
    assert (moved["to"], moved["outcome"]) == ([], "backordered")


def test_customer_cancelled_rejection_is_not_rerouted(world):
    receive(world.shirt, world.ist, 1)
    work = place(world, "W-4", ("SHIRT", 1))
    reject(work=work, quantities={work.lines.get().pk: (1, RejectReason.CUSTOMER_CANCELLED)}, actor="alice")
    assert kinds(world.web) == ["rejected"]


def test_expiry_publishes_expired(world):
    receive(world.shirt, world.ist, 2)
    work = place_bopis(world, "B-2", ("SHIRT", 2))
    pick_all(work)
    mark_ready(work=work, actor="alice")
    pickup_expire(work=work)
    pickup_expire(work=work)  # again: nothing more happens, nothing more is told
    assert kinds(world.web) == ["ready_for_pickup", "expired"]
    expired = events(world.web)[1][2]
    assert (expired["lines"], expired["reason"]) == ([{"line": 1, "sku": "SHIRT", "quantity": 2}], "not collected")
    assert ledger_check() == []


def test_store_return_publishes_returned_once(world):
    receive(world.shirt, world.ist, 2)
    work = place_bopis(world, "B-3", ("SHIRT", 2))
    pick_all(work)
    mark_ready(work=work, actor="alice")
    hand_over(work=work, verification=ID, actor="alice")
    for _ in range(2):  # the same RMA twice: recorded once, told once
        store_return(location=world.izm, query="B-3", actor="carla", external_id="RMA-1",
                     items=[ReturnItem(line_no=1, quantity=1, resellable=False)])
    assert kinds(world.web) == ["ready_for_pickup", "collected", "returned"]
    returned = events(world.web)[2][2]
    assert (returned["location"], returned["fulfillment"], returned["external_id"], returned["lines"]) == (
        "ST-IZM", work.pk, "RMA-1",
        [{"line": 1, "sku": "SHIRT", "quantity": 1, "resellable": False, "refund_amount": returned["refund_amount"]}])


def test_ship_to_store_arrival_publishes_ready_at_the_pickup_store(world):
    receive(world.shirt, world.ank, 3)
    order_work = place_bopis(world, "B-4", ("SHIRT", 1), store=world.izm, ship_to_store=True)
    work = pick_all(order_work)
    pack(work=work, actor="alice")
    dispatch(work=work, actor="alice")
    assert kinds(world.web) == []  # in transit: nothing the customer can do yet
    receive_transfer(work=work, actor="bob")
    receive_transfer(work=work, actor="bob")  # replay
    [(kind, _s, payload)] = events(world.web)
    assert (kind, payload["location"], payload["fulfillment_kind"]) == ("ready_for_pickup", "ST-IZM", "ship_to_store")


def test_illegal_or_bad_moves_publish_nothing(world):
    receive(world.shirt, world.ist, 2)
    work = place(world, "W-5", ("SHIRT", 1))
    with pytest.raises(IllegalTransition):
        ship(work=work, tracking_number="T1", actor="alice")  # not packed
    with pytest.raises(IllegalTransition):
        mark_ready(work=work, actor="alice")  # shipping work is never ready for pickup
    with pytest.raises(ValidationFailed):
        reject(work=work, quantities={work.lines.get().pk: (5, RejectReason.OTHER)}, actor="alice")
    with pytest.raises(ValidationFailed):
        hand_over(work=work, verification=Verification(collector_name=""), actor="alice")
    assert SyncMessage.objects.filter(kind="event").count() == 0
    work.refresh_from_db()
    assert work.status == WorkStatus.NEW


def test_a_receiver_gets_the_events_signed_in_sequence(world):
    hook = Receiver(secret="s3cret")
    url = hook.start()
    try:
        ChannelSync.objects.update_or_create(channel=world.web, defaults={"url": url, "secret": "s3cret"})
        receive(world.shirt, world.ist, 5)
        work = place_bopis(world, "B-5", ("SHIRT", 1))
        pick_all(work)
        mark_ready(work=work, actor="alice")
        hand_over(work=work, verification=ID, actor="alice")
        assert sync_channel_push(channel_id=world.web.id).sent == 2
    finally:
        hook.stop()
    assert hook.bad_signatures == 0
    assert [(e["event"], e["sequence"], e["payload"]["order"]) for e in hook.events] == [
        ("ready_for_pickup", 1, "B-5"), ("collected", 2, "B-5")]
    assert set(SyncMessage.objects.filter(kind="event").values_list("status", flat=True)) == {"sent"}


def test_the_admin_resend_lists_the_orders_events_and_sends_one_again(world, client):
    receive(world.shirt, world.ist, 5)
    work = place(world, "W-6", ("SHIRT", 1))
    pick_all(work)
    pack(work=work, actor="alice")
    ship(work=work, tracking_number="YK9", actor="alice")
    client.force_login(MerchandiserFactory())
    url = reverse("admin:orders_order_action_resend_event", args=[work.order_id])
    page = client.get(url).content.decode()
    shipped = SyncMessage.objects.get(event="shipped")
    assert f'value="{shipped.pk}"' in page and "#1 shipped" in page
    res = client.post(url, {"message": shipped.pk})
    assert res.status_code == 302
    assert [(e, s, p["tracking_number"]) for e, s, p in events(world.web)] == [("shipped", 1, "YK9"), ("shipped", 2, "YK9")]
