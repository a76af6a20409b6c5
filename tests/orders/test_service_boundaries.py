"""The orders services call each other only through public functions: a module of
``orders/services`` never imports another module's private (``_``) name. Ship-to-store locks an
allocation through ``allocation_lock``, which, like ``order_lock``, needs the caller's transaction."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from orders.models import Allocation
from orders.services import allocation_dispatch, allocation_lock, order_create

from .factories import order_input, receive

SERVICES = Path(__file__).resolve().parents[2] / "orders" / "services"


def _private_imports() -> list[str]:
    found = []
    for path in sorted(SERVICES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom):
                found += [f"{path.name}: from {'.' * node.level}{node.module or ''} import {a.name}"
                          for a in node.names if a.name.startswith("_") and a.name != "__future__"]
    return found


def test_no_orders_service_module_imports_a_private_name_of_another():
    assert _private_imports() == []


@pytest.mark.django_db(transaction=True)
def test_allocation_lock_outside_a_transaction_is_refused(world):
    receive(world.shirt, world.ist, 1)
    order = order_create(channel=world.web, data=order_input("L-1", ("SHIRT", 1)))
    with pytest.raises(RuntimeError, match="needs a transaction"):
        allocation_lock(allocation=Allocation.objects.get(line__order=order))


@pytest.mark.django_db
def test_ship_to_store_dispatches_through_the_public_allocation_lock(world):
    receive(world.shirt, world.ank, 3)
    order = order_create(channel=world.web, data=order_input(
        "STS-1", ("SHIRT", 1), delivery_mode="bopis", pickup_location="ST-IST", ship_to_store=True, lat=None, lon=None))
    alloc = Allocation.objects.get(line__order=order)
    transfer = allocation_dispatch(allocation=alloc, actor="wh")
    assert (transfer.from_location, transfer.to_location, transfer.quantity) == (world.ank, world.ist, 1)
