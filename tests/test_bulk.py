"""``omni.bulk.bulk_update_fields`` writes what ``QuerySet.bulk_update`` writes (same rows, same
stored values for every kind of field), only the named fields, and refuses what it cannot write."""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

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


def test_bulk_insert_chain_writes_parents_and_children_in_one_statement():
    """``bulk_insert_chain`` (the order path's order + lines, work + lines + events): the same rows
    as ``bulk_create`` table by table, each child with ITS parent's new key — several parents, the
    children interleaved — every instance keyed and marked saved, in one statement on PostgreSQL."""
    from django.db import IntegrityError, connection, transaction
    from django.test.utils import CaptureQueriesContext

    from omni.bulk import bulk_insert_chain
    from orders.models import Order, OrderEvent, OrderLine, RoutingDecision
    from tests.allocation.factories import ChannelFactory
    from tests.inventory.factories import ProductFactory

    channel = ChannelFactory(code="web")
    tee, cap = ProductFactory(sku="TEE"), ProductFactory(sku="CAP")

    def rows(tag: str) -> tuple[list[Order], list[OrderLine], list[OrderEvent], list[RoutingDecision]]:
        a, b = Order(channel=channel, external_id=f"{tag}-A", city="Köln"), Order(channel=channel, external_id=f"{tag}-B")
        lines = [OrderLine(order=b, line_no=1, product=cap, quantity=3, unit_price=Decimal("4.50")),
                 OrderLine(order=a, line_no=1, product=tee, quantity=1, unit_price=Decimal("19.90")),
                 OrderLine(order=b, line_no=2, product=tee, quantity=2, unit_price=Decimal("0"), status_reason="it's ‘quoted’")]
        events = [OrderEvent(order=a, kind="created", data={"lines": [1]}), OrderEvent(order=b, kind="created", data={})]
        decisions = [RoutingDecision(order=b, kind="intake", profile_name="default", candidates=[{"x": 1.5}], plan=[], reason="")]
        return [a, b], lines, events, decisions

    orders, lines, events, decisions = rows("ours")
    with CaptureQueriesContext(connection) as ctx:
        bulk_insert_chain((Order, orders), (OrderLine, lines), (OrderEvent, events), (RoutingDecision, decisions))
    if connection.vendor == "postgresql":
        assert len(ctx.captured_queries) == 1
    theirs = rows("theirs")
    for model, objs in zip((Order, OrderLine, OrderEvent, RoutingDecision), theirs, strict=True):
        model._default_manager.bulk_create(objs)

    for ours_group, their_group in zip((orders, lines, events, decisions), theirs, strict=True):
        assert all(o.pk and not o._state.adding and o._state.db == "default" for o in ours_group)
        assert [o.pk for o in ours_group] == sorted(o.pk for o in ours_group)  # keyed in the order given
        model = type(ours_group[0])
        skip = {"id", "created_at", "updated_at", "external_id"}
        columns = [f.attname for f in model._meta.concrete_fields if f.name not in skip]

        def stored(group: list, columns: list[str] = columns, model: type = model) -> list[tuple]:
            by_pk = {o.pk: o for o in model._default_manager.filter(pk__in=[o.pk for o in group])}
            return [tuple(getattr(by_pk[o.pk], c) for c in columns) for o in group]

        # the same values, with each reference to a parent pointing at the corresponding parent
        mine = [tuple(x.replace("ours", "theirs") if isinstance(x, str) else x for x in row) for row in stored(ours_group)]
        pk_map = {o.pk: t.pk for o, t in zip(orders, theirs[0], strict=True)}
        if "order_id" in columns:
            at = columns.index("order_id")
            mine = [(*row[:at], pk_map[row[at]], *row[at + 1:]) for row in mine]
        assert mine == stored(their_group)
    assert [ln.order_id for ln in lines] == [orders[1].pk, orders[0].pk, orders[1].pk]
    assert lines[0].order is orders[1] and decisions[0].order_id == orders[1].pk
    assert list(OrderLine.objects.filter(order=orders[1]).values_list("line_no", "product__sku")) == [(1, "CAP"), (2, "TEE")]

    # all or nothing: a line refused by a constraint leaves no order either
    order = Order(channel=channel, external_id="C-3")
    twice = [OrderLine(order=order, line_no=1, product=tee, quantity=1, unit_price=0) for _ in range(2)]
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk_insert_chain((Order, [order]), (OrderLine, twice))
    assert not Order.objects.filter(external_id="C-3").exists()

    # a related object that neither has a key nor is written earlier in the chain is refused
    with pytest.raises(ValueError, match="unsaved related object 'order'"):
        bulk_insert_chain((OrderEvent, [OrderEvent(order=Order(channel=channel, external_id="D-4"), kind="x")]))
    bulk_insert_chain((Order, []), (OrderLine, []))  # nothing to write: no statement


