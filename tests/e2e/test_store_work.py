"""The store's work in a real browser, on a handheld (390 px) and a tablet (1280 px): the queue
with new work arriving, scan-to-pick, batch pick, pack and ship, the pickup desk."""

from __future__ import annotations

import pytest

from fulfillment.models import WorkStatus
from inventory.models import StockLevel, StockMovement
from tests.e2e.conftest import assert_accessible, shot, store_login
from tests.fulfillment.factories import place, place_bopis, receive
from tests.inventory.factories import StaffFactory
from tests.orders.conftest import world  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(world):  # noqa: F811
    StaffFactory(username="ayse", assigned=world.ist)
    world.shirt.name, world.shirt.barcode = "Linen shirt white M", "8690000000012"
    world.mug.name, world.mug.barcode = "Ceramic mug", "8690000000029"
    world.shirt.save()
    world.mug.save()
    receive(world.shirt, world.ist, 10)
    receive(world.mug, world.ist, 10)
    return world


def _fits(page) -> None:
    """Nothing is wider than the screen (no sideways scrolling on a handheld)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_the_queue_shows_only_this_stores_work_and_new_work_arrives_with_a_cue(store_page, live_server, shop):
    page = store_page
    place(shop, "WEB-1001", ("SHIRT", 1))
    receive(shop.cap, shop.izm, 3)
    place(shop, "WEB-IZMIR", ("CAP", 1), lat=38.4, lon=27.1)
    store_login(page, live_server, "ayse")
    assert page.url.endswith(f"/s/{shop.ist.code}/")
    rows = page.locator(".workrow")
    assert rows.count() == 1 and "WEB-1001" in rows.first.inner_text() and "left" in rows.first.inner_text()
    assert "WEB-IZMIR" not in page.content()
    _fits(page)
    assert_accessible(page, "queue")
    page.evaluate("document.querySelector('[data-queue]').setAttribute('hx-trigger', 'every 1s'); htmx.process(document.querySelector('[data-queue]'))")
    place(shop, "WEB-1002", ("MUG", 2))
    page.wait_for_selector(".workrow.is-new", timeout=20_000)
    assert "WEB-1002" in page.locator(".workrow.is-new").inner_text()
    assert page.locator("#new-work").inner_text() == "A new order arrived."
    assert page.evaluate("document.body.dataset.lastSound") == "new"
    shot(page, f"store-queue-{page.device}")


def test_scan_the_right_item_and_a_wrong_one(store_page, live_server, shop):
    page = store_page
    work = place(shop, "WEB-2001", ("SHIRT", 2))
    store_login(page, live_server, "ayse")
    page.click("text=WEB-2001")
    scan = page.locator("input[name=ean]")
    assert page.evaluate("document.activeElement.name") == "ean"  # the focused field takes the scanner's input
    scan.type("8690000000012")
    scan.press("Enter")
    page.wait_for_selector(".feedback.alert-ok")
    assert "Picked 1 × Linen shirt white M." in page.locator(".feedback").inner_text()
    assert page.locator(".progress-text").inner_text() == "1 of 2 units picked"
    page.keyboard.type("8690000000029")  # focus went back to the scan field
    page.keyboard.press("Enter")
    page.wait_for_selector(".feedback.alert-bad")
    assert "Wrong item: MUG is not in this order. Put it back." in page.locator(".feedback").inner_text()
    assert page.evaluate("document.body.dataset.lastSound") == "error"
    _fits(page)
    assert_accessible(page, "pick")
    shot(page, f"store-pick-{page.device}")
    page.reload()  # nothing is lost
    assert page.locator(".progress-text").inner_text() == "1 of 2 units picked"
    work.refresh_from_db()
    assert work.status == WorkStatus.PICKING and work.lines.get().picked == 1


def test_a_batch_pick_across_two_orders(store_page, live_server, shop):
    page = store_page
    a = place(shop, "WEB-3001", ("SHIRT", 1), ("MUG", 1))
    b = place(shop, "WEB-3002", ("SHIRT", 1))
    store_login(page, live_server, "ayse")
    page.check(f"input[name=w][value='{a.pk}']")
    page.check(f"input[name=w][value='{b.pk}']")
    page.click("text=Batch pick the ticked orders")
    assert page.locator("h1").inner_text() == "Batch pick: 2 orders"
    shirt_row = page.locator("tr[data-sku=SHIRT]")
    assert "Linen shirt white M" in shirt_row.inner_text() and "8690000000012" in shirt_row.inner_text()
    assert shirt_row.locator(".picked").inner_text() == "0" and "/ 2" in shirt_row.inner_text()
    for ean, order in (("8690000000012", "WEB-3001"), ("8690000000012", "WEB-3002"), ("8690000000029", "WEB-3001")):
        page.keyboard.type(ean)
        page.keyboard.press("Enter")
        page.wait_for_selector(f".feedback:has-text('{order}')")
        assert f"Put it in the tote of {order}" in page.locator(".feedback").inner_text()
    assert page.locator(".progress-text").inner_text() == "3 of 3 units picked"
    _fits(page)
    shot(page, f"store-batch-{page.device}")
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == b.status == WorkStatus.PICKED


def test_pack_and_ship_with_a_tracking_number(store_page, live_server, shop):
    page = store_page
    work = place(shop, "WEB-4001", ("SHIRT", 1))
    store_login(page, live_server, "ayse")
    page.goto(f"{live_server.url}/s/{shop.ist.code}/w/{work.pk}/")
    page.keyboard.type("8690000000012")
    page.keyboard.press("Enter")
    page.wait_for_selector("h2:has-text('Pack')")  # the last unit picked: the page moves on to packing
    assert "Picked 1 × Linen shirt white M." in page.locator(".messages").inner_text()
    page.check("input[name=box_type][value=L]")
    page.click("button:has-text('Packed')")
    assert "Packed in box L" in page.locator(".messages").inner_text()
    with page.expect_popup() as popup:
        page.click("text=Print packing slip")
    slip = popup.value
    slip.wait_for_load_state()
    assert "Packing slip" in slip.locator("h1").inner_text() and "WEB-4001" in slip.content()
    slip.emulate_media(media="print")
    assert not slip.locator(".no-print").is_visible()  # the print button stays off the paper
    shot(slip, f"store-slip-{page.device}")
    page.fill("#tracking", "YK123456789TR")
    page.fill("#carrier", "Yurtiçi Kargo")
    page.click("button:has-text('Shipped')")
    assert "Shipped with tracking number YK123456789TR." in page.locator(".messages").inner_text()
    shot(page, f"store-shipped-{page.device}")
    work.refresh_from_db()
    assert (work.status, work.tracking_number) == (WorkStatus.SHIPPED, "YK123456789TR")
    assert StockMovement.objects.filter(stock_level__product=shop.shirt, stock_level__location=shop.ist, reason="fulfilment").exists()
    # The web shop (the order's partner) sees the shipment with its tracking number and the event.
    from rest_framework.test import APIClient

    from omni.access.models import Scope
    from tests.access.factories import issue_token

    partner = APIClient()
    partner.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(shop.web, Scope.ORDERS_WRITE)}")
    [seen] = partner.get(f"/api/v1/orders/{work.order_id}/fulfillments").json()
    assert (seen["status"], seen["tracking_number"]) == ("shipped", "YK123456789TR")
    shipped = [e for e in seen["events"] if e["to_status"] == "shipped"]
    assert shipped and shipped[0]["actor"] == "ayse" and shipped[0]["data"]["tracking_number"] == "YK123456789TR"
    # ... and the webhook event for it waits in the channel's log, sequenced, with the tracking number.
    from allocation.models import SyncMessage

    [event] = SyncMessage.objects.filter(channel=shop.web, kind="event")
    assert (event.event, event.sequence) == ("shipped", 1)
    assert (event.payload["order"], event.payload["tracking_number"], event.payload["carrier"]) == (
        "WEB-4001", "YK123456789TR", "Yurtiçi Kargo")
    assert event.payload["lines"] == [{"line": 1, "sku": "SHIRT", "quantity": 1}] and event.payload["location"] == shop.ist.code


def test_mark_ready_emails_the_code_then_hand_over_by_code_with_the_id_check(store_page, live_server, shop, mailoutbox):
    page = store_page
    work = place_bopis(shop, "WEB-5001", ("SHIRT", 2), customer_email="ayse@example.com", ship_name="Ayşe Yılmaz")
    store_login(page, live_server, "ayse")
    page.goto(f"{live_server.url}/s/{shop.ist.code}/w/{work.pk}/")
    page.keyboard.type("8690000000012")
    page.keyboard.press("Enter")
    page.wait_for_selector(".feedback.alert-ok")
    page.keyboard.type("8690000000012")
    page.keyboard.press("Enter")
    page.wait_for_selector("h2:has-text('Ready for pickup')")
    page.click("button:has-text('Mark ready and tell the customer')")
    work.refresh_from_db()
    assert work.status == WorkStatus.READY_FOR_PICKUP
    assert work.pickup_code in page.locator(".pickup-code").inner_text()
    sent = [m for m in mailoutbox if "ayse@example.com" in m.to]
    assert len(sent) == 1 and work.pickup_code in sent[0].body  # the customer has the code

    page.click("nav.tabs >> text=Pickup desk")
    assert "WEB-5001" in page.locator("section:has-text('Waiting for their customer')").inner_text()
    assert_accessible(page, "pickup desk")
    shot(page, f"store-pickup-desk-{page.device}")
    page.fill("input[name=q]", work.pickup_code)  # the customer shows the code
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Hand over WEB-5001')")
    line = work.lines.get()
    page.fill(f"#id_qty_{line.pk}", "1")  # the customer takes one of two
    page.fill("#id_collector_name", "Ayşe Yılmaz")
    page.select_option("#id_id_kind", "national_id")
    page.fill("#id_id_last_digits", "4821")
    _fits(page)
    assert_accessible(page, "hand over")
    shot(page, f"store-hand-over-{page.device}")
    page.click("button:has-text('Hand over')")
    assert "Order WEB-5001 handed over to Ayşe Yılmaz." in page.locator(".messages").inner_text()
    level = StockLevel.objects.get(product=shop.shirt, location=shop.ist)
    assert (level.on_hand, level.reserved) == (9, 0)  # one unit left the ledger, the other is sellable again
    assert StockMovement.objects.filter(stock_level=level, reason="fulfilment").values_list("quantity", flat=True).get() == -1


def test_an_expired_pickup_appears_in_the_put_back_list(store_page, live_server, shop):
    from datetime import timedelta

    from django.utils import timezone

    from fulfillment.services import mark_ready, pick
    from fulfillment.services.pickup import pickups_expire

    page = store_page
    work = place_bopis(shop, "WEB-5002", ("MUG", 1))
    pick(work=work, line=work.lines.get(), qty=1, actor="test")
    mark_ready(work=work, actor="test")
    assert pickups_expire(now=timezone.now() + timedelta(days=30)) == [work.pk]
    store_login(page, live_server, "ayse")
    page.goto(f"{live_server.url}/s/{shop.ist.code}/pickup/")
    row = page.locator(".put-back-row")
    assert row.count() == 1 and "WEB-5002" in row.inner_text() and "Ceramic mug" in row.inner_text()
    shot(page, f"store-put-back-{page.device}")
    row.locator("button:has-text('Put back')").click()
    assert "Put back on the shelf." in page.locator(".messages").inner_text()
    assert page.locator(".put-back-row").count() == 0
