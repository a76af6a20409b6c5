"""A pickup line that ended backordered (its store rejected it, the customer's question expired into
the channel's backorder rule) is not a dead end: when stock arrives, the backorder job gives it to the
pickup store itself once that store received new units, or ships it there from another location
(ship-to-store). A store that rejected and received nothing since is not sent the line again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fulfillment.models import ChannelChoicePolicy, RejectReason, Work, WorkKind, WorkStatus
from fulfillment.notifications.sms import LocmemSmsBackend
from fulfillment.services import reject
from fulfillment.services.choices import choices_expire
from inventory.models import Transfer
from inventory.services import ledger_check
from orders.models import AllocationStatus, LineStatus
from orders.services import backorders_allocate

from .factories import place_bopis, receive

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sms(settings):
    settings.OMNI_SMS_BACKEND = "fulfillment.notifications.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()


def backordered_pickup(world, capture, reason=RejectReason.NOT_FOUND) -> Work:
    """Istanbul (the only store with shirts) cannot find them; nobody answers the question; the
    channel's rule backorders the line."""
    ChannelChoicePolicy.objects.create(channel=world.web, answer_within_hours=2)
    receive(world.shirt, world.ist, 2)
    work = place_bopis(world, "BO-1", ("SHIRT", 2), customer_email="ayse@example.com")
    with capture(execute=True):
        reject(work=work, quantities={work.lines.get().pk: (2, reason)}, actor="alice")
        choices_expire(now=timezone.now() + timedelta(hours=3))
    assert work.order.lines.get().status == LineStatus.BACKORDERED
    return work


def test_units_arriving_at_the_pickup_store_end_the_backorder_there(world, django_capture_on_commit_callbacks):
    work = backordered_pickup(world, django_capture_on_commit_callbacks)
    assert [r.backordered for r in backorders_allocate()] == []  # nothing sellable anywhere: not even tried

    receive(world.shirt, world.ist, 3)  # new units on the shelf of the store that rejected
    with django_capture_on_commit_callbacks(execute=True):
        results = backorders_allocate()

    assert [r.backordered for r in results] == [False]
    line = work.order.lines.get()
    assert line.status == LineStatus.ALLOCATED and line.status_reason == ""
    alloc = line.allocations.get(status=AllocationStatus.RESERVED)
    assert (alloc.location, alloc.quantity, alloc.ship_to_store) == (world.ist, 2, None)
    new_work = Work.objects.get(order=work.order, status=WorkStatus.NEW)
    assert (new_work.location, new_work.kind) == (world.ist, WorkKind.BOPIS)
    assert ledger_check() == []


def test_units_elsewhere_are_shipped_to_the_pickup_store(world, django_capture_on_commit_callbacks):
    work = backordered_pickup(world, django_capture_on_commit_callbacks)
    receive(world.shirt, world.ank, 5)  # the warehouse gets them; the customer still collects in Istanbul

    with django_capture_on_commit_callbacks(execute=True):
        results = backorders_allocate()

    assert [r.backordered for r in results] == [False]
    alloc = work.order.lines.get().allocations.get(status=AllocationStatus.RESERVED)
    assert (alloc.location, alloc.quantity, alloc.ship_to_store) == (world.ank, 2, world.ist)
    assert work.order.pickup_location == world.ist
    assert Work.objects.get(order=work.order, status=WorkStatus.NEW).kind == WorkKind.SHIP_TO_STORE
    assert not Transfer.objects.exists()  # the transfer starts when the warehouse dispatches
    assert ledger_check() == []


def test_a_store_that_rejected_without_new_units_is_not_sent_the_line_again(world, django_capture_on_commit_callbacks):
    # "Other": the store's figure stays (units still look available there), but it said no.
    work = backordered_pickup(world, django_capture_on_commit_callbacks, reason=RejectReason.OTHER)

    results = backorders_allocate()

    assert [r.backordered for r in results] == [True]
    assert work.order.lines.get().status == LineStatus.BACKORDERED
    assert not work.order.lines.get().allocations.filter(status=AllocationStatus.RESERVED).exists()
    assert ledger_check() == []
