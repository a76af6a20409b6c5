"""Bad input to the services is refused with a clear error and changes nothing; counts and
transfer receipts are idempotent by external id like every other movement."""

from __future__ import annotations

import pytest

from inventory import services
from inventory.models import CycleCount, Location, Product, StockLevel, StockMovement, Transfer
from omni.errors import Conflict, NotFound, ValidationFailed

from .factories import LocationFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sku():
    return ProductFactory(sku="TEE-M")


@pytest.fixture
def store():
    return LocationFactory(code="ST-01")


def snapshot():
    return (
        list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved", "damaged")),
        StockMovement.objects.count(), CycleCount.objects.count(), Transfer.objects.count(),
    )


@pytest.mark.parametrize("call", [
    lambda p, loc: services.stock_receive(product=Product(sku="GHOST"), location=loc, quantity=1),
    lambda p, loc: services.stock_sell(product=p, location=Location(code="NOWHERE"), quantity=1),
    lambda p, loc: services.stock_adjust(product=p, location=loc, quantity=0, note="x"),
    lambda p, loc: services.stock_mark_damaged(product=p, location=loc, quantity=-1),
    lambda p, loc: services.cycle_count_record(product=p, location=loc, counted=-1),
    lambda p, loc: services.cycle_count_record(product=p, location=loc, counted=2.5),
    lambda p, loc: services.transfer_ship(product=p, from_location=loc, to_location=loc, quantity=1),
    lambda p, loc: services.transfer_receive(transfer=999_999),
])
def test_bad_input_is_refused_and_changes_nothing(sku, store, call):
    services.stock_receive(product=sku, location=store, quantity=5)
    before = snapshot()
    with pytest.raises((ValidationFailed, NotFound)) as err:
        call(sku, store)
    assert err.value.code and err.value.message and err.value.details
    assert snapshot() == before


def test_inactive_location_is_refused(sku, store):
    Location.objects.filter(pk=store.pk).update(is_active=False)
    store.refresh_from_db()
    with pytest.raises(ValidationFailed) as err:
        services.stock_receive(product=sku, location=store, quantity=1)
    assert err.value.code == "inactive_location" and "ST-01" in err.value.message
    assert StockMovement.objects.count() == 0


def test_count_is_idempotent_even_without_variance_and_refuses_other_figures(sku, store):
    services.stock_receive(product=sku, location=store, quantity=8)
    first = services.cycle_count_record(product=sku, location=store, counted=8, source="wms", external_id="CC-1").count
    services.stock_sell(product=sku, location=store, quantity=2)
    again = services.cycle_count_record(product=sku, location=store, counted=8, source="wms", external_id="CC-1").count
    assert again.pk == first.pk
    assert StockLevel.objects.get().on_hand == 6  # the replay did not "correct" the later sale away
    with pytest.raises(Conflict) as err:
        services.cycle_count_record(product=sku, location=store, counted=5, source="wms", external_id="CC-1")
    assert err.value.code == "duplicate_external_id"
    assert CycleCount.objects.count() == 1


def test_transfer_receipt_is_idempotent_and_refuses_other_content(sku, store):
    dc = LocationFactory(code="DC-1", kind="dc")
    services.stock_receive(product=sku, location=dc, quantity=10)
    transfer = services.transfer_ship(product=sku, from_location=dc, to_location=store, quantity=4).transfer
    services.transfer_receive(transfer=transfer, quantity=4, source="pos", external_id="IN-1")
    before = snapshot()
    assert services.transfer_receive(transfer=transfer, quantity=4, source="pos", external_id="IN-1").transfer.pk == transfer.pk
    with pytest.raises(Conflict):
        services.transfer_receive(transfer=transfer, quantity=3, source="pos", external_id="IN-1")
    assert snapshot() == before
