"""The stock ledger: every service changes stock and writes the ledger, or refuses and changes nothing."""

from __future__ import annotations

import pytest

from inventory import services
from inventory.models import OutboxEvent, Reservation, StockLevel, StockMovement
from omni.errors import Conflict, IllegalTransition, InsufficientStock, ValidationFailed

from .factories import LocationFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sku():
    return ProductFactory(sku="TSHIRT-M")


@pytest.fixture
def store():
    return LocationFactory(code="ST-01")


def level(product, location) -> StockLevel:
    return StockLevel.objects.get(product=product, location=location)


def snapshot():
    return (
        list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved", "damaged")),
        StockMovement.objects.count(),
        Reservation.objects.count(),
    )


def test_receive_sell_return_write_ledger_with_balances(sku, store):
    services.stock_receive(product=sku, location=store, quantity=10, source="wms")
    services.stock_sell(product=sku, location=store, quantity=3, source="pos")
    services.stock_return(product=sku, location=store, quantity=1, source="pos")
    services.stock_return(product=sku, location=store, quantity=1, resellable=False, source="pos")

    row = level(sku, store)
    assert (row.on_hand, row.damaged) == (8, 1)
    ledger = list(StockMovement.objects.order_by("id").values_list("reason", "bucket", "quantity", "balance_after"))
    assert ledger == [
        ("receipt", "on_hand", 10, 10),
        ("sale", "on_hand", -3, 7),
        ("return", "on_hand", 1, 8),
        ("return", "damaged", 1, 1),
    ]
    assert services.ledger_check() == []
    assert OutboxEvent.objects.filter(product=sku).count() == 4


def test_sale_below_zero_is_refused_and_changes_nothing(sku, store):
    services.stock_receive(product=sku, location=store, quantity=2)
    before = snapshot()
    with pytest.raises(InsufficientStock) as err:
        services.stock_sell(product=sku, location=store, quantity=3)
    assert "TSHIRT-M" in err.value.message and "ST-01" in err.value.message
    assert snapshot() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, "3", True, None])
def test_bad_quantities_are_refused(sku, store, bad):
    with pytest.raises(ValidationFailed) as err:
        services.stock_receive(product=sku, location=store, quantity=bad)
    assert err.value.code == "invalid_quantity"
    assert StockMovement.objects.count() == 0


def test_same_external_id_applies_once_and_different_content_conflicts(sku, store):
    first = services.stock_receive(product=sku, location=store, quantity=5, source="erp", external_id="GRN-1")
    again = services.stock_receive(product=sku, location=store, quantity=5, source="erp", external_id="GRN-1")
    assert not first.replayed and again.replayed
    assert level(sku, store).on_hand == 5
    with pytest.raises(Conflict) as err:
        services.stock_receive(product=sku, location=store, quantity=6, source="erp", external_id="GRN-1")
    assert err.value.code == "duplicate_external_id"
    # the same id from another source is another movement
    services.stock_receive(product=sku, location=store, quantity=1, source="pos", external_id="GRN-1")
    assert level(sku, store).on_hand == 6


def test_damage_moves_units_between_buckets(sku, store):
    services.stock_receive(product=sku, location=store, quantity=4)
    services.stock_mark_damaged(product=sku, location=store, quantity=1, note="torn")
    row = level(sku, store)
    assert (row.on_hand, row.damaged) == (3, 1)
    assert services.ledger_check() == []


def test_adjust_needs_reason(sku, store):
    with pytest.raises(ValidationFailed) as err:
        services.stock_adjust(product=sku, location=store, quantity=2, note=" ")
    assert err.value.code == "reason_required"
    services.stock_receive(product=sku, location=store, quantity=5)
    services.stock_adjust(product=sku, location=store, quantity=-2, note="shrinkage")
    assert level(sku, store).on_hand == 3


