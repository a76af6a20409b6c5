"""One table of stock operations (kind → service, fields) behind the admin page, the API batch and
the imports; every result says whether it was a replay, so the batch asks nothing beforehand."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import services
from omni.db.postgresql.base import statement_of
from inventory.api.serializers import StockMovementItemSerializer
from inventory.batch import MovementInput, stock_movements_apply
from inventory.forms import StockOperationForm
from inventory.models import CycleCount, MovementReason, StockLevel, StockMovement, Transfer
from inventory.services import STOCK_OPERATIONS, StockOperation, StockOperationKind, stock_operation_apply
from omni.errors import ValidationFailed

from .factories import LocationFactory, ProductFactory
from .test_concurrency import run_threads


def test_the_table_has_one_entry_per_kind_and_every_surface_uses_it():
    assert set(STOCK_OPERATIONS) == set(StockOperationKind)
    assert set(StockMovementItemSerializer().fields["kind"].choices) == set(StockOperationKind.values)
    assert [v for v, _label in StockOperationForm().fields["operation"].choices] == ["receipt", "adjustment", "damage", "count"]
    assert {m: STOCK_OPERATIONS[k].reason for m, k in services.IMPORT_MODE_OPERATION.items()} == {
        "snapshot": MovementReason.COUNT, "delta": MovementReason.ADJUSTMENT}


@pytest.mark.django_db
@pytest.mark.parametrize("kind, extra, after", [
    ("receipt", {"quantity": 3}, (8, 0)),
    ("sale", {"quantity": 2}, (3, 0)),
    ("return", {"quantity": 2, "resellable": False}, (5, 2)),
    ("adjustment", {"quantity": -1, "note": "shrinkage"}, (4, 0)),
    ("damage", {"quantity": 1}, (4, 1)),
    ("count", {"quantity": 9}, (9, 0)),
    ("transfer_out", {"quantity": 5}, (0, 0)),
])
def test_each_kind_runs_its_service_once_and_replays_after(kind, extra, after):
    sku, store, dc = ProductFactory(sku="OP-1"), LocationFactory(code="OP-ST"), LocationFactory(code="OP-DC", kind="dc")
    services.stock_receive(product=sku, location=store, quantity=5)
    op = StockOperation(kind=kind, product=sku, location=store, source="pos", external_id=f"{kind}-1",
                        to_location=dc if kind == "transfer_out" else None, **extra)
    first = stock_operation_apply(op=op)
    assert not first.replayed and first.movements
    level = StockLevel.objects.get(product=sku, location=store)
    assert (level.on_hand, level.damaged) == after
    again = stock_operation_apply(op=op)
    assert again.replayed and [m.pk for m in again.movements] == [m.pk for m in first.movements]
    assert StockLevel.objects.get(pk=level.pk).on_hand == after[0]
    assert services.ledger_check() == []


@pytest.mark.django_db
def test_a_missing_record_is_refused_by_name():
    with pytest.raises(ValidationFailed) as err:
        stock_operation_apply(op=StockOperation(kind="transfer_out", product=ProductFactory(), location=LocationFactory(),
                                                quantity=1))
    assert (err.value.code, err.value.message, err.value.details) == ("required", "A transfer_out needs to_location.",
                                                                     {"to_location": ["Required."]})
    with pytest.raises(ValidationFailed) as err:
        stock_operation_apply(op=StockOperation(kind="teleport"))
    assert err.value.code == "invalid_choice"


@pytest.mark.django_db
def test_the_batch_asks_nothing_before_applying():
    sku, store = ProductFactory(sku="OP-2"), LocationFactory(code="OP-ST2")
    items = [MovementInput(external_id="R-1", kind="receipt", sku="OP-2", location="OP-ST2", quantity=4),
             MovementInput(external_id="C-1", kind="count", sku="OP-2", location="OP-ST2", quantity=3)]
    with CaptureQueriesContext(connection) as ctx:
        outcomes = stock_movements_apply(items=items, source="erp")
    assert [o.status for o in outcomes] == ["applied", "applied"]
    # No "was it replayed?" probe by external id before the services ran (the services answer that).
    sqls = [statement_of(q["sql"]) for q in ctx.captured_queries]
    probes = [sql for sql in sqls if sql.startswith("SELECT") and "EXISTS" in sql.upper()
              and ("inventory_stockmovement" in sql or "inventory_cyclecount" in sql)]
    assert probes == []
    assert [o.status for o in stock_movements_apply(items=items, source="erp")] == ["replayed", "replayed"]
    assert StockLevel.objects.get(product=sku).on_hand == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_item_sent_concurrently_is_applied_once_and_replayed_everywhere_else():
    ProductFactory(sku="OP-3")
    LocationFactory(code="OP-A")
    LocationFactory(code="OP-B", kind="dc")
    services.stock_receive(product=ProductFactory(sku="OP-3"), location=LocationFactory(code="OP-A"), quantity=20)
    items = [MovementInput(external_id="S-1", kind="sale", sku="OP-3", location="OP-A", quantity=2),
             MovementInput(external_id="CC-1", kind="count", sku="OP-3", location="OP-B", quantity=4),
             MovementInput(external_id="T-1", kind="transfer_out", sku="OP-3", location="OP-A", to_location="OP-B", quantity=3)]

    results = run_threads(lambda i: [o.status for o in stock_movements_apply(items=items, source="pos")], n=6)
    for n in range(3):
        assert sorted(r[n] for r in results) == ["applied"] + ["replayed"] * 5, (n, results)
    assert (StockMovement.objects.filter(external_id="S-1").count(), CycleCount.objects.count(), Transfer.objects.count()) == (1, 1, 1)
    assert services.ledger_check() == []