@pytest.mark.django_db
@pytest.mark.postgres
def test_bulk_insert_chain_refuses_a_model_whose_keys_do_not_come_from_a_sequence():
    from django.db import models

    from omni.bulk import bulk_insert_chain
    from orders.models import Hold

    assert not isinstance(Hold._meta.pk, models.AutoField)  # a UUID key
    with pytest.raises(ValueError, match="sequence primary key"):
        bulk_insert_chain((Hold, [Hold()]))


@pytest.mark.django_db
@pytest.mark.postgres
def test_bulk_insert_chain_without_keys_rides_on_the_next_statement():
    """``keys=False`` (a new order's works): no round trip of its own; the rows are there for the
    next statement of the transaction, and gone with a savepoint rolled back before it."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from omni.bulk import bulk_insert_chain
    from orders.models import Order, OrderLine
    from tests.allocation.factories import ChannelFactory
    from tests.inventory.factories import ProductFactory

    channel, tee = ChannelFactory(code="web"), ProductFactory(sku="TEE")

    def chain(external_id: str) -> tuple[Order, OrderLine]:
        order = Order(channel=channel, external_id=external_id)
        line = OrderLine(order=order, line_no=1, product=tee, quantity=2, unit_price=Decimal("1.50"))
        bulk_insert_chain((Order, [order]), (OrderLine, [line]), keys=False)
        return order, line

    for _ in range(2):  # plainly, then as the prepared statement it became
        with transaction.atomic():
            with CaptureQueriesContext(connection) as ctx:
                order, line = chain(f"K-{_}")
            # nothing sent (but a DEALLOCATE ALL when the connection's prepared statements had to be reset)
            assert all(q["sql"].endswith("DEALLOCATE ALL") for q in ctx.captured_queries)
            assert order.pk is None and line.pk is None
            with CaptureQueriesContext(connection) as ctx:
                stored = list(OrderLine.objects.filter(order__external_id=f"K-{_}").values_list("line_no", "quantity"))
            assert stored == [(1, 2)] and len(ctx.captured_queries) == 1

    with pytest.raises(RuntimeError), transaction.atomic():
        Order.objects.count()
        with transaction.atomic():
            chain("K-GONE")
            raise RuntimeError("undo")
    assert not Order.objects.filter(external_id="K-GONE").exists()
    with transaction.atomic():
        chain("K-LAST")  # nothing follows in the block: it goes with whatever ends it
    assert Order.objects.filter(external_id="K-LAST", lines__quantity=2).exists()


def _prepared(value: Any) -> Any:
    """A prepared value, comparable: its type and content (a JSON wrapper by what it wraps)."""
    if hasattr(value, "obj") and hasattr(value, "dumps"):
        return type(value), value.obj, value.dumps
    return type(value), value


def _outcome(run: Any) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("ok", _prepared(run()))
        except Exception as exc:  # the error itself is compared
            result = (type(exc), str(exc))
    return result, [(w.category, str(w.message)) for w in caught]


@pytest.mark.postgres
@pytest.mark.parametrize("use_tz", [True, False])
def test_the_insert_values_are_what_each_field_prepares_for_every_model_and_kind_of_value(use_tz: bool):
    """``omni.bulk`` prepares a value without asking its field only where Django's own
    ``get_db_prep_save(pre_save(obj, True))`` is known to give that value back (or Django's int
    wrapper): every concrete field of every model, given values of many types (right, wrong,
    naive, lazy, an enum, an expression), gets the same value, the same error, the same warning."""
    import datetime as dt
    import zoneinfo
    from unittest import mock

    from django.apps import apps
    from django.db import connection, models
    from django.db.models import F
    from django.test import override_settings
    from django.utils.translation import gettext_lazy

    from omni import bulk
    from orders.models import OrderStatus

    fixed = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
    values: list[Any] = [
        None, "", "text", "5", "o'brien", gettext_lazy("Cancelled"), OrderStatus.ALLOCATED, 0, 7, -3, 2**40, True, False,
        1.5, float("nan"), Decimal("12.50"), dt.date(2026, 12, 1), fixed, dt.datetime(2026, 12, 1, 12, 0),
        dt.datetime(2026, 12, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Istanbul")), [1, 2], {"a": 1}, F("id"),
    ]
    fast = 0
    with override_settings(USE_TZ=use_tz), mock.patch("django.utils.timezone.now", return_value=fixed):
        for model in apps.get_models():
            if model._meta.proxy or not model._meta.managed:
                continue
            for field in model._meta.concrete_fields:
                if field.primary_key or getattr(field, "generated", False):
                    continue
                entry = (field, field.attname, bulk._reads_attribute(field), bulk._value_plan(field, connection))
                fast += bool(entry[3])
                for value in values:
                    obj = model()
                    setattr(obj, field.attname, value)
                    theirs = _outcome(lambda: field.get_db_prep_save(field.pre_save(obj, True), connection))
                    setattr(obj, field.attname, value)
                    ours = _outcome(lambda: bulk._values(obj, [entry], connection, use_tz)[0])
                    assert ours == theirs, (model._meta.label, field.name, value)
    assert fast > 100  # the common fields are taken without asking them


def test_a_field_that_prepares_its_own_way_is_always_asked():
    from django.db import connection, models

    from omni import bulk

    class Upper(models.CharField):
        def get_prep_value(self, value: Any) -> Any:
            return super().get_prep_value(value).upper()

    class Doubled(models.IntegerField):
        def get_db_prep_save(self, value: Any, connection: Any) -> Any:
            return 2 * super().get_db_prep_save(value, connection)

    class Stamped(models.DateTimeField):
        def pre_save(self, model_instance: Any, add: bool) -> Any:
            return datetime(2026, 1, 1, tzinfo=timezone.utc)

    assert bulk._value_plan(Upper(max_length=5), connection) == {}
    assert bulk._value_plan(Doubled(), connection) == {}
    assert not bulk._reads_attribute(Stamped())
    assert not bulk._reads_attribute(models.DateTimeField(auto_now_add=True))
    assert bulk._reads_attribute(models.DateTimeField())


@pytest.mark.django_db
@pytest.mark.postgres
def test_bulk_insert_chain_builds_a_statement_once_per_shape():
    """The statement is kept per shape (the models, each group's rows and which earlier row each
    row refers to): the same shape with other values reuses it; the same tables and row counts
    with the children pointing at other parents is another statement, and each child gets its own
    parent's key."""
    from omni import bulk
    from orders.models import Order, OrderLine
    from tests.allocation.factories import ChannelFactory
    from tests.inventory.factories import ProductFactory

    channel, tee = ChannelFactory(code="web"), ProductFactory(sku="TEE")

    def chain(tag: str, parents: str) -> tuple[list[Order], list[OrderLine]]:
        orders = {p: Order(channel=channel, external_id=f"{tag}-{p}") for p in "ab"}
        lines = [OrderLine(order=orders[p], line_no=i, product=tee, quantity=i, unit_price=Decimal(i))
                 for i, p in enumerate(parents, 1)]
        bulk.bulk_insert_chain((Order, list(orders.values())), (OrderLine, lines))
        return list(orders.values()), lines

    bulk._CHAINS.clear()
    chain("one", "bab")
    assert len(bulk._CHAINS) == 1
    chain("two", "bab")
    assert len(bulk._CHAINS) == 1  # the same shape: the same statement
    orders, lines = chain("three", "abb")
    assert len(bulk._CHAINS) == 2
    a, b = orders
    stored = dict(OrderLine.objects.filter(order__in=orders).values_list("line_no", "order_id"))
    assert stored == {1: a.pk, 2: b.pk, 3: b.pk} == {ln.line_no: ln.order_id for ln in lines}
