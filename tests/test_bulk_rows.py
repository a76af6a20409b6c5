"""``omni.bulk``'s rows (``Row``: a dict of field values instead of an instance): the insert gets
from a row exactly what it gets from ``Model(**row)`` — defaults, callables, ``auto_now_add``,
foreign keys by key, by saved instance and by an earlier group's row — for every model."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.apps import apps
from django.db import connection, models

from omni import bulk

pytestmark = pytest.mark.django_db

FIXED = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


def _insert_values(model: type[models.Model], kwargs: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """(the values of ``model(**kwargs)``, those of the row ``kwargs``), as the insert takes them."""
    alias = connection.alias
    plan = bulk._insert_plan(model, alias)[4]
    theirs = bulk._values(model(**kwargs), plan, connection, True)
    refs, raw = bulk._row_raw(model, dict(kwargs), bulk._row_plan(model, alias), {}, [])
    assert refs == {}
    return theirs, bulk._prepared(raw, plan, connection, True)


def _comparable(value: Any) -> Any:
    if hasattr(value, "obj") and hasattr(value, "dumps"):  # a JSON wrapper: by what it wraps
        return type(value), value.obj
    return type(value), value


def _assert_same(model: type[models.Model], theirs: list[Any], ours: list[Any]) -> None:
    for entry, a, b in zip(bulk._insert_plan(model, connection.alias)[4], theirs, ours, strict=True):
        field = entry[0]
        if _comparable(a) != _comparable(b):
            # a callable default (a new code, a uuid) gives each instance its own value: the same kind of value
            assert callable(field.default) and type(a) is type(b), (model._meta.label, field.name, a, b)


@pytest.mark.postgres
def test_a_row_of_defaults_is_what_an_instance_of_defaults_writes_for_every_model():
    served = refused = 0
    with mock.patch("django.utils.timezone.now", return_value=FIXED):
        for model in apps.get_models():
            if model._meta.proxy or not model._meta.managed or not isinstance(model._meta.pk, models.AutoField):
                continue
            try:
                bulk._row_plan(model, connection.alias)
            except ValueError:
                refused += 1  # a field with its own pre_save: rows are refused, instances still taken
                continue
            _assert_same(model, *_insert_values(model, {}))
            served += 1
    assert served > 40


@pytest.mark.postgres
def test_the_rows_the_order_path_writes_are_what_their_instances_write():
    """The models intake and materialize write as rows, with the kinds of values they are given
    (enums, None, JSON, aware and naive datetimes, keys, saved related instances)."""
    from fulfillment.models import Work, WorkEvent, WorkKind, WorkLine, WorkStatus
    from orders.models import Order, RoutingDecision
    from tests.allocation.factories import ChannelFactory
    from tests.inventory.factories import LocationFactory, ProductFactory

    channel, dc, tee = ChannelFactory(code="web"), LocationFactory(code="DC"), ProductFactory(sku="TEE")
    order = Order.objects.create(channel=channel, external_id="R-1")
    istanbul = dt.datetime(2026, 12, 1, 15, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Istanbul"))
    cases: list[tuple[type[models.Model], dict[str, Any]]] = [
        (Work, {"order_id": order.pk, "location_id": dc.pk, "pickup_location_id": None, "kind": WorkKind.BOPIS,
                "deadline": FIXED, "pickup_code": "AB12"}),
        (Work, {"order": order, "location": dc, "pickup_location": dc, "kind": "warehouse_ship", "deadline": istanbul,
                "status": WorkStatus.NEW, "on_time": None, "transfer_id": 2**40}),
        (WorkLine, {"work_id": 7, "allocation_id": 9, "order_line_id": 3, "product_id": tee.pk, "quantity": 2}),
        (WorkLine, {"work_id": 7, "allocation_id": 9, "order_line_id": 3, "product": tee, "quantity": 2, "picked": 1}),
        (WorkEvent, {"work_id": 7, "kind": "created", "actor_id": None, "actor_label": "system", "from_status": "",
                     "to_status": WorkStatus.NEW, "at": FIXED, "data": {"kind": "bopis", "deadline": FIXED.isoformat()}}),
        (WorkEvent, {"work_id": 7, "kind": "line_added", "at": dt.datetime(2026, 12, 1, 12, 0), "data": {}}),
        (RoutingDecision, {"order_id": order.pk, "kind": "intake", "profile_name": "default", "profile_version": None,
                           "candidates": [{"location": "DC", "score": 1.5}], "candidate_count": 1,
                           "plan": [{"line": 1, "location": "DC", "quantity": 2}], "reason": "only 'one'"}),
        (RoutingDecision, {"order": order, "profile_version": 3}),
    ]
    with mock.patch("django.utils.timezone.now", return_value=FIXED):
        for model, kwargs in cases:
            _assert_same(model, *_insert_values(model, kwargs))


def test_a_row_is_refused_what_an_instance_is_refused():
    from fulfillment.models import Work, WorkEvent
    from orders.models import Order

    with pytest.raises(TypeError):
        _insert_values(WorkEvent, {"work_id": 1, "no_such_field": 1})
    with pytest.raises(TypeError):
        bulk._row_raw(WorkEvent, {"work_id": 1, "work": None}, bulk._row_plan(WorkEvent, connection.alias), {}, [])
    with pytest.raises(ValueError, match="unsaved related object"):
        bulk._row_raw(Work, {"order": Order()}, bulk._row_plan(Work, connection.alias), {}, [])
    with pytest.raises(ValueError, match="unsaved related object"):
        bulk._row_raw(WorkEvent, {"work": {"kind": "x"}}, bulk._row_plan(WorkEvent, connection.alias), {}, [])


@pytest.mark.postgres
@pytest.mark.parametrize("keys", [True, False])
def test_a_chain_of_rows_stores_what_a_chain_of_instances_stores(keys: bool):
    """Parents and children as rows (a child naming its parent's row), mixed with instances:
    the same rows stored as from instances; instances are keyed as before, rows never."""
    from django.db import transaction

    from fulfillment.models import Work, WorkEvent, WorkLine
    from orders.models import Order, OrderLine
    from tests.allocation.factories import ChannelFactory
    from tests.inventory.factories import LocationFactory, ProductFactory

    channel, tee = ChannelFactory(code="web"), ProductFactory(sku="TEE")
    locations = [LocationFactory(code="DC"), LocationFactory(code="S1")]
    order = Order.objects.create(channel=channel, external_id="C-1")
    line = OrderLine.objects.create(order=order, line_no=1, product=tee, quantity=3, unit_price=Decimal("2.00"))

    def works(as_rows: bool) -> list[tuple]:
        make = (lambda model, **kw: kw) if as_rows else (lambda model, **kw: model(**kw))
        parents = [make(Work, order_id=order.pk, location_id=locations[i].pk, kind="bopis", deadline=FIXED, pickup_code=f"P{i}")
                   for i in range(2)]
        lines = [make(WorkLine, work=parents[i % 2], allocation_id=1000 * as_rows + i, order_line_id=line.pk,
                      product_id=tee.pk, quantity=i + 1) for i in range(3)]
        events = [make(WorkEvent, work=parents[i % 2], kind="line_added", actor_id=None, actor_label="system",
                       at=FIXED, data={"n": i, "rows": as_rows}) for i in range(3)]
        stamp = Order(channel=channel, external_id=f"C-{as_rows}")  # an instance among the rows
        with transaction.atomic():
            bulk.bulk_insert_chain((Order, [stamp]), (Work, parents), (WorkLine, lines), (WorkEvent, events), keys=keys)
            assert (stamp.pk is not None) is keys
        work_ids = Work.objects.filter(pickup_code__in=["P0", "P1"], id__gt=0).order_by("id").values_list("id", flat=True)
        stored = list(Work.objects.filter(id__in=list(work_ids)).order_by("id")
                      .values_list("pickup_code", "kind", "status", "deadline", "tracking_number"))
        stored += [(w.work.pickup_code, w.quantity, w.picked) for w in
                   WorkLine.objects.filter(work_id__in=list(work_ids)).select_related("work").order_by("id")]
        stored += [(e.work.pickup_code, e.data["n"], e.kind, e.actor_label, e.at) for e in
                   WorkEvent.objects.filter(work_id__in=list(work_ids)).select_related("work").order_by("id")]
        Work.objects.filter(id__in=list(work_ids)).delete()
        if as_rows:
            assert all("id" not in p for p in parents)
        return stored

    assert works(True) == works(False)


@pytest.mark.postgres
def test_keyed_insert_values_are_what_each_field_prepares():
    """``keyed_insert_values`` (the allocations' deferred insert): the key and every column as
    ``get_db_prep_save(pre_save(obj, True))`` gives them."""
    from orders.models import Allocation, AllocationStatus

    allocations = [
        Allocation(pk=10, line_id=3, location_id=4, quantity=2, reservation_id=None),
        Allocation(pk=11, line_id=3, location_id=4, quantity=1, reservation_id=2**40, status=AllocationStatus.CANCELLED,
                   ship_to_store_id=5, reason="gone 'now'", closed_at=dt.datetime(2026, 12, 1, 12, 0)),
    ]
    fields = [f for f in Allocation._meta.concrete_fields if not getattr(f, "generated", False)]
    with mock.patch("django.utils.timezone.now", return_value=FIXED), pytest.warns(RuntimeWarning):
        theirs = [f.get_db_prep_save(f.pre_save(a, True), connection) for a in allocations for f in fields]
        ours = bulk.keyed_insert_values(Allocation, allocations, connection.alias)
    assert [_comparable(v) for v in ours] == [_comparable(v) for v in theirs]


def test_elsewhere_than_postgresql_rows_are_built_as_instances_and_created_group_by_group():
    """``_create_each`` (SQLite's ``make run``): a row is ``Model(**row)``, its foreign key to an
    earlier group's row that row's instance (keyed by the earlier ``bulk_create``)."""
    from fulfillment.models import Work, WorkEvent, WorkLine
    from orders.models import Order, OrderLine
    from tests.allocation.factories import ChannelFactory
    from tests.inventory.factories import LocationFactory, ProductFactory

    channel, tee, dc = ChannelFactory(code="web"), ProductFactory(sku="TEE"), LocationFactory(code="DC")
    order = Order.objects.create(channel=channel, external_id="E-1")
    line = OrderLine.objects.create(order=order, line_no=1, product=tee, quantity=3, unit_price=Decimal("2.00"))
    work = {"order_id": order.pk, "location_id": dc.pk, "kind": "bopis", "deadline": FIXED, "pickup_code": "E1"}
    lines = [{"work": work, "allocation_id": 77, "order_line_id": line.pk, "product_id": tee.pk, "quantity": 1}]
    events = [{"work": work, "kind": "line_added", "at": FIXED, "data": {"json": {"nested": True}}}]
    bulk._create_each([(Work, [work]), (WorkLine, lines), (WorkEvent, events)], connection.alias)
    stored = Work.objects.get(pickup_code="E1")
    assert list(stored.lines.values_list("allocation_id", "quantity")) == [(77, 1)]
    assert list(stored.events.values_list("kind", "data")) == [("line_added", {"json": {"nested": True}})]
