"""Reservations: batch release and hand-over keep reserved == sum(open reservations), take rows
in primary-key order, and change nothing when they refuse."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import services
from omni.db.postgresql.base import statement_of
from inventory.models import OutboxEvent, Reservation, StockLevel
from omni.errors import IllegalTransition, InsufficientStock

from .factories import LocationFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock():
    a, b = ProductFactory(sku="RS-A"), ProductFactory(sku="RS-B")
    store = LocationFactory(code="RS-ST")
    for p in (a, b):
        services.stock_receive(product=p, location=store, quantity=10)
    return a, b, store


def state():
    return (
        sorted(StockLevel.objects.values_list("pk", "on_hand", "reserved")),
        sorted(Reservation.objects.values_list("pk", "reference", "quantity", "status")),
    )


def test_release_many_gives_everything_back_and_skips_closed_ones_on_request(stock):
    a, b, store = stock
    r1 = services.reservation_create(product=a, location=store, quantity=2, reference="t:1")
    r2 = services.reservation_create(product=b, location=store, quantity=3, reference="t:2")
    r3 = services.reservation_create(product=a, location=store, quantity=1, reference="t:3")
    services.reservation_release(reservation=r3)
    before = state()
    with pytest.raises(IllegalTransition):
        services.reservations_release(reservations=[r2, r1, r3])
    assert state() == before  # refused: nothing released
    released = services.reservations_release(reservations=[r2, r1, r3], skip_closed=True)
    assert sorted(r.pk for r in released) == [r1.pk, r2.pk]
    assert sorted(StockLevel.objects.values_list("reserved", flat=True)) == [0, 0]
    assert set(Reservation.objects.values_list("status", flat=True)) == {"released"}
    assert services.ledger_check() == []


def test_release_many_updates_stock_rows_in_primary_key_order(stock):
    a, b, store = stock
    rb = services.reservation_create(product=b, location=store, quantity=1, reference="t:b")
    ra = services.reservation_create(product=a, location=store, quantity=1, reference="t:a")
    level_ids = sorted(StockLevel.objects.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as ctx:
        services.reservations_release(reservations=[rb, ra])
    sqls = [statement_of(q["sql"]) for q in ctx.captured_queries]
    updated = [int(sql.rsplit("=", 1)[1].strip(" )")) for sql in sqls if sql.startswith('UPDATE "inventory_stocklevel"')]
    assert updated == level_ids


def test_reassign_hands_units_over_whole_and_in_part_and_releases_the_rest(stock):
    a, b, store = stock
    hold_a = services.reservation_create(product=a, location=store, quantity=3, reference="cart:1:0")
    hold_b = services.reservation_create(product=b, location=store, quantity=2, reference="cart:1:1")
    outbox_before = OutboxEvent.objects.count()
    done = services.reservations_reassign(
        moves=[services.ReservationMove(reservation_id=hold_a.pk, quantity=2, reference="order:9:a"),
               services.ReservationMove(reservation_id=hold_b.pk, quantity=2, reference="order:9:b")],
        release_rest_of=[hold_a.pk, hold_b.pk],
    )
    assert [(r.reference, r.quantity) for r in done.moved] == [("order:9:a", 2), ("order:9:b", 2)]
    assert done.released == 1
    rows = dict(Reservation.objects.values_list("reference", "status"))
    assert rows == {"cart:1:0": "released", "cart:1:1": "consumed", "order:9:a": "open", "order:9:b": "open"}
    assert Reservation.objects.get(pk=hold_a.pk).quantity == 1  # what was given back
    levels = {lv.product_id: lv.reserved for lv in StockLevel.objects.all()}
    assert levels == {a.pk: 2, b.pk: 2}
    assert OutboxEvent.objects.count() == outbox_before + 1  # only the released unit changes availability
    assert services.ledger_check() == []


def test_reassign_reserves_more_in_the_same_pass_or_nothing_at_all(stock):
    a, b, store = stock
    held = services.reservation_create(product=a, location=store, quantity=2, reference="cart:2:0")
    before = state()
    with pytest.raises(InsufficientStock):
        services.reservations_reassign(
            moves=[services.ReservationMove(reservation_id=held.pk, quantity=2, reference="order:1:a")],
            requests=[services.ReservationRequest(product=b, location=store, quantity=11, reference="order:1:b")],
        )
    assert state() == before
    done = services.reservations_reassign(
        moves=[services.ReservationMove(reservation_id=held.pk, quantity=2, reference="order:1:a")],
        requests=[services.ReservationRequest(product=b, location=store, quantity=4, reference="order:1:b")],
    )
    assert [(r.reference, r.quantity) for r in done.created] == [("order:1:b", 4)]
    assert services.ledger_check() == []


def test_reassign_refuses_a_closed_reservation_and_changes_nothing(stock):
    a, _b, store = stock
    held = services.reservation_create(product=a, location=store, quantity=2, reference="cart:3:0")
    services.reservation_release(reservation=held)
    before = state()
    with pytest.raises(IllegalTransition) as err:
        services.reservations_reassign(moves=[services.ReservationMove(reservation_id=held.pk, quantity=2, reference="o")])
    assert err.value.code == "reservation_closed"
    assert state() == before


def test_several_reservations_take_one_round_trip_and_all_or_nothing(stock):
    a, b, store = stock
    with CaptureQueriesContext(connection) as ctx:
        made = services.reservations_create(requests=[
            services.ReservationRequest(product=b, location=store, quantity=4, reference="multi:b"),
            services.ReservationRequest(product=a, location=store, quantity=3, reference="multi:a"),
        ])
    assert [(r.reference, r.quantity) for r in made] == [("multi:b", 4), ("multi:a", 3)]  # in the order asked
    reserving = [q["sql"] for q in ctx.captured_queries if "EXECUTE omni_reserve_" in q["sql"]]
    if connection.vendor == "postgresql":
        assert len(reserving) == 1 and reserving[0].count("EXECUTE omni_reserve_") == 2
    before = state()
    # the first (in row order) fits, the second does not: neither stays reserved
    with pytest.raises(InsufficientStock, match="RS-B"):
        services.reservations_create(requests=[
            services.ReservationRequest(product=a, location=store, quantity=1, reference="multi:a2"),
            services.ReservationRequest(product=b, location=store, quantity=7, reference="multi:b2"),
        ])
    assert state() == before


@pytest.mark.parametrize("expires_at", [None, "aware", "naive"])
@pytest.mark.parametrize("reference", ["order-allocation:7", "h" * 200, ""])
def test_a_new_reservation_is_built_as_reservation_pk_builds_it(expires_at, reference):
    """``_reservation`` builds through ``omni.instances.new`` (``id=``): the same instance as
    ``Reservation(pk=…, …)`` — attributes in the same order, values, ``_state``."""
    import datetime

    from inventory.services.reservations import ReservationRequest, _reservation
    from inventory.models import Location, Product, ReservationStatus

    when = {None: None, "aware": datetime.datetime(2026, 1, 2, 3, 4, tzinfo=datetime.timezone.utc),
            "naive": datetime.datetime(2026, 1, 2, 3, 4)}[expires_at]
    req = ReservationRequest(product=Product(pk=3, sku="S"), location=Location(pk=4, code="L"), quantity=5,
                             reference=reference, expires_at=when)
    built = _reservation(req, 91, 17)
    plain = Reservation(pk=91, stock_level_id=17, quantity=5, reference=reference[:128], expires_at=when,
                        status=ReservationStatus.OPEN)
    assert type(built) is Reservation
    assert list(built.__dict__) == list(plain.__dict__)
    assert {k: v for k, v in built.__dict__.items() if k != "_state"} == {k: v for k, v in plain.__dict__.items() if k != "_state"}
    assert vars(built._state) == vars(plain._state)
    assert built.pk == 91 and built._state.adding is True
