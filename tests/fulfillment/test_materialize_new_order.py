"""Intake builds a new order's work from the allocations in hand (``materialize``'s path for an order
inserted in the same transaction); re-syncing the same order from the database (the general path)
must write exactly the same works, lines and events."""

from __future__ import annotations

import random
from datetime import datetime, time
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
import time_machine

from fulfillment.models import LocationSLA, Work, WorkEvent, WorkLine
from fulfillment.services import materialize
from omni.errors import Conflict, InsufficientStock
from orders.models import DeliveryMode
from orders.services import LineInput, OrderInput, order_create
from tests.orders.factories import ProductFactory, issue_token, receive

pytestmark = pytest.mark.django_db

WORK_FIELDS = [f.attname for f in Work._meta.concrete_fields if f.attname not in ("id", "pickup_code")]
LINE_FIELDS = [f.attname for f in WorkLine._meta.concrete_fields if f.attname not in ("id", "work_id")]
EVENT_FIELDS = [f.attname for f in WorkEvent._meta.concrete_fields if f.attname not in ("id", "work_id")]


def _rows(order_id: int) -> list[tuple]:
    """The order's works in key order, each with its lines and events (keys left out; a pickup
    code is random: only whether there is one)."""
    out = []
    for work in Work.objects.filter(order_id=order_id).order_by("id"):
        out.append((
            tuple(getattr(work, f) for f in WORK_FIELDS), bool(work.pickup_code),
            [tuple(getattr(ln, f) for f in LINE_FIELDS) for ln in WorkLine.objects.filter(work=work).order_by("id")],
            [tuple(getattr(ev, f) for f in EVENT_FIELDS) for ev in WorkEvent.objects.filter(work=work).order_by("id")],
        ))
    return out


def test_a_new_orders_work_is_the_work_the_general_path_writes_for_it(world, api_client):
    rng = random.Random(14)
    rare = ProductFactory(sku="RARE")
    for product in (world.shirt, world.mug, world.cap):
        for location, quantity in ((world.ist, 8), (world.ank, 60), (world.izm, 6)):
            receive(product, location, quantity)
    receive(rare, world.izm, 1)
    # A store counting its promise in opening hours (its own zone), the others around the clock.
    world.izm.timezone = "Europe/Istanbul"
    world.izm.save(update_fields=["timezone"])
    LocationSLA.objects.create(location=world.izm, opens_at=time(9), closes_at=time(18), open_days="012345", ship_hours=Decimal(6),
                               bopis_hours=Decimal(2), ship_to_store_hours=Decimal(30))
    world.market.scarcity_threshold = 3
    world.market.shortage_policy = "backorder"
    world.market.save()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.web)}")
    hold = api_client.post("/api/v1/holds", {"lines": [{"sku": "MUG", "quantity": 2}], "ttl_seconds": 300}, format="json")
    assert hold.status_code == 201, hold.json()
    specs: list[dict] = [
        dict(lines=[("MUG", 3), ("CAP", 1)], hold_id=hold.json()["id"]),
        dict(lines=[("SHIRT", 9), ("MUG", 1), ("SHIRT", 2)], delivery_mode="express"),
        dict(lines=[("SHIRT", 1), ("CAP", 2)], delivery_mode=DeliveryMode.BOPIS, pickup_location="ST-IZM"),
        dict(lines=[("MUG", 2)], delivery_mode=DeliveryMode.BOPIS, pickup_location="ST-IZM", ship_to_store=True),
        dict(lines=[("RARE", 2), ("MUG", 1)], channel=world.market),
    ]
    for _ in range(30):
        skus = rng.sample(["SHIRT", "MUG", "CAP"], rng.choice((1, 2, 3)))
        spec: dict = dict(lines=[(s, rng.choice((1, 2, 5))) for s in skus])
        if rng.random() < 0.25:
            spec.update(delivery_mode=DeliveryMode.BOPIS, pickup_location=rng.choice(["ST-IST", "ST-IZM"]),
                        ship_to_store=rng.random() < 0.5)
        specs.append(spec)
    placed = 0
    # a Tuesday evening in Istanbul: the Izmir store's promise rolls over to the next opening
    with time_machine.travel(datetime(2026, 3, 10, 16, 30, tzinfo=dt_timezone.utc), tick=False):
        for n, spec in enumerate(specs):
            channel = spec.pop("channel", world.web)
            lines = [LineInput(sku=s, quantity=q, unit_price=Decimal("4.50")) for s, q in spec.pop("lines")]
            try:
                order = order_create(channel=channel, data=OrderInput(external_id=f"M-{n}", lines=lines,
                                                                     latitude=38 + rng.random() * 3, longitude=27 + rng.random() * 6, **spec))
            except (InsufficientStock, Conflict):
                continue
            placed += 1
            written = _rows(order.pk)
            assert written, f"M-{n}: no work"
            # the same order re-synced from the database, without its work: the general path
            WorkEvent.objects.filter(work__order=order).delete()
            WorkLine.objects.filter(work__order=order).delete()
            Work.objects.filter(order=order).delete()
            materialize(order=order.pk)
            assert _rows(order.pk) == written, f"M-{n}"
    assert placed >= 25
