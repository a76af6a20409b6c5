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
    for app in ("inventory",):
        for path in (ROOT / app).rglob("*.py"):
            if "benchmarks" in path.parts:
                continue  # the reservation benchmark's baseline is the classic read-check-write on purpose
            for n, line in enumerate(path.read_text().splitlines(), 1):
                for args in CALL.findall(line):
                    if 'of=("self",)' not in args:
                        bare.append(f"{path.relative_to(ROOT)}:{n}")
    assert bare == []
    assert CALL.findall("x.select_for_update().get()") == [""]  # a bare call is seen
