"""The ledger is append-only in fact: no service rewrites a ledger row; counts and transfers say
whether they were replays."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory import services
from omni.db.postgresql.base import statement_of
from inventory.models import StockMovement, Transfer

from .factories import LocationFactory, ProductFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _ledger_writes(ctx) -> list[str]:
    sqls = [statement_of(q["sql"]) for q in ctx.captured_queries]
    return [sql.split(" ", 1)[0] for sql in sqls if '"inventory_stockmovement"' in sql and not sql.startswith("SELECT")]


def test_transfer_ship_writes_its_ledger_row_once_naming_the_transfer():
    sku, dc, store = ProductFactory(sku="AO-1"), LocationFactory(code="AO-DC", kind="dc"), LocationFactory(code="AO-ST")
    services.stock_receive(product=sku, location=dc, quantity=5)
    with CaptureQueriesContext(connection) as ctx:
        shipped = services.transfer_ship(product=sku, from_location=dc, to_location=store, quantity=2, external_id="T-9",
                                         source="erp")
    assert _ledger_writes(ctx) == ["INSERT"]  # written once, never updated
    assert not shipped.replayed
    row = StockMovement.objects.get(external_id="T-9")
    assert (row.reference, row.quantity, row.balance_after) == (f"transfer:{shipped.transfer.pk}", -2, 3)

    again = services.transfer_ship(product=sku, from_location=dc, to_location=store, quantity=2, external_id="T-9", source="erp")
    assert again.replayed and again.transfer.pk == shipped.transfer.pk
    assert [m.pk for m in again.movements] == [row.pk]
    assert Transfer.objects.count() == 1

    received = services.transfer_receive(transfer=shipped.transfer, source="erp", external_id="IN-9")
    assert not received.replayed and [m.quantity for m in received.movements] == [2]
    replay = services.transfer_receive(transfer=shipped.transfer, source="erp", external_id="IN-9")
    assert replay.replayed and [m.pk for m in replay.movements] == [m.pk for m in received.movements]
    assert services.ledger_check() == []


def test_a_count_reports_whether_it_was_a_replay_and_its_ledger_rows():
    sku, store = ProductFactory(sku="AO-2"), LocationFactory(code="AO-ST2")
    services.stock_receive(product=sku, location=store, quantity=5)
    first = services.cycle_count_record(product=sku, location=store, counted=3, source="wms", external_id="C-1")
    assert not first.replayed and [m.quantity for m in first.movements] == [-2]
    again = services.cycle_count_record(product=sku, location=store, counted=3, source="wms", external_id="C-1")
    assert again.replayed and again.count.pk == first.count.pk and [m.pk for m in again.movements] == [first.movements[0].pk]


REWRITE = re.compile(r"StockMovement\.objects(?:\s*\.\s*\w+\((?:[^()]|\([^()]*\))*\))*\s*\.\s*(?:update|delete)\(")


def test_no_code_updates_or_deletes_ledger_rows():
    offenders = [str(path.relative_to(ROOT)) for app in ("inventory", "orders", "allocation", "fulfillment", "omni")
                 for path in (ROOT / app).rglob("*.py") if REWRITE.search(path.read_text())]
    assert offenders == []
    assert REWRITE.search('StockMovement.objects.filter(pk=m.pk).update(reference="x")')  # the check can fail
