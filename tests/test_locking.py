"""Locks take only the rows they mean: every ``select_for_update`` in inventory and orders names
``of=("self",)`` (with ``select_related`` a bare one also locks the joined product and location
rows, and every insert that references them waits)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CALL = re.compile(r"select_for_update\(((?:[^()]|\([^()]*\))*)\)")


def test_every_select_for_update_in_inventory_and_orders_locks_only_its_own_rows():
    bare = []
    for app in ("inventory", "orders"):
        for path in (ROOT / app).rglob("*.py"):
            if "benchmarks" in path.parts:
                continue  # the reservation benchmark's baseline is the classic read-check-write on purpose
            for n, line in enumerate(path.read_text().splitlines(), 1):
                for args in CALL.findall(line):
                    if 'of=("self",)' not in args:
                        bare.append(f"{path.relative_to(ROOT)}:{n}")
    assert bare == []
    assert CALL.findall("x.select_for_update().get()") == [""]  # a bare call is seen


INVENTORY_WRITE = re.compile(
    r"\b(StockLevel|StockMovement|Reservation|OutboxEvent)\.objects\b[^\n]*(select_for_update|\.update\(|create\(|\.delete\()")


def test_orders_never_lock_or_write_inventorys_tables():
    """Orders reach stock only through inventory.services (e.g. reservations_reassign for a hold's units)."""
    found = [f"{path.relative_to(ROOT)}:{n}" for path in (ROOT / "orders").rglob("*.py") if "benchmarks" not in path.parts
             for n, line in enumerate(path.read_text().splitlines(), 1) if INVENTORY_WRITE.search(line)]
    assert found == []
    assert INVENTORY_WRITE.search("list(StockLevel.objects.select_for_update().filter(q))")  # the check can fail
