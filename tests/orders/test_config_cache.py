"""The configuration every order reads (the channel's routing profile, the locations' rows and
capacity, their SLAs, the locations' "not found" counts) is kept per process (``omni.config_cache``):
a change made in this process — through a service or the admin — decides the very next order; a
change made by another process (simulated here by a write that bypasses this process's
invalidation) shows once the entry's time is up; with the cache off every order reads afresh."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone

import pytest
import time_machine

from fulfillment.models import LocationSLA, Work
from inventory.models import Location
from inventory.selectors import locations_by_id
from inventory.services import location_capacity_set
from omni import config_cache
from orders.models import Allocation, AllocationStatus, RoutingDecision
from orders.selectors import routing_profile_for
from orders.services import allocation_reject, order_create, routing_profile_save

from .factories import RoutingProfileFactory, order_input, receive

pytestmark = pytest.mark.django_db


class Clock:
    """The caches' clock, moved by hand (the entries' time, not the wall clock)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(config_cache, "clock", c)
    return c


def _decision(order) -> RoutingDecision:
    return RoutingDecision.objects.get(order=order, kind="intake")


def _place(world, external_id: str, sku: str = "SHIRT"):
    return order_create(channel=world.web, data=order_input(external_id, (sku, 1)))


def _accuracy(order) -> dict[str, float]:
    return {c["location"]: c["scores"]["accuracy"] for c in _decision(order).candidates}


def test_a_profile_saved_through_the_service_routes_the_next_order_in_this_process(world, clock):
    receive(world.shirt, world.ist, 5)
    assert _decision(_place(world, "CC-1")).profile_name == "built-in default"  # now cached for the channel
    routing_profile_save(name="web-fast", channel=world.web, criteria=[{"name": "cost", "weight": 1}])
    assert (_decision(_place(world, "CC-2")).profile_name, _decision(_place(world, "CC-2b")).profile_version) == ("web-fast", 1)
    routing_profile_save(name="web-fast", channel=world.web, criteria=[{"name": "proximity", "weight": 1}])
    assert _decision(_place(world, "CC-3")).profile_version == 2  # the retired version is not used any more


def test_another_process_change_shows_once_the_entry_expires(world, clock, settings):
    settings.OMNI_CONFIG_CACHE_SECONDS = 10
    receive(world.shirt, world.ist, 5)
    profile = RoutingProfileFactory(name="web-a", channel=world.web)
    assert _decision(_place(world, "CC-4")).profile_name == "web-a"
    # Another process renames it: nothing in this process hears of it.
    type(profile).objects.filter(pk=profile.pk).update(name="web-b")
    clock.now += 9
    assert _decision(_place(world, "CC-5")).profile_name == "web-a"
    clock.now += 2
    assert _decision(_place(world, "CC-6")).profile_name == "web-b"


def test_with_the_cache_off_every_order_reads_the_configuration(world, clock, settings):
    settings.OMNI_CONFIG_CACHE_SECONDS = 0
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.izm, 5)
    profile = RoutingProfileFactory(name="web-a", channel=world.web)
    assert _decision(_place(world, "CC-7")).profile_name == "web-a"
    type(profile).objects.filter(pk=profile.pk).update(name="web-b")
    Location.objects.filter(pk=world.ist.pk).update(daily_capacity=0)  # paused, by another process
    order = _place(world, "CC-8")
    assert _decision(order).profile_name == "web-b"
    assert [p["location"] for p in _decision(order).plan] == ["ST-IZM"]


def test_a_capacity_set_through_the_service_takes_effect_on_the_next_order_in_this_process(world, clock):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.izm, 5)
    location_capacity_set(location=world.ist, daily_capacity=1)
    assert [p["location"] for p in _decision(_place(world, "CC-9")).plan] == ["ST-IST"]  # nearest; its row cached
    assert [p["location"] for p in _decision(_place(world, "CC-10")).plan] == ["ST-IZM"]  # Istanbul is full today
    location_capacity_set(location=world.ist, daily_capacity=2)  # room for one more: the claim must see the 2
    assert [p["location"] for p in _decision(_place(world, "CC-11")).plan] == ["ST-IST"]


def test_a_location_changed_in_the_admin_shows_in_the_next_order_answer(world, clock, client):
    from tests.inventory.factories import MerchandiserFactory

    receive(world.shirt, world.ist, 5)
    _place(world, "CC-12")
    client.force_login(MerchandiserFactory())
    loc = world.ist
    resp = client.post(f"/admin/inventory/location/{loc.pk}/change/", {
        "code": loc.code, "name": "Istanbul Kadıköy", "kind": loc.kind, "timezone": "UTC", "is_active": "on",
        "can_ship": "on", "can_pickup": "on", "latitude": loc.latitude, "longitude": loc.longitude,
        "handling_cost": "0"})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    order = _place(world, "CC-13")
    [alloc] = order._as_written[1]  # the allocations with their locations, as the API answers from them
    assert alloc.location.name == "Istanbul Kadıköy"


