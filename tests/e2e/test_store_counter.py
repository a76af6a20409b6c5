"""At the store's counter and stockroom, in a real browser: a return restocks, a blind count by
scanning updates the store's stock accuracy, a transfer is received by scanning."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from allocation.accuracy.models import LocationAccuracyStat
from fulfillment.services import pack, pick, ship
from inventory.models import StockLevel, StockMovement, Transfer
from inventory.services import transfer_ship
from tests.e2e.conftest import assert_accessible, shot, store_login
from tests.e2e.test_store_work import shop  # noqa: F401
from tests.fulfillment.factories import place, receive
from tests.orders.conftest import world  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _on_hand(product, location) -> int:
    return StockLevel.objects.get(product=product, location=location).on_hand


def test_a_return_at_the_counter_restocks(store_page, live_server, shop):  # noqa: F811
    page = store_page
    work = place(shop, "WEB-7001", ("SHIRT", 2))
    pick(work=work, line=work.lines.get(), qty=2, actor="test")
    pack(work=work, actor="test")
    ship(work=work, tracking_number="YK1", actor="test")
    before = _on_hand(shop.shirt, shop.ist)
    store_login(page, live_server, "ayse")
    page.click("nav.tabs >> text=Returns")
    page.fill("#return-q", "WEB-7001")
    page.keyboard.press("Enter")
    page.wait_for_selector("h2:has-text('Order WEB-7001')")
    page.fill("#qty-1", "1")
    assert_accessible(page, "returns")
    shot(page, f"store-return-{page.device}")
    page.click("button:has-text('Take back')")
    assert "Return of order WEB-7001 recorded: 1 back on sale, 0 damaged." in page.locator(".messages").inner_text()
    assert _on_hand(shop.shirt, shop.ist) == before + 1
    assert StockMovement.objects.filter(stock_level__product=shop.shirt, stock_level__location=shop.ist, reason="return",
                                        quantity=1).exists()


def test_a_blind_count_by_scanning_updates_the_store_accuracy(store_page, live_server, shop):  # noqa: F811
    page = store_page
    receive(shop.cap, shop.ist, 3)
    shop.cap.barcode = "8690000000036"
    shop.cap.save()
    assert not LocationAccuracyStat.objects.filter(location=shop.ist).exists()
    store_login(page, live_server, "ayse")
    page.click("nav.tabs >> text=Counts")
    page.fill("#adhoc-codes", "8690000000036")
    page.click("button:has-text('Start counting')")
    page.wait_for_selector("h1:has-text('Count #')")
    assert "on hand" not in page.locator("main").inner_text().lower()  # blind: no system figure
    page.wait_for_load_state("load")  # the page's script counts the scans
    for n in range(1, 4):
        page.keyboard.type("8690000000036")
        page.keyboard.press("Enter")
        expect(page.locator("#count-CAP")).to_have_value(str(n))
    page.keyboard.type("8690000000012")  # the shirt is not on this count
    page.keyboard.press("Enter")
    assert page.locator("[data-count-wrong]").is_visible()
    shot(page, f"store-count-{page.device}")
    page.click("button:has-text('Submit the count')")
    assert "Count posted." in page.locator(".messages").inner_text()
    stat = LocationAccuracyStat.objects.get(location=shop.ist)
    assert (stat.counts, stat.accurate) == (1, 1)


def test_a_transfer_is_received_by_scanning(store_page, live_server, shop):  # noqa: F811
    page = store_page
    receive(shop.shirt, shop.izm, 5)
    transfer = transfer_ship(product=shop.shirt, from_location=shop.izm, to_location=shop.ist, quantity=3, source="test").transfer
    before = _on_hand(shop.shirt, shop.ist)
    store_login(page, live_server, "ayse")
    page.click("nav.tabs >> text=Transfers")
    page.click(f"a:has-text('#{transfer.pk}')")
    page.wait_for_load_state("load")  # the page's script counts the scans
    for n in (1, 2):  # one unit went missing on the way
        page.keyboard.type("8690000000012")
        page.keyboard.press("Enter")
        expect(page.locator("#received")).to_have_value(str(n))
    shot(page, f"store-transfer-in-{page.device}")
    page.click("button:has-text('Book in')")
    assert "Received 2 × Linen shirt white M." in page.locator(".messages").inner_text()
    transfer.refresh_from_db()
    assert (transfer.status, transfer.received_quantity) == ("received", 2)
    assert _on_hand(shop.shirt, shop.ist) == before + 2
