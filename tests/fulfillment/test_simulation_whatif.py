"""The routing what-if: past orders replayed against another profile, in the admin, as a job —
and nothing real changes."""

from __future__ import annotations

import json
import re

import pytest
from django.db.models import Sum
from django.urls import reverse

from fulfillment.simulation.whatif import WhatIfSpec, whatif_run
from inventory.models import Reservation, StockLevel, StockMovement
from orders.models import Allocation, Order, OrderEvent, RoutingDecision
from orders.services import order_create
from tests.inventory.factories import MerchandiserFactory
from tests.orders.factories import order_input, receive

pytestmark = pytest.mark.django_db

NEAREST = [{"name": "stock_status", "weight": 3.0}, {"name": "proximity", "weight": 5.0}]
CHEAPEST_HANDLING = [{"name": "stock_status", "weight": 3.0}, {"name": "cost", "weight": 5.0}]


def _everything():
    """What a replay must leave exactly as it was: stock, reservations, the ledger, orders and decisions."""
    return {
        "stock": sorted(StockLevel.objects.values_list("pk", "on_hand", "reserved")),
        "reservations": sorted(Reservation.objects.values_list("pk", "status", "quantity")),
        "movements": StockMovement.objects.count(),
        "orders": sorted(Order.objects.values_list("pk", "status")),
        "allocations": sorted(Allocation.objects.values_list("pk", "location_id", "status", "quantity")),
        "events": OrderEvent.objects.count(), "decisions": RoutingDecision.objects.count(),
    }


@pytest.fixture
def history(world):
    """Izmir customers' orders, first routed by proximity (to the Izmir store)."""
    from orders.services import routing_profile_save

    world.izm.handling_cost = 9
    world.izm.save(update_fields=["handling_cost"])
    for loc in (world.ist, world.izm):
        receive(world.shirt, loc, 10)
    routing_profile_save(name="nearest", criteria=NEAREST)
    for i in range(4):
        order_create(channel=world.web, data=order_input(f"WI-{i}", ("SHIRT", 1), lat=38.4, lon=27.1))
    return world


def test_a_what_if_changes_nothing_real_and_shows_where_decisions_differ(history):
    before = _everything()
    assert set(Allocation.objects.values_list("location__code", flat=True)) == {"ST-IZM"}
    today = Order.objects.first().created_at.date()
    result = whatif_run(spec=WhatIfSpec(since=today, until=today, criteria=CHEAPEST_HANDLING, profile_label="cheapest"))
    assert _everything() == before

    # Routing for cost instead of proximity: Istanbul's cheaper handling wins each of the 4 orders
    # (12 + 0 handling for the 300–1000 km band, against 4 + 9 next door), and the report says so order by order.
    assert result["orders"] == 4 and result["differing_orders"] == 4
    assert {d["order"] for d in result["differences"]} == {"WI-0", "WI-1", "WI-2", "WI-3"}
    assert all(d["actual"] == ["ST-IZM"] and d["whatif"] == ["ST-IST"] for d in result["differences"])
    assert result["actual"]["store_load"] == {"ST-IZM": 4} and result["whatif"]["store_load"] == {"ST-IST": 4}
    assert result["whatif"]["fill_rate"] == result["actual"]["fill_rate"] == 1.0

    # The same profile as reality: no order differs.
    same = whatif_run(spec=WhatIfSpec(since=today, until=today, criteria=NEAREST, profile_label="nearest"))
    assert same["differing_orders"] == 0
    assert same["whatif"]["cost"] == same["actual"]["cost"]
    assert _everything() == before


def test_the_admin_runs_it_as_a_job_and_shows_the_comparison(history, client):
    client.force_login(MerchandiserFactory(username="merch"))
    page = client.get(reverse("whatif"))
    assert page.status_code == 200 and b"Run the what-if" in page.content
    today = Order.objects.first().created_at.date().isoformat()
    before = _everything()

    bad = client.post(reverse("whatif"), {"profile": "built-in", "criteria": "[{\"name\": \"teleport\"}]", "max_shipments": 2,
                                          "since": today, "until": today})
    assert bad.status_code == 200 and "must name one of" in bad.content.decode()

    answer = client.post(reverse("whatif"), {"profile": "built-in", "criteria": json.dumps(CHEAPEST_HANDLING),
                                             "max_shipments": 2, "since": today, "until": today})
    assert answer.status_code == 302  # the job ran (eagerly in tests); its page shows the result
    job = client.get(answer["Location"])
    text = re.sub(r"\s+", " ", job.content.decode())
    assert "4 delivery order(s) replayed; the decision differs for 4" in text
    assert "WI-3" in text and "ST-IST" in text
    assert _everything() == before
    assert StockLevel.objects.aggregate(n=Sum("reserved"))["n"] == 4  # the real orders still hold their units


def test_only_staff_may_run_it(client, db):
    assert client.get(reverse("whatif")).status_code == 302  # to the admin login
