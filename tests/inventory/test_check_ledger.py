from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inventory import services
from inventory.models import StockLevel

from .factories import LocationFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_check_ledger_clean_and_drift():
    tee, jeans, store = ProductFactory(sku="TEE-M"), ProductFactory(sku="JEANS-32"), LocationFactory(code="ST-01")
    services.stock_receive(product=tee, location=store, quantity=5)
    services.stock_receive(product=jeans, location=store, quantity=2)
    out = StringIO()
    call_command("check_ledger", stdout=out)
    assert "Ledger OK: 2 stock rows" in out.getvalue()

    StockLevel.objects.filter(product=tee).update(on_hand=7, damaged=1)  # writes that bypassed the services
    StockLevel.objects.filter(product=jeans).update(on_hand=0)
    out = StringIO()
    with pytest.raises(CommandError) as err:
        call_command("check_ledger", stdout=out)
    assert err.value.returncode == 1
    assert "3 discrepancies on 2 of 2 stock rows" in str(err.value)
    lines = [line.split() for line in out.getvalue().splitlines()[1:]]
    assert sorted((cols[1], cols[3], cols[4], cols[5]) for cols in lines) == [
        ("JEANS-32", "on_hand", "0", "2"),
        ("TEE-M", "damaged", "1", "0"),
        ("TEE-M", "on_hand", "7", "5"),
    ]


def test_open_reservations_whose_owner_is_gone_or_closed_are_reported(api_client):
    """An order deleted the way the old admin could, an allocation closed without releasing, a hold
    gone: their reservations would hold units forever; check_ledger says so and exits 1."""
    from django.contrib.auth import get_user_model

    from orders.models import Allocation, AllocationStatus, Hold, Order
    from orders.services import HoldLineInput, hold_create, order_create
    from tests.orders.factories import ChannelFactory, make_visible, order_input

    web, store = ChannelFactory(code="web"), LocationFactory(code="ST-OR", latitude=41.0, longitude=29.0)
    make_visible(web, store)
    tee = ProductFactory(sku="TEE-OR")
    services.stock_receive(product=tee, location=store, quantity=10)
    deleted = order_create(channel=web, data=order_input("OR-1", ("TEE-OR", 2)))
    closed = order_create(channel=web, data=order_input("OR-2", ("TEE-OR", 1)))
    kept = order_create(channel=web, data=order_input("OR-3", ("TEE-OR", 1)))
    hold = hold_create(channel=web, lines=[HoldLineInput(sku="TEE-OR", quantity=3)], latitude=41.0, longitude=29.0)
    call_command("check_ledger", stdout=StringIO())  # all owners alive: OK

    gone_ref = f"order-allocation:{Allocation.objects.get(line__order=deleted).pk}"
    closed_ref = f"order-allocation:{Allocation.objects.get(line__order=closed).pk}"
    Order.objects.filter(pk=deleted.pk).delete()  # lines and allocations cascade; the reservation stays open
    Allocation.objects.filter(line__order=closed).update(status=AllocationStatus.CANCELLED)  # closed without releasing
    Hold.objects.filter(pk=hold.pk).delete()
    out = StringIO()
    with pytest.raises(CommandError) as err:
        call_command("check_ledger", stdout=out)
    assert err.value.returncode == 1
    assert "3 orphan reservation(s) holding 6 units" in str(err.value)
    assert "discrepancies" not in str(err.value)  # reserved still equals the open reservations
    text = out.getvalue()
    assert gone_ref in text and closed_ref in text and f"hold:{hold.pk}:0" in text
    assert f"order-allocation:{Allocation.objects.get(line__order=kept).pk}" not in text

    merchandiser = get_user_model().objects.create_superuser("m", "m@example.com", "pw")
    api_client.force_authenticate(merchandiser)
    body = api_client.get("/api/v1/ledger/check").json()
    assert body["ok"] is False
    assert sorted((d["field"], d["reference"], d["recorded"], d["expected"]) for d in body["discrepancies"]) == sorted([
        ("orphan_reservation", gone_ref, 2, 0), ("orphan_reservation", closed_ref, 1, 0),
        ("orphan_reservation", f"hold:{hold.pk}:0", 3, 0)])
