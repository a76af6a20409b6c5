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


def test_stock_priority_prefers_end_of_season_and_deep_stock():
    facts = {1: ProductFacts(1, "A", date(2026, 9, 1), None), 2: ProductFacts(2, "B", None, date(2026, 11, 1))}
    ctx = RoutingContext(lines=[], needs={1: 1, 2: 1}, total_units=2, destination=None, today=TODAY, products=facts,
                         max_available={1: 10, 2: 4})
    crit = StockPriority()
    crit.prepare(ctx, [])
    # A: end-of-season (urgency 1) and 10/10 deep → 0.5·1 + 0.5·1 = 1; B: new, 2/4 deep → 0.25. Mean = 0.625.
    assert crit.score(ctx, cand(1, "X", {1: 10, 2: 2})) == pytest.approx(0.625)
    # Only B, 4/4 deep → (0 + 0.5) / 2 = 0.25.
    assert crit.score(ctx, cand(2, "Y", {2: 4})) == pytest.approx(0.25)


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
