"""Orders, holds, lines, allocations, stock rows, ledger rows, reservations and transfers are never
deleted from the admin, not even by a superuser: orders are cancelled and holds released there
(through the services, which give their units back). The order page is view-only: no Save
button that would answer 403."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from inventory.models import Reservation, StockLevel, StockMovement, Transfer
from inventory.services import ledger_check, transfer_ship
from orders.models import Allocation, Hold, HoldStatus, Order, OrderLine, OrderStatus
from orders.services import HoldLineInput, hold_create, order_create
from tests.inventory.factories import MerchandiserFactory

from .factories import order_input, receive

pytestmark = pytest.mark.django_db

admin.autodiscover()
NEVER_DELETED = [Order, OrderLine, Allocation, Hold, StockLevel, StockMovement, Reservation, Transfer]


@pytest.fixture
def merchandiser():
    return MerchandiserFactory(username="merch")


@pytest.fixture
def placed(world):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.ank, 5)
    order = order_create(channel=world.web, data=order_input("AD-1", ("SHIRT", 2)))
    hold = hold_create(channel=world.web, lines=[HoldLineInput(sku="SHIRT", quantity=1)], latitude=41.0, longitude=29.0)
    transfer_ship(product=world.shirt, from_location=world.ank, to_location=world.ist, quantity=1)
    return order, hold


@pytest.mark.parametrize("model", NEVER_DELETED, ids=lambda m: m.__name__)
def test_a_superuser_gets_no_delete(model, merchandiser, placed, client):
    request = RequestFactory().get("/admin/")
    request.user = merchandiser
    model_admin = admin.site._registry.get(model)
    if model_admin is None:  # lines and allocations are shown inside the order page only
        assert model in (OrderLine, Allocation)
        return
    obj = model.objects.first()
    assert model_admin.has_delete_permission(request) is False
    assert model_admin.has_delete_permission(request, obj) is False
    assert "delete_selected" not in model_admin.get_actions(request)
    client.force_login(merchandiser)
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


def test_order_and_hold_inlines_delete_nothing(merchandiser):
    request = RequestFactory().get("/admin/")
    request.user = merchandiser
    for model in (Order, Hold):
        inlines = admin.site._registry[model].get_inline_instances(request)
        assert inlines and all(inline.has_delete_permission(request) is False for inline in inlines)


def test_the_order_page_is_view_only_without_save_buttons(merchandiser, placed, client):
    order, _hold = placed
    client.force_login(merchandiser)
    url = reverse("admin:orders_order_change", args=[order.pk])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert "AD-1" in html
    assert client.post(url, {"customer_ref": "changed"}).status_code == 403
    assert Order.objects.get(pk=order.pk).customer_ref == ""


def test_orders_are_cancelled_and_holds_released_from_the_admin(merchandiser, placed, client, world):
    order, hold = placed
    client.force_login(merchandiser)
    client.post(reverse("admin:orders_order_changelist"), {"action": "cancel_orders", "_selected_action": [order.pk]})
    client.post(reverse("admin:orders_hold_changelist"), {"action": "release_holds", "_selected_action": [hold.pk]})
    order.refresh_from_db()
    hold.refresh_from_db()
    assert (order.status, hold.status) == (OrderStatus.CANCELLED, HoldStatus.RELEASED)
    assert sum(StockLevel.objects.filter(product=world.shirt).values_list("reserved", flat=True)) == 0
    assert ledger_check() == []


def test_the_pin_page_lists_each_location_with_its_atp_and_distance_and_pins_the_line(merchandiser, world, client):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.ank, 1)
    receive(world.shirt, world.izm, 4)
    order = order_create(channel=world.web, data=order_input("PIN-A", ("SHIRT", 2)))
    client.force_login(merchandiser)
    url = reverse("admin:orders_order_action_pin", args=[order.pk])
    page = client.get(url).content.decode()
    assert "ST-IZM" in page and "Only 1 of 2 available at WH-ANK." in page and "km to the customer" in page
    izm = world.izm.pk
    assert f'value="{world.ank.pk}" id="pin-WH-ANK" disabled' in page and f'value="{izm}" id="pin-ST-IZM">' in page

    refused = client.post(url, {"line": 1, "location": world.ank.pk, "reason": ""})  # not offered: the form says so
    assert refused.status_code == 200 and StockLevel.objects.get(product=world.shirt, location=world.ank).reserved == 0

    done = client.post(url, {"line": 1, "location": izm, "reason": "IST short-staffed"}, follow=True)
    assert "Line 1 pinned to ST-IZM: 2 unit(s) reserved there (2 from ST-IST released)." in done.content.decode()
    assert StockLevel.objects.get(product=world.shirt, location=world.izm).reserved == 2
    assert StockLevel.objects.get(product=world.shirt, location=world.ist).reserved == 0
    assert order.routing_decisions.filter(kind="manual_pin", reason="manual pin by merch via admin: IST short-staffed").exists()
    assert "pinned to ST-IZM by hand" in client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert ledger_check() == []


def test_the_order_page_is_titled_by_its_number_and_channel(merchandiser, placed, client, world):
    """The header's breadcrumb gives way to the order's actions at 1280 px: the page names the order itself."""
    order, _hold = placed
    client.force_login(merchandiser)
    html = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    title = f"Order AD-1 · {world.web.name}"
    assert '<h2 id="order-title"' in html and f">{title}</h2>" in html
    assert re.search(rf"<title>\s*{re.escape(title)} \|", html)  # and the browser's tab
