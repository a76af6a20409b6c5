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
