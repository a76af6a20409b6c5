"""The merchandiser's console in a real browser: the dashboard for the demo data, its filters, the
order page's actions (checked in the stock rows and the ledger check), roles, and offline API docs.
Screenshots at 1280 and 390 px land in /tmp/e2e-console-*.png."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from urllib.parse import urlparse

import pytest
from django.contrib.auth.models import Group, Permission

from inventory.models import StockLevel
from inventory.services import ledger_check
from omni.access.groups import MERCHANDISER, PLANNER, admin_roles_sync
from orders.models import Allocation, AllocationStatus, LineStatus, Order, OrderStatus
from orders.services import order_create
from tests.inventory.factories import UserFactory
from tests.orders.factories import order_input, receive

from tests.orders.conftest import world  # noqa: F401  (two stores, a warehouse and three SKUs)

from .conftest import SCREENSHOTS, admin_login, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _role_user(username: str, role: str):
    admin_roles_sync(group_model=Group, permission_model=Permission)
    user = UserFactory(username=username, is_staff=True)
    user.groups.set([Group.objects.get(name=role)])
    return user


def _kpi(page, code: str) -> str:
    return page.locator(f"[data-kpi={code}] [data-value]").inner_text().strip()


def _detail(page, code: str, label: str) -> str:
    return page.locator(f"[data-kpi={code}] .omni-details div", has_text=label).locator("dd").inner_text().strip()


def test_dashboard_shows_every_kpi_with_its_chart_and_target_and_the_filters_change_the_figures(
        browser_page, live_server, transactional_db):
    from omni.demo.seed import seed_demo

    seed_demo(seed=42, stores=4, skus=40, days=30, now=datetime.now(dt_timezone.utc))
    page = browser_page
    admin_login(page, live_server, "admin", "omni-demo-admin")
    assert page.url.rstrip("/").endswith("/admin")
    page.goto(f"{live_server.url}/admin/?start={(datetime.now(dt_timezone.utc) - timedelta(days=29)).date().isoformat()}")
    cards = page.locator(".omni-kpi")
    assert cards.count() == 8
    titles = [t.strip() for t in page.locator(".omni-kpi h2").all_inner_texts()]
    assert titles == ["Stock accuracy", "Order fill rate", "Overselling rate", "Ship-from-store rate", "BOPIS preparation time",
                      "Inventory turnover", "Sync latency", "Lost sales"]
    for i in range(8):
        card = cards.nth(i)
        assert card.locator("figure svg").count() == 1, titles[i]  # its daily history, drawn on the server
        assert "target" in card.locator(".omni-bands").inner_text()
        assert card.locator(".omni-definition").inner_text().strip()
    assert re.fullmatch(r"\d+\.\d %", _kpi(page, "accuracy")) and re.fullmatch(r"\d+\.\d %", _kpi(page, "fill_rate"))
    month_orders = int(_detail(page, "fill_rate", "orders decided").replace(",", ""))
    assert month_orders > 0
    # lost sales: refused demand in total, and what the pool held elsewhere; sync drift per channel
    refused = int(_kpi(page, "lost_demand").split()[0].replace(",", ""))
    held = int(_detail(page, "lost_demand", "held elsewhere in the pool").split()[0].replace(",", ""))
    assert 0 < held < refused
    assert re.fullmatch(r"[\d,]+ of [\d,]+", _detail(page, "sync_latency", "SKUs drifting now"))
    drift_rows = page.locator("#sync-drift tbody tr")
    assert drift_rows.count() >= 1 and int(drift_rows.first.locator("[data-drifting]").inner_text()) >= 0
    page.locator("[data-kpi=lost_demand]").screenshot(path=str(SCREENSHOTS / "e2e-console-lost-sales-card.png"))
    page.locator("#sync-drift").screenshot(path=str(SCREENSHOTS / "e2e-console-sync-drift.png"))
    shot(page, "console-dashboard-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "console-dashboard-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    # a shorter date range: fewer orders decided
    week_ago = (datetime.now(dt_timezone.utc) - timedelta(days=6)).date().isoformat()
    page.fill("#f-start", week_ago)
    page.click("#dashboard-filters button[type=submit]")
    page.wait_for_url(re.compile(r".*start=" + week_ago + ".*"))
    week_orders = int(_detail(page, "fill_rate", "orders decided").replace(",", ""))
    assert 0 < week_orders < month_orders

    # one store: only the online orders it served, and its own counts
    online_all = int(_detail(page, "ship_from_store", "online orders").replace(",", ""))
    store = page.locator("#f-location option", has_text="ST-").first
    page.select_option("#f-location", value=store.get_attribute("value"))
    page.click("#dashboard-filters button[type=submit]")
    page.wait_for_url(re.compile(r".*location=\d+.*"))
    online_store = int(_detail(page, "ship_from_store", "online orders").replace(",", ""))
    assert online_store < online_all
    shot(page, "console-dashboard-store")


@pytest.fixture
def two_stores_order(world):
    receive(world.shirt, world.ist, 5)
    receive(world.shirt, world.izm, 5)
    receive(world.mug, world.ist, 5)
    order = order_create(channel=world.web, data=order_input("WEB-77", ("SHIRT", 2), ("MUG", 1)))
    assert set(Allocation.objects.filter(line__order=order).values_list("location__code", flat=True)) == {"ST-IST"}
    return order


def _reserved(product, location) -> int:
    return StockLevel.objects.get(product=product, location=location).reserved


def test_reroute_and_cancel_from_the_order_page_change_the_order_and_its_stock(
        browser_page, live_server, world, two_stores_order):
    order = two_stores_order
    _role_user("mara", MERCHANDISER)
    page = browser_page
    admin_login(page, live_server, "mara")
    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    assert page.locator("[name=_save]").count() == 0  # read-only: no Save that would be refused
    assert "Order placed" in page.locator(".omni-timeline").inner_text()
    # the lines in columns (SKU, product name), not the row's str() "…/1: 2 × …" above each
    lines = page.locator("#lines-group")
    assert lines.locator("td.field-sku").first.inner_text().strip() == "SHIRT"
    assert lines.locator("td.field-product_name").first.inner_text().strip() == world.shirt.name
    assert not re.search(r"\d+/1: 2 ×", lines.inner_text())
    # a view-only page's "Close" bar sits at the end instead of floating over the allocations
    assert page.evaluate("getComputedStyle(document.getElementById('submit-row')).position") == "static"
    # the order's actions fill the header bar: the page itself says which order this is
    title = f"Order WEB-77 · {world.web.name}"
    assert page.locator("#order-title").inner_text().strip() == title and page.locator("#order-title").is_visible()
    shot(page, "console-order-1280")

    # re-route the shirts away from Istanbul: Izmir reserves them, Istanbul gets them back
    page.click("a[href$='/reroute/']")  # "Re-route"
    option = page.locator("#id_allocation option", has_text="Line 1: 2 × SHIRT from ST-IST")
    page.select_option("#id_allocation", value=option.get_attribute("value"))
    page.fill("#id_reason", "Istanbul is closed for inventory")
    page.click("#order-action button[type=submit]")
    assert "Line 1 moved from ST-IST to 2 × ST-IZM." in page.locator("ul.messagelist").inner_text()
    assert (_reserved(world.shirt, world.ist), _reserved(world.shirt, world.izm)) == (0, 2)
    assert Allocation.objects.get(line__order=order, line__line_no=1, status=AllocationStatus.RESERVED).location == world.izm
    assert "could not fill" in page.locator(".omni-timeline").inner_text()

    # cancel the mug line: its unit is free again
    page.click("text=Cancel lines")
    page.check("input[name=lines][value='2']")
    page.fill("#id_reason", "customer changed mind")
    page.click("#order-action button[type=submit]")
    assert "Cancelled line(s) 2" in page.locator("ul.messagelist").inner_text()
    assert _reserved(world.mug, world.ist) == 0
    assert order.lines.get(line_no=2).status == LineStatus.CANCELLED

    # cancel the order: nothing stays reserved, and the ledger check is clean
    page.click("text=Cancel order")
    page.fill("#id_reason", "fraud check failed")
    page.click("#order-action button[type=submit]")
    assert "cancelled" in page.locator("ul.messagelist").inner_text()
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert _reserved(world.shirt, world.izm) == 0
    assert ledger_check() == []
    page.set_viewport_size({"width": 390, "height": 844})
    title_box = page.locator("#order-title").bounding_box()  # whole, on a phone too
    assert page.locator("#order-title").inner_text().strip() == title and title_box and title_box["x"] + title_box["width"] <= 390
    shot(page, "console-order-390")


def test_pin_a_line_to_a_chosen_location_from_the_order_page_moves_its_reservation_in_the_ledger(
        browser_page, live_server, world, two_stores_order):
    order = two_stores_order
    receive(world.shirt, world.ank, 1)  # too little at the warehouse: shown, not offered
    _role_user("mara", MERCHANDISER)
    page = browser_page
    admin_login(page, live_server, "mara")
    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    page.click("a[href$='/pin/']")  # "Pin"
    rows = page.locator("#pin-candidates tbody tr")
    assert rows.count() == 3
    izm = page.locator("#pin-candidates tr[data-location=ST-IZM]")
    assert izm.locator("[data-atp]").inner_text() == "5" and "2 units reserved here" in izm.inner_text()
    ank = page.locator("#pin-candidates tr[data-location=WH-ANK]")
    assert "Only 1 of 2 available at WH-ANK." in ank.inner_text() and ank.locator("input[type=radio]").is_disabled()
    shot(page, "console-pin-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "console-pin-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.check("#pin-ST-IZM")
    page.fill("#id_reason", "Istanbul is short-staffed")
    page.click("#order-action button[type=submit]")
    assert "Line 1 pinned to ST-IZM: 2 unit(s) reserved there (2 from ST-IST released)." in page.locator("ul.messagelist").inner_text()
    assert (_reserved(world.shirt, world.ist), _reserved(world.shirt, world.izm)) == (0, 2)
    assert "pinned to ST-IZM by hand" in page.locator(".omni-timeline").inner_text()
    assert "manual pin by mara via admin: Istanbul is short-staffed" in page.content()
    assert ledger_check() == []


def test_a_merchandiser_cannot_delete_an_order(browser_page, live_server, world, two_stores_order):
    _role_user("mara", MERCHANDISER)
    page = browser_page
    admin_login(page, live_server, "mara")
    page.goto(f"{live_server.url}/admin/orders/order/")
    assert "WEB-77" in page.locator("#result_list").inner_text()
    assert page.locator("select[name=action] option[value=delete_selected]").count() == 0
    page.goto(f"{live_server.url}/admin/orders/order/{two_stores_order.pk}/change/")
    assert page.locator("a[href$='/delete/']").count() == 0
    response = page.goto(f"{live_server.url}/admin/orders/order/{two_stores_order.pk}/delete/")
    assert response.status == 403
    assert Order.objects.filter(pk=two_stores_order.pk).exists()


def test_a_planner_cannot_open_sync_endpoints_but_edits_safety_stock(browser_page, live_server, transactional_db):
    _role_user("pia", PLANNER)
    page = browser_page
    admin_login(page, live_server, "pia")
    sidebar = page.locator("#nav-sidebar, nav").first.inner_text()
    assert "Channel sync endpoints" not in page.content() and "Safety stock" in sidebar
    response = page.goto(f"{live_server.url}/admin/allocation/channelsync/")
    assert response.status == 403
    response = page.goto(f"{live_server.url}/admin/allocation/safetystockpolicy/add/")
    assert response.status == 200
    shot(page, "console-planner")


def test_the_api_docs_render_offline(browser_page, live_server, merchandiser):
    page = browser_page
    host = urlparse(live_server.url).netloc
    outside: list[str] = []

    def only_local(route):
        if urlparse(route.request.url).netloc != host:
            # ReDoc's footer shows Redocly's logo from their CDN and hides it when it cannot load:
            # a decoration, not part of the docs. Scripts, styles and fonts must all be local.
            if route.request.resource_type != "image":
                outside.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", only_local)
    admin_login(page, live_server, merchandiser.username)
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Omni API" in page.locator(".swagger-ui .info .title").inner_text()
    page.screenshot(path="/tmp/e2e-console-swagger.png")  # the viewport: the page is long
    page.goto(f"{live_server.url}/api/v1/redoc/")
    page.wait_for_selector("h1:has-text('Omni API')")
    page.screenshot(path="/tmp/e2e-console-redoc.png")
    assert outside == []


def test_the_merchandiser_s_pages_fit_and_name_themselves_once(browser_page, live_server, world):
    """Location SLAs in the menu and open; menu and page titles agree; the channel list fits at
    1280 px; the count-task form fits a phone and says what to type; an empty read-only list says why."""
    _role_user("mara", MERCHANDISER)
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    admin_login(page, live_server, "mara")
    menu = {"Location SLAs": "/admin/fulfillment/locationsla/", "Put-back tasks": "/admin/fulfillment/putbacktask/",
            "Customer notifications": "/admin/fulfillment/notification/",
            "Stock accuracy by location": "/admin/allocation/locationaccuracystat/"}
    for title, href in menu.items():
        page.goto(f"{live_server.url}/admin/")
        link = page.locator(f"a[href='{href}']", has_text=title)
        assert link.count() == 1, title
        link.click()
        page.wait_for_load_state("domcontentloaded")
        assert page.url.endswith(href), title
        assert page.get_by_text(title, exact=True).count() >= 2, title  # the menu and the page's own header
    page.goto(f"{live_server.url}/admin/fulfillment/putbacktask/")
    assert "one appears when a ready pickup is not collected in time" in page.content()
    assert "This page yielded into no results" not in page.content() and page.locator("text=Add put-back task").count() == 0

    page.goto(f"{live_server.url}/admin/allocation/channel/")
    table = page.locator("#result_list")
    assert table.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth + 1")
    assert page.locator("#result_list td.field-sync span").first.evaluate("s => s.getClientRects().length == 1")  # one line
    shot(page, "console-channels-1280")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/admin/inventory/counttask/add/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator(".field-location .select2-selection__placeholder").inner_text().strip() == "Type to find a location…"
    shot(page, "console-counttask-add-390")


def test_an_alert_s_whole_message_reads_on_the_phone_card_and_the_desktop_row(browser_page, live_server):
    """The phone's row card gave each cell one 45 px line: a dead letter's message (with its address)
    was cut after a line; it wraps and the card grows. The desktop table keeps its columns."""
    from inventory.alerts.services import alert_raise

    message = ("2 update(s) for channel web dead-lettered after 5 attempt(s): HTTP 410 from "
               "https://shop.example.com/omni/stock-events/receiver-for-the-long-address")
    alert_raise(kind="sync_dead_letter", message=message)
    _role_user("mara", MERCHANDISER)
    page = browser_page
    admin_login(page, live_server, "mara")
    cell = page.locator("#result_list td.field-message")
    whole = "c => c.scrollHeight <= c.clientHeight + 1 && c.scrollWidth <= c.clientWidth + 1"
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/admin/inventory/alert/")
    assert cell.inner_text().strip() == message
    assert cell.evaluate(whole), "the message is cut on the phone card"
    assert cell.evaluate("c => c.getBoundingClientRect().height") > 45  # wrapped over several lines
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "console-alerts-390")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/admin/inventory/alert/")
    assert cell.evaluate(whole) and cell.evaluate("c => getComputedStyle(c).display") == "table-cell"
    table = page.locator("#result_list")
    assert table.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth + 1")
    shot(page, "console-alerts-1280")
