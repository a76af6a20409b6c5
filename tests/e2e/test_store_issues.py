"""Report an issue in a real browser: a short pick re-routes the line, and the merchandiser sees it
on the order in the admin."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import FACTORY_PASSWORD, shot, store_login
from tests.e2e.test_store_work import shop  # noqa: F401
from tests.fulfillment.factories import place, receive
from tests.inventory.factories import MerchandiserFactory
from tests.orders.conftest import world  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_short_pick_reroutes_the_line_visible_on_the_order_in_the_admin(store_page, live_server, shop, _chromium):  # noqa: F811
    page = store_page
    receive(shop.shirt, shop.izm, 5)
    work = place(shop, "WEB-6001", ("SHIRT", 2))
    store_login(page, live_server, "ayse")
    page.goto(f"{live_server.url}/s/{shop.ist.code}/w/{work.pk}/")
    page.keyboard.type("8690000000012")
    page.keyboard.press("Enter")
    page.wait_for_selector(".feedback.alert-ok")
    page.click("summary:has-text('Report an issue')")
    page.check("input[name=reason][value=not_found]")
    page.fill("input[name=quantity]", "1")
    shot(page, f"store-report-issue-{page.device}")
    page.click("button:has-text('Report')")
    assert "Reported. Sent on to ST-IZM (1)." in page.locator(".messages").inner_text()  # what the service did
    assert "1 reported missing or damaged" in page.locator(".line").inner_text()
    shot(page, f"store-after-issue-{page.device}")

    context = _chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", timezone_id="UTC")
    admin = context.new_page()
    MerchandiserFactory(username="mira")
    admin.goto(f"{live_server.url}/admin/login/?next=/admin/")
    admin.fill("#id_username", "mira")
    admin.fill("#id_password", FACTORY_PASSWORD)
    admin.press("#id_password", "Enter")  # (the admin's menus need scripts; the form does not)
    admin.wait_for_url("**/admin/")
    admin.goto(f"{live_server.url}/admin/orders/order/{work.order_id}/change/")
    allocations = admin.locator(".omni-allocations").inner_text()  # the order page's allocations table
    assert "ST-IZM" in allocations and "ST-IST" in allocations
    assert "not_found" in admin.content()
    shot(admin, f"store-reroute-admin-{page.device}")
    context.close()


def test_a_pickup_short_at_its_own_store_asks_the_customer_instead_of_moving_it(store_page, live_server, shop):  # noqa: F811
    from allocation.models import SyncMessage
    from fulfillment.models import CustomerChoice
    from tests.fulfillment.factories import place_bopis

    page = store_page
    receive(shop.shirt, shop.izm, 5)
    work = place_bopis(shop, "WEB-6002", ("SHIRT", 2), customer_email="ayse@example.com")
    store_login(page, live_server, "ayse")
    page.goto(f"{live_server.url}/s/{shop.ist.code}/w/{work.pk}/")
    page.click("summary:has-text('Report an issue')")
    page.check("input[name=reason][value=damaged]")
    page.fill("input[name=quantity]", "1")
    page.click("button:has-text('Report')")
    text = page.locator(".messages").inner_text()
    assert "The customer is asked whether to collect them at another store" in text
    shot(page, f"store-pickup-issue-{page.device}")
    choice = CustomerChoice.objects.get(work=work)
    assert [o["id"] for o in choice.options][0] == "pickup:ST-IZM" and choice.lines[0]["quantity"] == 1
    assert SyncMessage.objects.filter(event="customer_choice_requested", payload__order="WEB-6002").exists()
