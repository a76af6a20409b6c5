"""The routing engine on hand-made candidates (no database), criteria on hand-computed values,
profile versioning and the admin view of a decision."""

from __future__ import annotations

from datetime import date

import pytest

from omni.errors import InsufficientStock, ValidationFailed
from orders.routing.criteria import (
    Candidate,
    FulfillmentCost,
    LineNeed,
    ProductFacts,
    Proximity,
    RoutingContext,
    StockPriority,
    build_criteria,
    shipping_cost,
)
from orders.routing.engine import ProfileSpec, decide
from omni.geo import haversine_km

TODAY = date(2026, 11, 26)
FACTS = {1: ProductFacts(1, "A", None, None), 2: ProductFacts(2, "B", None, None)}


def cand(loc_id, code, avail, *, dist=10.0, cap=None, used=0, handling=0.0):
    return Candidate(location_id=loc_id, code=code, kind="store", latitude=0.0, longitude=0.0, daily_capacity=cap,
                     handling_cost=handling, available=dict(avail), distance_km=dist, used_today=used)


def lines(*spec):
    return [LineNeed(index=i + 1, product_id=p, sku=FACTS[p].sku, quantity=q) for i, (p, q) in enumerate(spec)]


def test_haversine_by_hand():
    # One degree along a meridian is R·π/180 = 6371.0088 · 0.0174533 = 111.195 km.
    assert haversine_km(0.0, 0.0, 1.0, 0.0) == pytest.approx(111.195, abs=0.001)
    assert haversine_km(10.0, 20.0, 10.0, 20.0) == 0.0
    assert round(haversine_km(41.0082, 28.9784, 39.9334, 32.8597)) == 349  # Istanbul – Ankara


def test_proximity_and_cost_scores_by_hand():
    ctx = RoutingContext(lines=lines((1, 1)), needs={1: 1}, total_units=1, destination=(0, 0), today=TODAY, products=FACTS)
    near, far = cand(1, "NEAR", {1: 1}, dist=100.0, handling=1.0), cand(2, "FAR", {1: 1}, dist=600.0, handling=0.0)
    assert Proximity(params={"half_score_km": 100}).score(ctx, near) == 0.5
    assert round(Proximity().score(ctx, far), 4) == round(1 / 7, 4)
    assert [shipping_cost(d, [[50, 4.0], [300, 7.0], [1000, 12.0], [None, 20.0]]) for d in (10, 50, 51, 999, 5000, None)] == [
        4.0, 4.0, 7.0, 12.0, 20.0, 12.0]
    cost = FulfillmentCost()
    cost.prepare(ctx, [near, far])
    # NEAR: 7 + 1 = 8 (cheapest); FAR: 12 + 0 = 12 → 8/12.
    assert cost.score(ctx, near) == 1.0
    assert cost.score(ctx, far) == pytest.approx(8 / 12)


def test_stock_priority_weighs_the_age_of_the_units_here_and_the_end_of_season():
    # A: end of season passed; B: no season end, launched 25 days ago (the fallback age where the ledger knows none).
    facts = {1: ProductFacts(1, "A", date(2026, 9, 1), None), 2: ProductFacts(2, "B", None, date(2026, 11, 1))}
    ctx = RoutingContext(lines=[], needs={1: 1, 2: 1}, total_units=2, destination=None, today=TODAY, products=facts,
                         max_available={1: 10, 2: 4})
    crit = StockPriority(params={"aging_days": 100, "season_weight": 0.4, "age_weight": 0.4})
    crit.prepare(ctx, [])
    old = cand(1, "OLD", {1: 10, 2: 2})
    old.age_days = {1: 150.0, 2: 50.0}
    # A: 0.4·1·(½+½·1) + 0.4·1 + 0.2·10/10 = 1.0; B: 0 + 0.4·0.5 + 0.2·2/4 = 0.3. Mean = 0.65.
    assert crit.score(ctx, old) == pytest.approx(0.65)
    fresh = cand(2, "FRESH", {1: 10, 2: 4})
    fresh.age_days = {1: 0.0}  # B has no known arrival: its launch 25 days ago stands in (0.25)
    # A: 0.4·1·½ + 0 + 0.2 = 0.4; B: 0.4·0.25 + 0.2·4/4 = 0.3. Mean = 0.35.
    assert crit.score(ctx, fresh) == pytest.approx(0.35)


