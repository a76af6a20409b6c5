"""Every admin page a merchandiser can reach opens: for every registered model, the changelist,
the changelist searched (``?q=x``), the add page (where adding is allowed) and the change page of a
real row answer 200 for a superuser, with data in every inventory and allocation table.

Uses Django's test client (no browser): it walks ``admin.site._registry``, so a model added later
is covered without touching this file."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.sites import site
from django.urls import reverse

from omni.access.models import Scope
from inventory import services
from tests.access.factories import issue_token
from tests.allocation.factories import ChannelFactory, channel_policy, location_policy, make_visible, pool_policy
from tests.inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory, StaffFactory

admin.autodiscover()
MODELS = sorted(site._registry.items(), key=lambda item: item[0]._meta.label)

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchandiser_client(client):
    client.force_login(MerchandiserFactory(username="smoke-merch"))
    return client


@pytest.fixture
def some_of_everything(settings, tmp_path):
    """A little real data everywhere the admin lists: stock, ledger, reservations, transfers,
    counts, staff, channels, visibility, policies, tokens, outbox and sync messages."""
    dc = LocationFactory(code="DC-1", name="Central DC", kind="dc")
    store = LocationFactory(code="ST-1", name="Store one")
    product = ProductFactory(sku="SMOKE-1")
    services.stock_receive(product=product, location=dc, quantity=10, reference="DN-1")
    services.stock_receive(product=product, location=store, quantity=5)
    services.reservation_create(product=product, location=store, quantity=1, reference="order-line:1")
    services.cycle_count_record(product=product, location=store, counted=4, note="count")
    services.stock_mark_damaged(product=product, location=dc, quantity=1)
    services.transfer_ship(product=product, from_location=dc, to_location=store, quantity=2)
    StaffFactory(username="smoke-staff", assigned=store)
    # sign-in attempts (django-axes): a failure for one name, a success for the staff user
    from django.test import Client

    Client().post("/login/", {"username": "smoke-nobody", "password": "wrong"})
    Client().post("/login/", {"username": "smoke-staff", "password": "pw-12345-omni"})
    web = ChannelFactory(code="web")
    make_visible(web, dc, store)
    location_policy(product, dc, 2)
    channel_policy(product, web, 3)
    pool_policy(product, 4)
    issue_token(web, Scope.AVAILABILITY_READ)
    from datetime import date

    from django.contrib.auth.models import Group

    from allocation.accuracy.services import location_accuracy_refresh
    from allocation.models import LocationGroup
    from allocation.safety_stock.services import safety_stock_modifier_set

    safety_stock_modifier_set(name="Autumn campaign", kind="campaign", starts_on=date.today(), percent=20, product=product)
    location_accuracy_refresh()
    LocationGroup.objects.create(code="stores", name="All stores").locations.set([store])
    Group.objects.create(name="Merchandisers")
    # channel sync tables: the sync app's own drain turns outbox events into messages; inbound snapshots, alerts
    from allocation.sync.drain import sync_drain_run
    from inventory.models import Alert
    from inventory.snapshots.services import SnapshotLineInput, stock_snapshot_apply
    from tests.allocation.sync_helpers import sync_channel

    sync_channel(code="mkt", locations=[dc])
    services.stock_receive(product=product, location=dc, quantity=1)
    sync_drain_run()
    stock_snapshot_apply(location=store, lines=[SnapshotLineInput(sku="SMOKE-1", counted=4)], source="wms", external_id="snap-1")
    Alert.objects.create(kind="ledger_drift", message="DC-1 SMOKE-1: on hand 9, ledger 8")  # written by the nightly check
    from inventory.counting.services import count_task_create

    count_task_create(location=store, products=[product], note="planned count")
    # orders: a routing profile, a postal centroid, a hold and an order placed over the API (idempotency record,
    # routing decision, event timeline)
    from orders.models import PostalCentroid
    from orders.services.profiles import routing_profile_save
    from rest_framework.test import APIClient

    routing_profile_save(name="default", criteria=[{"name": "proximity", "weight": 1.0}], channel=web)
    PostalCentroid.objects.create(country="TR", postal_code="34000", latitude=41.0, longitude=29.0)
    partner = APIClient()
    partner.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(web, Scope.ORDERS_WRITE)}")
    hold = partner.post("/api/v1/holds", {"lines": [{"sku": "SMOKE-1", "quantity": 1}], "ttl_seconds": 600}, format="json")
    assert hold.status_code == 201, hold.content
    order = partner.post(
        "/api/v1/orders",
        {"external_id": "WEB-1", "customer_ref": "C-1", "delivery_mode": "standard", "latitude": 41.0, "longitude": 29.0,
         "lines": [{"sku": "SMOKE-1", "quantity": 1, "unit_price": "10.00"}]},
        format="json", HTTP_IDEMPOTENCY_KEY="smoke-order-1",
    )
    assert order.status_code == 201, order.content
    refused = partner.post(  # more than the pool holds: refused, and the refused demand recorded (lost sales)
        "/api/v1/orders",
        {"external_id": "WEB-9", "customer_ref": "C-9", "delivery_mode": "standard", "latitude": 41.0, "longitude": 29.0,
         "lines": [{"sku": "SMOKE-1", "quantity": 500, "unit_price": "10.00"}]},
        format="json", HTTP_IDEMPOTENCY_KEY="smoke-order-9",
    )
    assert refused.status_code == 409, refused.content
    # a movement batch sent with an Idempotency-Key (the stock API keeps the key per caller)
    stock_system = APIClient()
    stock_system.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(web, Scope.STOCK_WRITE, locations=[dc])}")
    batch = stock_system.post("/api/v1/stock-movements", {"movements": [
        {"external_id": "GRN-SMOKE-1", "kind": "receipt", "sku": "SMOKE-1", "location": "DC-1", "quantity": 1}]},
        format="json", HTTP_IDEMPOTENCY_KEY="smoke-batch-1")
    assert batch.status_code == 200 and batch.json()["summary"]["applied"] == 1, batch.content
    # a finished stock-file import
    import io

    from inventory.imports.services import stock_import_create, stock_import_run

    settings.MEDIA_ROOT = tmp_path
    job = stock_import_create(file=io.BytesIO(b"sku,location,quantity\nSMOKE-1,DC-1,9\n"), filename="count.csv", enqueue=False)
    stock_import_run(job_id=job.pk)
    # fulfillment: a pickup made ready (the customer notified), not collected, expired (a put-back task); a store policy
    from fulfillment.models import PickupPolicy, Work
    from fulfillment.services import mark_ready, pick
    from fulfillment.services.pickup import pickups_expire
    from orders.services import order_create
    from tests.orders.factories import order_input

    PickupPolicy.objects.create(location=store, reminder_after_hours=4, expire_after_days=3)
    bopis = order_create(channel=web, data=order_input("WEB-2", ("SMOKE-1", 1), delivery_mode="bopis", pickup_location="ST-1",
                                                       customer_email="smoke@example.com"))
    work = Work.objects.get(order=bopis)
    pick(work=work, line=work.lines.get(), qty=1, actor="smoke")
    work = mark_ready(work=work, actor="smoke")
    from fulfillment.notifications.services import notify

    notify(work=work, kind="ready")
    from datetime import timedelta

    pickups_expire(now=work.ready_at + timedelta(days=4))

    # a store's fulfilment promise in opening hours
    from fulfillment.models import LocationSLA

    LocationSLA.objects.get_or_create(location=store)
    # a pickup the store could not supply: the question to the customer; a channel's time to answer
    from fulfillment.models import ChannelChoicePolicy
    from fulfillment.services import reject

    ChannelChoicePolicy.objects.create(channel=web, answer_within_hours=24)
    short = Work.objects.get(order=order_create(channel=web, data=order_input(
        "WEB-3", ("SMOKE-1", 1), delivery_mode="bopis", pickup_location="ST-1")))
    reject(work=short, quantities={short.lines.get().pk: (1, "other")}, actor="smoke")
    # the dashboard's daily KPI snapshot
    from omni.insights.services import kpi_snapshot_recent

    kpi_snapshot_recent(days=1)


def _label(model) -> str:
    return model._meta.label


@pytest.mark.parametrize("model, model_admin", MODELS, ids=[_label(m) for m, _ in MODELS])
def test_every_admin_page_of_a_model_opens(merchandiser_client, some_of_everything, model, model_admin):
    info = (model._meta.app_label, model._meta.model_name)
    changelist = reverse("admin:%s_%s_changelist" % info)
    res = merchandiser_client.get(changelist)
    assert res.status_code == 200, f"{changelist}: {res.status_code}"
    assert "errornote" not in res.content.decode(), f"{changelist} shows an error"
    res = merchandiser_client.get(changelist, {"q": "x"})
    assert res.status_code == 200, f"{changelist}?q=x: {res.status_code}"

    request = res.wsgi_request
    if model_admin.has_add_permission(request):
        add = reverse("admin:%s_%s_add" % info)
        res = merchandiser_client.get(add, follow=True)  # an add page may lead on to its own form (imports: upload)
        assert res.status_code == 200, add
    first = model._default_manager.order_by("pk").first()
    if first is not None:
        change = reverse("admin:%s_%s_change" % info, args=[first.pk])
        res = merchandiser_client.get(change, follow=True)  # an import job's page is its progress page
        assert res.status_code == 200, change
        assert "errornote" not in res.content.decode(), f"{change} shows an error"


def test_the_admin_index_and_every_app_page_open(merchandiser_client, some_of_everything):
    assert merchandiser_client.get(reverse("admin:index")).status_code == 200
    for app_label in sorted({m._meta.app_label for m, _ in MODELS}):
        assert merchandiser_client.get(reverse("admin:app_list", args=[app_label])).status_code == 200, app_label


def test_the_data_reaches_every_listed_table(some_of_everything):
    """So the change pages above were really opened, not skipped for want of a row."""
    empty = sorted(_label(m) for m, _ in MODELS if not m._default_manager.exists())
    assert empty == [], ", ".join(empty)
