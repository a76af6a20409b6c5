"""``omni.bulk.bulk_update_fields`` writes what ``QuerySet.bulk_update`` writes (same rows, same
stored values for every kind of field), only the named fields, and refuses what it cannot write."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from inventory.models import Location
from omni.bulk import bulk_update_fields
from tests.inventory.factories import LocationFactory

pytestmark = pytest.mark.django_db

FIELDS = ["name", "latitude", "is_active", "daily_capacity", "handling_cost", "created_at", "postal_code"]


def _change(locations: list[Location]) -> None:
    for i, loc in enumerate(locations):
        loc.name = f"Renamed ‘{i}’ 'quoted'"
        loc.latitude = None if i % 2 else 40.123456
        loc.is_active = bool(i % 2)
        loc.daily_capacity = None if i == 0 else 10 * i
        loc.handling_cost = Decimal("3.75") + i
        loc.created_at = datetime(2026, 3, 1, 12, 30, i, tzinfo=timezone.utc)
        loc.postal_code = ""
        loc.city = "NOT WRITTEN"  # not among the fields


def _stored(pks: list[int]) -> list[tuple]:
    return list(Location.objects.filter(pk__in=pks).order_by("pk").values_list(*FIELDS, "city"))


def test_it_writes_what_bulk_update_writes():
    ours = [LocationFactory(city="Keep") for _ in range(5)]
    theirs = [LocationFactory(city="Keep") for _ in range(5)]
    _change(ours)
    _change(theirs)
    assert bulk_update_fields(Location, ours, FIELDS, batch_size=2) == 5
    Location.objects.bulk_update(theirs, FIELDS)
    mine, django = _stored([o.pk for o in ours]), _stored([o.pk for o in theirs])
    assert mine == django
    assert mine[0][0] == "Renamed ‘0’ 'quoted'" and mine[0][4] == Decimal("3.75") and mine[1][1] is None
    assert {row[-1] for row in mine} == {"Keep"}  # a field not named is not written


def test_it_refuses_what_it_cannot_write():
    loc = LocationFactory()
    with pytest.raises(ValueError, match="primary key"):
        bulk_update_fields(Location, [Location(code="new", name="x")], ["name"])
    with pytest.raises(ValueError, match="non-key"):
        bulk_update_fields(Location, [loc], ["id"])
    with pytest.raises(ValueError, match="at least one field"):
        bulk_update_fields(Location, [loc], [])
    assert bulk_update_fields(Location, [], ["name"]) == 0


def test_bulk_insert_stores_what_bulk_create_stores_and_sets_the_keys():
    """The order path's inserts (``bulk_insert``): the same rows as ``bulk_create`` for the same
    objects — JSON, decimals, nulls, a foreign key, ``auto_now_add`` stamped — in the order given."""
    from inventory.models import CycleCount
    from omni.bulk import bulk_insert
    from orders.models import Order, OrderEvent
    from tests.allocation.factories import ChannelFactory

    channel = ChannelFactory(code="web")
    order = Order.objects.create(channel=channel, external_id="A-1")

    def events() -> list[OrderEvent]:
        return [OrderEvent(order=order, kind="created", actor="api:partner", data={"lines": [{"sku": "TEE", "q": 2}], "ü": None}),
                OrderEvent(order=order, kind="routed", data={}),
                OrderEvent(order=order, kind="note", actor="x" * 150, data={"price": "19.90"})]

    ours, theirs = bulk_insert(OrderEvent, events()), OrderEvent.objects.bulk_create(events())

    assert [e.pk for e in ours] == sorted(e.pk for e in ours) and all(e.pk for e in ours)
    assert all(e.created_at is not None and not e._state.adding for e in ours)
    columns = ("order_id", "kind", "actor", "data")
    stored = {e.pk: e for e in OrderEvent.objects.filter(pk__in=[e.pk for e in ours + theirs])}
    assert [tuple(getattr(stored[e.pk], c) for c in columns) for e in ours] == \
        [tuple(getattr(stored[e.pk], c) for c in columns) for e in theirs]
    assert [stored[e.pk].created_at for e in ours] == [e.created_at for e in ours]

    # a related object that got its key after it was assigned is taken by its key at the insert
    copy = Order(channel=channel, external_id="B-2")
    event = OrderEvent(order=copy, kind="created")
    [copy] = bulk_insert(Order, [copy])
    [event] = bulk_insert(OrderEvent, [event])
    assert OrderEvent.objects.get(pk=event.pk).order_id == copy.pk == Order.objects.get(external_id="B-2").pk

    assert bulk_insert(OrderEvent, []) == []
    with pytest.raises(ValueError, match="new objects only"):
        bulk_insert(OrderEvent, [ours[0]])
    with pytest.raises(ValueError, match="database defaults"):
        bulk_insert(CycleCount, [CycleCount()])