def test_season_urgency_ramps_up_before_the_end_of_season():
    facts = {1: ProductFacts(1, "A", date(2026, 12, 6), None)}  # 10 days left of a 20-day horizon → 0.5
    ctx = RoutingContext(lines=[], needs={1: 1}, total_units=1, destination=None, today=TODAY, products=facts,
                         max_available={1: 5})
    crit = StockPriority(params={"season_horizon_days": 20, "season_weight": 1.0, "age_weight": 0.0, "aging_days": 10})
    crit.prepare(ctx, [])
    aged, new = cand(1, "AGED", {1: 5}), cand(2, "NEW", {1: 5})
    aged.age_days, new.age_days = {1: 10.0}, {1: 0.0}
    assert crit.score(ctx, aged) == pytest.approx(0.5)  # 0.5 · (½ + ½·1)
    assert crit.score(ctx, new) == pytest.approx(0.25)  # 0.5 · ½


def test_whole_order_beats_closer_partial_and_reason_says_why():
    d = decide(lines=lines((1, 2), (2, 1)), products=FACTS, today=TODAY, destination=(0, 0), profile=ProfileSpec(),
               candidates=[cand(1, "CLOSE", {1: 2}, dist=1.0), cand(2, "WHOLE", {1: 5, 2: 5}, dist=300.0)])
    assert [(p.line_index, p.location_code, p.quantity) for p in d.plan] == [(1, "WHOLE", 2), (2, "WHOLE", 1)]
    assert d.shipments == 1
    assert d.reason.startswith("WHOLE scored") and "it has the whole order; best of 2 candidate(s)" in d.reason


def test_split_respects_max_shipments_and_last_pick_must_cover_the_rest():
    cands = [cand(1, "A1", {1: 1}, dist=1.0), cand(2, "B2", {2: 1}, dist=2.0), cand(3, "AB", {1: 1, 2: 1}, dist=900.0)]
    two = decide(lines=lines((1, 2), (2, 1)), products=FACTS, today=TODAY, destination=(0, 0),
                 profile=ProfileSpec(max_shipments=2), candidates=cands)
    assert sorted((p.location_code, p.product_id, p.quantity) for p in two.plan) == [("A1", 1, 1), ("AB", 1, 1), ("AB", 2, 1)]
    with pytest.raises(InsufficientStock) as err:
        decide(lines=lines((1, 2), (2, 2)), products=FACTS, today=TODAY, destination=(0, 0),
               profile=ProfileSpec(max_shipments=2), candidates=[cand(1, "A", {1: 1}), cand(2, "B", {1: 1}), cand(3, "C", {2: 2})])
    assert err.value.code == "max_shipments_exceeded"


def test_full_capacity_location_is_not_a_candidate():
    d = decide(lines=lines((1, 1)), products=FACTS, today=TODAY, destination=(0, 0), profile=ProfileSpec(),
               candidates=[cand(1, "BUSY", {1: 5}, dist=1.0, cap=10, used=10), cand(2, "FREE", {1: 5}, dist=50.0, cap=10, used=3)])
    assert [c.code for c in d.candidates] == ["FREE"]
    assert d.candidates[0].scores["capacity"] == pytest.approx(0.7)


def test_bad_profiles_are_refused_with_the_reason():
    for spec, text in ([], "at least one"), ([{"name": "teleport"}], "must name one of"), (
            [{"name": "proximity", "weight": -1}], "weight ≥ 0"), ([{"name": "cost", "params": {"x": 1}}], "Unknown parameter"):
        with pytest.raises(ValidationFailed) as err:
            build_criteria(spec)
        assert text in err.value.message


@pytest.mark.django_db
def test_editing_a_profile_creates_a_new_version_used_by_the_channel(world):
    from orders.models import RoutingProfile
    from orders.selectors import routing_profile_for
    from orders.services import routing_profile_save

    assert routing_profile_for(channel=world.web).name == "built-in default"
    routing_profile_save(name="web-fast", channel=world.web, criteria=[{"name": "proximity", "weight": 1}])
    routing_profile_save(name="web-fast", channel=world.web, criteria=[{"name": "cost", "weight": 2}], max_shipments=1)
    spec = routing_profile_for(channel=world.web)
    assert (spec.name, spec.version, spec.criteria, spec.max_shipments) == ("web-fast", 2, [{"name": "cost", "weight": 2}], 1)
    assert list(RoutingProfile.objects.order_by("version").values_list("version", "is_active")) == [(1, False), (2, True)]
    assert routing_profile_for(channel=world.market).name == "built-in default"