def test_an_sla_added_in_the_admin_sets_the_next_work_deadline_in_this_process(world, clock, client):
    from tests.inventory.factories import MerchandiserFactory

    receive(world.shirt, world.ist, 5)
    noon = datetime(2026, 3, 3, 12, tzinfo=dt_timezone.utc)
    with time_machine.travel(noon, tick=False):
        before = Work.objects.get(order=_place(world, "CC-14"))
        assert before.deadline == noon + timedelta(hours=24)  # no SLA: the default, now cached as "none"
        client.force_login(MerchandiserFactory())
        resp = client.post("/admin/fulfillment/locationsla/add/", {
            "location": world.ist.pk, "bopis_hours": "2", "ship_hours": "3", "ship_to_store_hours": "24",
            "opens_at": "00:00", "closes_at": "23:59", "open_days": "0123456"})
        assert resp.status_code == 302, resp.content.decode()[:2000]
        after = Work.objects.get(order=_place(world, "CC-15"))
    assert after.deadline == noon + timedelta(hours=3)
    # ... and a change made elsewhere shows once the entry expires
    LocationSLA.objects.filter(location=world.ist).update(ship_hours=5)
    with time_machine.travel(noon, tick=False):
        assert Work.objects.get(order=_place(world, "CC-16")).deadline == noon + timedelta(hours=3)
        clock.now += 11
        assert Work.objects.get(order=_place(world, "CC-17")).deadline == noon + timedelta(hours=5)


def test_a_not_found_rejected_here_lowers_the_accuracy_at_once_one_from_elsewhere_within_a_minute(world, clock, settings):
    settings.OMNI_ACCURACY_CACHE_SECONDS = 60
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.izm, 5)
    first = _place(world, "CC-18")
    assert _accuracy(first) == {"ST-IST": 1.0, "ST-IZM": 1.0}  # the counts are cached now
    alloc = Allocation.objects.get(line__order=first)
    allocation_reject(allocation=alloc, reason="not_found: empty shelf", reroute=False)
    assert _accuracy(_place(world, "CC-19")) == {"ST-IST": 0.5, "ST-IZM": 1.0}
    # Another process's rejection at Izmir (written here without the orders service): within the minute
    # this process still scores Izmir as before; after it, the rejection counts.
    Allocation.objects.create(line=alloc.line, location=world.izm, quantity=1, status=AllocationStatus.REJECTED,
                              reason="not_found", closed_at=alloc.closed_at)
    clock.now += 59
    assert _accuracy(_place(world, "CC-20"))["ST-IZM"] == 1.0
    clock.now += 2
    assert _accuracy(_place(world, "CC-21")) == {"ST-IST": 0.5, "ST-IZM": 0.5}


def test_cached_configuration_is_never_shared_between_callers(world, clock):
    RoutingProfileFactory(name="web-a", channel=world.web, criteria=[{"name": "proximity", "weight": 1.0}])
    spec = routing_profile_for(channel=world.web)
    spec.criteria[0]["weight"] = 99.0
    spec.criteria.append({"name": "cost", "weight": 1.0})
    assert routing_profile_for(channel=world.web).criteria == [{"name": "proximity", "weight": 1.0}]
    first = locations_by_id(location_ids=[world.ist.pk])[world.ist.pk]
    first.name = "scribbled on"
    again = locations_by_id(location_ids=[world.ist.pk])[world.ist.pk]
    assert again is not first and again.name == world.ist.name
    LocationSLA.objects.create(location=world.ist, opens_at=time(9), closes_at=time(17))
    from fulfillment.services.sla import work_slas

    sla = work_slas(location_ids=[world.ist.pk])[world.ist.pk]
    assert sla is not work_slas(location_ids=[world.ist.pk])[world.ist.pk]


def _from_db(model, **filters):
    fields = [f.attname for f in model._meta.concrete_fields]
    return model.from_db("default", fields, model.objects.filter(**filters).values_list(*fields).get())


def _as_built(obj) -> tuple[list, bool, str, dict]:
    attributes = [(k, v) for k, v in vars(obj).items() if k != "_state"]
    return attributes, obj._state.adding, obj._state.db, obj._state.fields_cache


def test_cached_rows_are_handed_out_as_from_db_builds_them(world, clock):
    # The cache copies an instance built once (``ModelRows``): each caller's is what ``from_db``
    # gives (the same attributes in the same order, a fresh state), and its own.
    LocationSLA.objects.create(location=world.ist, opens_at=time(9), closes_at=time(17), open_days="01234")
    ids = list(Location.objects.values_list("id", flat=True))
    from fulfillment.services.sla import work_slas

    for _round in range(2):  # the first read loads the rows, the second copies the cached ones
        cached = locations_by_id(location_ids=ids)
        assert sorted(cached) == sorted(ids)
        for pk, loc in cached.items():
            assert type(loc) is Location and _as_built(loc) == _as_built(_from_db(Location, pk=pk))
        sla = work_slas(location_ids=[world.ist.pk])[world.ist.pk]
        assert type(sla) is LocationSLA and _as_built(sla) == _as_built(_from_db(LocationSLA, location_id=world.ist.pk))
        assert sla.location.code == world.ist.code  # a related row still read on demand
    again = locations_by_id(location_ids=ids)
    assert all(again[pk] is not cached[pk] and vars(again[pk]) is not vars(cached[pk]) for pk in ids)
    assert again[world.ist.pk]._state is not cached[world.ist.pk]._state


def test_while_something_listens_to_post_init_cached_rows_are_built_by_from_db(world, clock):
    from django.db.models.signals import post_init

    locations_by_id(location_ids=[world.ist.pk])  # cached
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=Location)
    try:
        loc = locations_by_id(location_ids=[world.ist.pk])[world.ist.pk]
    finally:
        post_init.disconnect(receiver, sender=Location)
    assert seen == [loc] and seen[0] is loc
    assert _as_built(loc) == _as_built(_from_db(Location, pk=world.ist.pk))
