"""The admin: every model listed without N+1, stock changed only through services, with the actor on the ledger."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from omni.access.models import PartnerToken, Scope
from inventory import services
from inventory.models import CycleCount, StockLevel, StockMovement, Transfer
from tests.allocation.factories import ChannelFactory

from .factories import LocationFactory, MerchandiserFactory, ProductFactory, StaffFactory

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "inventory_location", "inventory_product", "inventory_stocklevel", "inventory_stockmovement", "inventory_reservation",
    "inventory_transfer", "inventory_cyclecount", "inventory_outboxevent", "access_staffassignment",
    "access_partnertoken", "inventory_counttask",
]


@pytest.fixture
def admin(client):
    user = MerchandiserFactory(username="merch")
    client.force_login(user)
    client.user = user
    return client


def make_stock(n: int) -> None:
    dc = LocationFactory(code="DC-1", kind="dc")
    for i in range(n):
        store = LocationFactory(code=f"ST-{i:02d}")
        product = ProductFactory(sku=f"SKU-{i:03d}")
        services.stock_receive(product=product, location=store, quantity=5)
        services.stock_receive(product=product, location=dc, quantity=5)
        services.reservation_create(product=product, location=store, quantity=1, reference=f"order-line:{i}")
        services.cycle_count_record(product=product, location=store, counted=4)
        services.transfer_ship(product=product, from_location=dc, to_location=store, quantity=1)
        StaffFactory(username=f"staff{i}", assigned=store)
    ChannelFactory(code="web")


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("name", CHANGELISTS)
def test_changelist_queries_do_not_grow_with_rows(admin, name):
    make_stock(2)
    url = reverse(f"admin:{name}_changelist")
    few = queries(admin, url)
    make_stock_more = [ProductFactory(sku=f"MORE-{i}") for i in range(8)]
    store = LocationFactory(code="ST-99")
    for product in make_stock_more:
        services.stock_receive(product=product, location=store, quantity=3)
        services.reservation_create(product=product, location=store, quantity=1, reference="x")
        services.cycle_count_record(product=product, location=store, counted=3)
        StaffFactory(username=f"more-{product.sku}", assigned=store)
    assert queries(admin, url) == few
    assert admin.get(url, {"q": "SKU"}).status_code == 200


def test_change_pages_open(admin):
    make_stock(1)
    level = StockLevel.objects.filter(location__code="ST-00").get()
    for name, obj in [
        ("inventory_stocklevel", level), ("inventory_stockmovement", StockMovement.objects.first()),
        ("inventory_transfer", Transfer.objects.first()), ("inventory_cyclecount", CycleCount.objects.first()),
        ("inventory_product", level.product), ("inventory_location", level.location),
    ]:
        assert admin.get(reverse(f"admin:{name}_change", args=[obj.pk])).status_code == 200, name
    page = admin.get(reverse("admin:inventory_stocklevel_change", args=[level.pk])).content.decode()
    assert "Receive / adjust / count" in page and 'name="on_hand"' not in page
    ledger = admin.get(reverse("admin:inventory_stockmovement_changelist"), {"stock_level__id__exact": level.pk})
    assert ledger.status_code == 200 and ledger.context_data["cl"].result_count == level.movements.count() == 2 < StockMovement.objects.count()


def operate(admin, **data):
    return admin.post(reverse("admin:inventory_stocklevel_operate"), {"reason": "", "reference": "", **data})


def test_stock_operations_go_through_services_with_the_actor(admin):
    product, store = ProductFactory(sku="TEE-M"), LocationFactory(code="ST-01")
    base = {"product": product.pk, "location": store.pk}
    assert admin.get(reverse("admin:inventory_stocklevel_operate"), base).status_code == 200
    assert operate(admin, **base, operation="receipt", quantity=10, reference="DN-1").status_code == 302
    assert operate(admin, **base, operation="adjustment", quantity=-2, reason="shrinkage").status_code == 302
    assert operate(admin, **base, operation="count", quantity=7).status_code == 302
    assert operate(admin, **base, operation="damage", quantity=1).status_code == 302
    level = StockLevel.objects.get()
    assert (level.on_hand, level.damaged) == (6, 1)
    ledger = list(StockMovement.objects.order_by("id").values_list("reason", "quantity", "actor__username", "source"))
    assert ledger == [
        ("receipt", 10, "merch", "admin"), ("adjustment", -2, "merch", "admin"), ("count", -1, "merch", "admin"),
        ("damage", -1, "merch", "admin"), ("damage", 1, "merch", "admin"),
    ]
    assert services.ledger_check() == []


@pytest.mark.parametrize("data, text", [
    ({"operation": "adjustment", "quantity": -2, "reason": ""}, "needs a reason"),
    ({"operation": "receipt", "quantity": -2}, "must be positive"),
    ({"operation": "damage", "quantity": 50}, "Not enough stock of TEE-M at ST-01"),
])
def test_refused_stock_operation_shows_why_and_changes_nothing(admin, data, text):
    product, store = ProductFactory(sku="TEE-M"), LocationFactory(code="ST-01")
    services.stock_receive(product=product, location=store, quantity=3)
    res = operate(admin, product=product.pk, location=store.pk, **{"reason": "", **data})
    assert res.status_code == 200 and text in res.content.decode()
    assert StockLevel.objects.get().on_hand == 3 and StockMovement.objects.count() == 1


def test_stock_level_change_form_cannot_edit_on_hand(admin):
    product, store = ProductFactory(sku="TEE-M"), LocationFactory(code="ST-01")
    services.stock_receive(product=product, location=store, quantity=3)
    level = StockLevel.objects.get()
    admin.post(reverse("admin:inventory_stocklevel_change", args=[level.pk]), {"on_hand": 99})
    assert StockLevel.objects.get().on_hand == 3


def test_transfer_added_in_admin_ships_through_services_and_receives(admin):
    product, dc, store = ProductFactory(sku="TEE-M"), LocationFactory(code="DC-1", kind="dc"), LocationFactory(code="ST-01")
    services.stock_receive(product=product, location=dc, quantity=10)
    res = admin.post(reverse("admin:inventory_transfer_add"), {
        "product": product.pk, "from_location": dc.pk, "to_location": store.pk, "quantity": 4, "reference": "TR-1",
    })
    assert res.status_code == 302
    transfer = Transfer.objects.get()
    assert (transfer.status, transfer.created_by.username) == ("in_transit", "merch")
    admin.post(reverse("admin:inventory_transfer_changelist"), {"action": "receive_in_full", "_selected_action": [transfer.pk]})
    assert dict(StockLevel.objects.values_list("location__code", "on_hand")) == {"DC-1": 6, "ST-01": 4}
    assert services.ledger_check() == []


def test_issuing_a_partner_token_shows_the_key_once(admin, api_client):
    channel, store = ChannelFactory(code="pos"), LocationFactory(code="ST-01")
    res = admin.post(reverse("admin:access_partnertoken_add"), {
        "name": "POS ST-01", "channel": channel.pk, "scopes": [Scope.STOCK_READ, Scope.STOCK_WRITE],
        "locations": [store.pk], "is_active": "on",
    }, follow=True)
    page = res.content.decode()
    key = re.search(r"(omni_[A-Za-z0-9_\-]+)", page).group(1)
    token = PartnerToken.objects.get()
    assert (token.scopes, list(token.locations.values_list("code", flat=True))) == (["stock:read", "stock:write"], ["ST-01"])
    assert token.key_hash == PartnerToken.hash_key(key) and key not in str(token.__dict__)
    assert key not in admin.get(reverse("admin:access_partnertoken_change", args=[token.pk])).content.decode()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/v1/stock-levels/").status_code == 200


def test_store_staff_cannot_use_the_admin(client):
    client.force_login(StaffFactory(username="s", assigned=LocationFactory(code="ST-01")))
    res = client.get(reverse("admin:inventory_stocklevel_operate"))
    assert res.status_code == 302 and "/admin/login/" in res["Location"]