@pytest.mark.django_db
def test_admin_shows_the_routing_decision_and_saves_profiles_as_new_versions(world, client):
    from orders.models import RoutingProfile
    from orders.services import order_create
    from tests.inventory.factories import MerchandiserFactory

    from .factories import order_input, receive

    receive(world.shirt, world.ist, 5)
    order = order_create(channel=world.web, data=order_input("ADM-1", ("SHIRT", 1)))
    client.force_login(MerchandiserFactory())
    page = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "ST-IST scored" in page and "line 1 → ST-IST × 1" in page
    assert "ADM-1" in client.get("/admin/orders/order/").content.decode()
    resp = client.post("/admin/orders/routingprofile/add/", {
        "name": "adm", "criteria": '[{"name": "proximity", "weight": 1}]', "max_shipments": 2, "allow_ship_to_store": "on"})
    assert resp.status_code == 302
    first = RoutingProfile.objects.get(name="adm")
    resp = client.post(f"/admin/orders/routingprofile/{first.pk}/change/", {
        "name": "adm", "criteria": '[{"name": "cost", "weight": 1}]', "max_shipments": 3, "allow_ship_to_store": "on"})
    assert resp.status_code == 302
    assert list(RoutingProfile.objects.filter(name="adm").order_by("version").values_list("version", "max_shipments", "is_active")) == [
        (1, 2, False), (2, 3, True)]


def test_column_scoring_equals_one_by_one_scoring():
    from orders.routing.criteria import CRITERIA

    facts = {1: ProductFacts(1, "A", date(2026, 1, 1), None), 2: ProductFacts(2, "B", None, date(2020, 1, 1))}
    cands = [cand(1, "A", {1: 3}, dist=5.0, cap=4, used=1, handling=2.0), cand(2, "B", {1: 1, 2: 2}, dist=None, handling=0.0),
             cand(3, "C", {2: 9}, dist=800.0, cap=0)]
    ctx = RoutingContext(lines=[], needs={1: 2, 2: 2}, total_units=4, destination=(0, 0), today=TODAY, products=facts,
                         max_available={1: 3, 2: 9})
    for c in cands:
        c.covered = c.coverable_units(ctx.needs)
    for klass in CRITERIA.values():
        crit = klass()
        crit.prepare(ctx, cands)
        assert crit.score_all(ctx, cands) == [crit.score(ctx, c) for c in cands], klass.name


@pytest.mark.django_db
def test_candidate_query_distances_match_python_and_missing_coordinates_stay_unknown(world):
    from orders.routing.engine import load_candidates
    from tests.inventory.factories import LocationFactory

    from .factories import receive

    nowhere = LocationFactory(code="NO-COORDS", latitude=None, longitude=None)
    for loc in (world.ist, world.ank, nowhere):
        receive(world.shirt, loc, 2)
    got = {c.code: c for c in load_candidates(product_ids=[world.shirt.pk], location_ids=[world.ist.pk, world.ank.pk, nowhere.pk],
                                              destination=(41.0082, 28.9784))}
    assert got["NO-COORDS"].distance_km is None
    assert got["WH-ANK"].distance_km == pytest.approx(haversine_km(41.0082, 28.9784, 39.93, 32.86), abs=1e-6)
    assert got["ST-IST"].available == {world.shirt.pk: 2}


