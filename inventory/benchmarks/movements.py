"""Stock movement intake: one batch request against one request per movement (same run, same data).

Everything runs in one transaction that is rolled back at the end: the benchmark leaves no data.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

NAME = "movements"
HELP = "POST /api/v1/stock-movements: a batch of N items vs N single-item requests vs direct service calls."


def add_arguments(parser) -> None:
    parser.add_argument("--items", type=int, default=300, help="movements per variant (≤ 500)")
    parser.add_argument("--rows", type=int, default=10, help="distinct stock rows the movements hit")


class _Rollback(Exception):
    pass


def run(*, out, items: int = 300, rows: int = 10, **_: Any) -> dict:
    from rest_framework.test import APIClient

    from inventory import services
    from inventory.models import Location, LocationKind, Product

    items = max(1, min(items, 500))
    result: dict[str, Any] = {}
    try:
        with transaction.atomic():
            location = Location.objects.create(code="BENCH-ST", name="Bench store", kind=LocationKind.STORE)
            products = Product.objects.bulk_create([Product(sku=f"BENCH-{i:04d}", name=f"Bench {i}") for i in range(rows)])
            for p in products:
                services.stock_receive(product=p, location=location, quantity=10_000)
            user = get_user_model().objects.create_user(username="bench-merch", is_staff=True, is_superuser=True)
            client = APIClient()
            client.force_authenticate(user)

            def item(variant: str, n: int) -> dict:
                return {"external_id": f"{variant}-{n}", "kind": "sale", "sku": products[n % rows].sku, "location": "BENCH-ST", "quantity": 1}

            began = time.perf_counter()
            for n in range(items):
                res = client.post("/api/v1/stock-movements", {"source": "bench", "movements": [item("single", n)]}, format="json")
                assert res.status_code == 200, res.content
            single = time.perf_counter() - began

            began = time.perf_counter()
            res = client.post("/api/v1/stock-movements", {"source": "bench", "movements": [item("batch", n) for n in range(items)]},
                              format="json")
            assert res.status_code == 200 and res.json()["summary"]["applied"] == items, res.content
            batch = time.perf_counter() - began

            began = time.perf_counter()
            for n in range(items):
                services.stock_sell(product=products[n % rows], location=location, quantity=1, source="bench", external_id=f"direct-{n}")
            direct = time.perf_counter() - began

            began = time.perf_counter()
            res = client.post("/api/v1/stock-movements", {"source": "bench", "movements": [item("batch", n) for n in range(items)]},
                              format="json")
            assert res.json()["summary"]["replayed"] == items
            replay = time.perf_counter() - began

            assert services.ledger_check() == []
            result = {
                "benchmark": NAME, "items": items, "rows": rows,
                "single_requests_per_s": round(items / single, 1),
                "batch_items_per_s": round(items / batch, 1),
                "batch_replay_items_per_s": round(items / replay, 1),
                "direct_service_calls_per_s": round(items / direct, 1),
                "batch_vs_single_speedup": round(single / batch, 2),
            }
            raise _Rollback
    except _Rollback:
        pass
    out(f"{items} movements over {rows} stock rows:")
    out(f"  one request per movement : {result['single_requests_per_s']:>8} movements/s (baseline)")
    out(f"  one batch request        : {result['batch_items_per_s']:>8} movements/s  ×{result['batch_vs_single_speedup']}")
    out(f"  batch sent again (replay): {result['batch_replay_items_per_s']:>8} movements/s")
    out(f"  direct service calls     : {result['direct_service_calls_per_s']:>8} movements/s (floor: no HTTP)")
    return result
