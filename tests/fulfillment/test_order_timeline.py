"""The order page in the admin tells the whole story: the order's events and its fulfilment steps
(picked, packed, shipped with tracking, ready, collected, the customer's question and the missing
answer), worded for a merchandiser, in time order, each with who did it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import ChannelChoicePolicy, RejectReason
from fulfillment.notifications.sms import LocmemSmsBackend
from fulfillment.services import Verification, hand_over, mark_ready, pack, pick, reject, ship
from fulfillment.services.choices import choices_expire
from tests.inventory.factories import MerchandiserFactory

from .factories import place, place_bopis, receive

pytestmark = pytest.mark.django_db
admin.autodiscover()


@pytest.fixture(autouse=True)
def sms(settings):
    settings.OMNI_SMS_BACKEND = "fulfillment.notifications.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()


def timeline(client, order) -> list[tuple[str, str, str]]:
    """(time, who, what) of each row of the order page's timeline."""
    client.force_login(MerchandiserFactory(username=f"merch-{order.pk}"))
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    block = re.search(r'<ol class="omni-timeline">(.*?)</ol>', page, re.S)
    assert block, "no timeline on the order page"
    rows = re.findall(r'<time>(.*?)</time> <span class="who">(.*?)</span> <span class="what">(.*?)</span>', block.group(1))
    return [(t, who, what.replace("&#x27;", "'")) for t, who, what in rows]


def test_a_shipment_shows_picked_packed_and_shipped_with_its_tracking(world, client):
    receive(world.shirt, world.ist, 5)
    work = place(world, "TL-1", ("SHIRT", 2))
    pick(work=work, line=work.lines.get(), qty=2, actor="alice")
    pack(work=work, box_type="S", actor="alice")
    ship(work=work, tracking_number="TRK-42", carrier="UPS", actor="bob")

    rows = timeline(client, work.order)
    whats = [what for _t, _who, what in rows]
    assert whats[0] == "Order placed"
    steps = [w for w in whats if w.startswith("ST-IST:")]
    assert steps == ["ST-IST: picking started", "ST-IST: picked 2 × SHIRT", "ST-IST: everything picked",
                     "ST-IST: packed (S)", "ST-IST: shipped with UPS, tracking TRK-42"]
    assert ("bob", "ST-IST: shipped with UPS, tracking TRK-42") in [(who, what) for _t, who, what in rows]
    assert [t for t, _w, _x in rows] == sorted(t for t, _w, _x in rows)  # in time order
    # the order's own event about the shipped units comes after the pack, not in a block of its own
    assert whats.index("ST-IST: packed (S)") < whats.index("2 of line 1 shipped or collected at ST-IST")


def test_a_pickup_shows_ready_and_collected_with_the_id_check(world, client, django_capture_on_commit_callbacks):
    receive(world.shirt, world.ist, 5)
    work = place_bopis(world, "TL-2", ("SHIRT", 1))
    pick(work=work, line=work.lines.get(), qty=1, actor="alice")
    with django_capture_on_commit_callbacks(execute=True):
        mark_ready(work=work, actor="alice")
    hand_over(work=work, verification=Verification(collector_name="Ayşe Yılmaz", id_kind="national_id"), actor="bob")

    whats = [what for _t, _who, what in timeline(client, work.order)]
    ready = whats.index("Ready for pickup at ST-IST; the customer was sent the pickup code")
    handed = whats.index("Handed over at ST-IST to Ayşe Yılmaz (customer, national id checked): 1 × SHIRT")
    assert ready < handed < whats.index("Collected at ST-IST")


def test_the_customers_question_and_the_missing_answer_are_on_the_timeline(world, client, django_capture_on_commit_callbacks):
    ChannelChoicePolicy.objects.create(channel=world.web, answer_within_hours=2)
    receive(world.shirt, world.ist, 2)
    work = place_bopis(world, "TL-3", ("SHIRT", 2), customer_email="ayse@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        reject(work=work, quantities={work.lines.get().pk: (2, RejectReason.NOT_FOUND)}, actor="alice")
        choices_expire(now=timezone.now() + timedelta(hours=3))

    rows = timeline(client, work.order)
    whats = [what for _t, _who, what in rows]
    asked = next(i for i, w in enumerate(whats) if w.startswith("The customer was asked what to do with 2 of line 1"))
    assert "cancel" in whats[asked]
    assert whats[asked + 1:].count("The customer did not answer in time: line 1 backordered") == 1
    assert not any(w.startswith(("Transition", "Rejected", "Customer choice")) for w in whats)  # no raw kinds