def test_transfer_out_in_transit_in(sku, store):
    dc = LocationFactory(code="DC-01", kind="dc")
    services.stock_receive(product=sku, location=dc, quantity=10)
    transfer = services.transfer_ship(product=sku, from_location=dc, to_location=store, quantity=4, external_id="T-1").transfer
    assert level(sku, dc).on_hand == 6
    assert transfer.status == "in_transit"
    assert services.transfer_ship(product=sku, from_location=dc, to_location=store, quantity=4, external_id="T-1").transfer.pk == transfer.pk
    services.transfer_receive(transfer=transfer, quantity=3)
    transfer.refresh_from_db()
    assert (transfer.status, transfer.received_quantity) == ("received", 3)
    assert level(sku, store).on_hand == 3
    with pytest.raises(IllegalTransition):
        services.transfer_receive(transfer=transfer)
    assert services.ledger_check() == []


def test_cycle_count_posts_variance(sku, store):
    services.stock_receive(product=sku, location=store, quantity=10)
    count = services.cycle_count_record(product=sku, location=store, counted=8).count
    assert (count.system_quantity, count.variance) == (10, -2)
    assert level(sku, store).on_hand == 8
    exact = services.cycle_count_record(product=sku, location=store, counted=8).count
    assert exact.is_accurate
    assert StockMovement.objects.filter(reason="count").count() == 1


def test_reservations_first_reserve_wins_and_balance(sku, store):
    services.stock_receive(product=sku, location=store, quantity=3)
    r1 = services.reservation_create(product=sku, location=store, quantity=2, reference="order-line:1")
    with pytest.raises(InsufficientStock) as err:
        services.reservation_create(product=sku, location=store, quantity=2, reference="order-line:2")
    assert err.value.details["available"] == 1
    # reserved units cannot be sold at the POS
    with pytest.raises(InsufficientStock) as err:
        services.stock_sell(product=sku, location=store, quantity=2)
    assert err.value.code == "stock_reserved"
    services.reservation_consume(reservation=r1, quantity=1)
    row = level(sku, store)
    assert (row.on_hand, row.reserved) == (2, 1)
    services.reservation_release(reservation=r1)
    assert level(sku, store).reserved == 0
    assert services.ledger_check() == []


def test_multi_line_reservation_is_all_or_nothing(sku, store):
    other = ProductFactory(sku="JEANS-32")
    services.stock_receive(product=sku, location=store, quantity=5)
    services.stock_receive(product=other, location=store, quantity=1)
    with pytest.raises(InsufficientStock):
        services.reservations_create(
            requests=[
                services.ReservationRequest(product=sku, location=store, quantity=2, reference="o:1"),
                services.ReservationRequest(product=other, location=store, quantity=2, reference="o:1"),
            ]
        )
    assert Reservation.objects.count() == 0
    assert level(sku, store).reserved == 0


def test_ledger_check_reports_drift(sku, store):
    services.stock_receive(product=sku, location=store, quantity=5)
    StockLevel.objects.filter(product=sku).update(on_hand=7)  # simulate a write that bypassed services
    drift = services.ledger_check()
    assert [(d.sku, d.location, d.field, d.recorded, d.expected) for d in drift] == [("TSHIRT-M", "ST-01", "on_hand", 7, 5)]


def test_a_late_count_applies_its_variance_to_todays_figure(sku, store):
    services.stock_receive(product=sku, location=store, quantity=10)
    # counted 7 this morning (variance −3); 2 sold since; approved now: 8 − 3 = 5, the sales are kept
    services.stock_sell(product=sku, location=store, quantity=2)
    count = services.cycle_count_record(product=sku, location=store, variance=-3).count
    assert (count.system_quantity, count.counted, count.variance) == (8, 5, -3)
    assert level(sku, store).on_hand == 5
    assert services.ledger_check() == []
    with pytest.raises(ValidationFailed):
        services.cycle_count_record(product=sku, location=store, counted=5, variance=-1)