@pytest.mark.django_db
def test_routing_sends_end_of_season_orders_to_the_store_whose_units_are_oldest(world):
    """Two stores with the same stock of an end-of-season SKU, at the same distance: the order goes
    where the units have waited longest (read from the ledger), not where they just arrived."""
    from datetime import datetime, timedelta
    from datetime import timezone as dt_timezone

    import time_machine

    from orders.routing.engine import load_candidates, route
    from orders.services.allocating import line_needs

    from .factories import receive

    now = datetime(2026, 11, 26, 12, tzinfo=dt_timezone.utc)
    world.shirt.end_of_season = date(2026, 11, 1)
    world.shirt.save(update_fields=["end_of_season"])
    with time_machine.travel(now - timedelta(days=70), tick=False):
        receive(world.shirt, world.izm, 3)  # slow stock: here since September
    with time_machine.travel(now - timedelta(days=2), tick=False):
        receive(world.shirt, world.ist, 3)  # just replenished
        receive(world.shirt, world.izm, 1)  # ... and Izmir got one unit more two days ago: its newest arrival counts
    ages = {c.code: c.age_days for c in load_candidates(product_ids=[world.shirt.pk], location_ids=[world.ist.pk, world.izm.pk],
                                                          destination=None, now=now, with_age=True)}
    assert ages["ST-IST"][world.shirt.pk] == pytest.approx(2.0)
    assert ages["ST-IZM"][world.shirt.pk] == pytest.approx(2.0)

    # Izmir's stock without the recent top-up: only September's units.
    world.cap.end_of_season = date(2026, 11, 1)
    world.cap.save(update_fields=["end_of_season"])
    with time_machine.travel(now - timedelta(days=70), tick=False):
        receive(world.cap, world.izm, 3)
    with time_machine.travel(now - timedelta(days=2), tick=False):
        receive(world.cap, world.ist, 4)
    profile = ProfileSpec(criteria=[{"name": "stock_status", "weight": 3.0}, {"name": "stock_priority", "weight": 1.0}])
    needs, facts = line_needs([(1, world.cap, 1)])
    with time_machine.travel(now, tick=False):
        decision = route(channel=world.web, lines=needs, products=facts, destination=None, profile=profile)
    assert [p.location_code for p in decision.plan] == ["ST-IZM"]
    scores = {c.code: c.scores["stock_priority"] for c in decision.candidates}
    assert scores["ST-IZM"] > scores["ST-IST"]

    # A fresh delivery to Izmir makes its stock the youngest: Istanbul's two-day-old units go first.
    with time_machine.travel(now, tick=False):
        receive(world.cap, world.izm, 1)
        needs, facts = line_needs([(1, world.cap, 1)])
        after = route(channel=world.web, lines=needs, products=facts, destination=None, profile=profile)
    assert [p.location_code for p in after.plan] == ["ST-IST"]


@pytest.mark.django_db
def test_the_stock_age_is_the_ledgers_latest_arrival_and_a_bulk_refresh_agrees(world):
    from datetime import datetime, timedelta
    from datetime import timezone as dt_timezone

    import time_machine

    from inventory.models import StockLevel, StockMovement
    from inventory.services import stock_arrivals_refresh, stock_sell, transfer_receive, transfer_ship

    from .factories import receive

    t0 = datetime(2026, 10, 1, 9, tzinfo=dt_timezone.utc)
    with time_machine.travel(t0, tick=False):
        receive(world.shirt, world.ank, 10)
    with time_machine.travel(t0 + timedelta(days=3), tick=False):
        shipped = transfer_ship(product=world.shirt, from_location=world.ank, to_location=world.ist, quantity=4)
    with time_machine.travel(t0 + timedelta(days=5), tick=False):
        transfer_receive(transfer=shipped.transfer.pk)
    with time_machine.travel(t0 + timedelta(days=9), tick=False):
        stock_sell(product=world.shirt, location=world.ist, quantity=1)  # a sale is no arrival
    levels = {lv.location.code: lv for lv in StockLevel.objects.select_related("location").filter(product=world.shirt)}
    assert levels["WH-ANK"].last_received_at == t0  # the transfer out did not make its stock younger
    assert levels["ST-IST"].last_received_at == t0 + timedelta(days=5)
    latest = {m.stock_level_id: m.created_at for m in StockMovement.objects.filter(reason__in=["receipt", "transfer_in"])
              .order_by("created_at")}
    assert {lv.pk: lv.last_received_at for lv in levels.values()} == latest
    StockLevel.objects.filter(pk__in=[lv.pk for lv in levels.values()]).update(last_received_at=None)  # as bulk history leaves it
    assert stock_arrivals_refresh(level_ids=[lv.pk for lv in levels.values()]) == 2
    assert dict(StockLevel.objects.filter(product=world.shirt).values_list("pk", "last_received_at")) == latest
