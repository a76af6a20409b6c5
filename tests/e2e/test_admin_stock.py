"""The merchandiser's stock flows in a real browser: the Stock operation page, the stock row it
lands on, and the ledger. Each test checks what the page shows and what the database holds."""

from __future__ import annotations

import pytest

from inventory.models import StockLevel, StockMovement
from tests.e2e.conftest import admin_login, shot
from tests.inventory.factories import LocationFactory, ProductFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _pick(page, field: str, typed: str, option: str) -> None:
    """Choose ``option`` in the admin's autocomplete (select2) widget for ``field``."""
    page.click(f"#id_{field} + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", typed)
    page.click(f".select2-results__option:has-text('{option}')")


def test_receiving_units_shows_new_on_hand_and_ledger_row_with_the_merchandiser(merchandiser_page, live_server, merchandiser):
    page = merchandiser_page
    product = ProductFactory(sku="TEE-RED-M", name="Red tee M")
    store = LocationFactory(code="ST-IST", name="Istanbul store")
    LocationFactory(code="DC-01", name="Central DC")

    page.goto(f"{live_server.url}/admin/inventory/stocklevel/")
    page.click("text=Stock operation")
    page.wait_for_selector("h1:has-text('Stock operation')")
    _pick(page, "product", "TEE-RED", "TEE-RED-M · Red tee M")
    _pick(page, "location", "ST-IST", "ST-IST · Istanbul store")
    page.check("input[name=operation][value=receipt]")
    page.fill("#id_quantity", "12")
    page.fill("#id_reference", "DN-4711")
    shot(page, "stock-operation-receive")
    page.click("input[type=submit][value=Record]")

    page.wait_for_selector("ul.messagelist")
    assert "Received 12 × TEE-RED-M at ST-IST: 12 on hand." in page.inner_text("ul.messagelist")
    level = StockLevel.objects.get(product=product, location=store)
    assert page.url.endswith(f"/admin/inventory/stocklevel/{level.pk}/change/")
    title = "TEE-RED-M · Red tee M at ST-IST · Istanbul store"
    assert page.locator("#content h2").inner_text() == title  # the row is named, not "1@1"
    # nothing here is edited as a number: the shelf is the one field the form saves
    assert page.locator("#stocklevel_form [name=on_hand], #stocklevel_form [name=reserved]").count() == 0
    assert page.locator("#stocklevel_form input[name=shelf]").count() == 1
    assert level.on_hand == 12 and level.reserved == 0
    on_hand_row = page.locator(".form-row", has=page.locator("label", has_text="On hand"))
    assert on_hand_row.locator("label").inner_text().strip().lower().startswith("on hand")
    assert on_hand_row.locator(".readonly").inner_text().strip() == "12"
    shot(page, "stocklevel-after-receive")

    page.click("text=Ledger of this row")
    page.wait_for_url("**/admin/inventory/stockmovement/**")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    cells = {
        col: rows.first.locator(f"td.field-{col}, th.field-{col}").inner_text().strip()
        for col in ("sku", "location", "movement", "quantity", "balance_after", "who", "references")
    }
    assert cells == {"sku": "TEE-RED-M", "location": "ST-IST", "movement": "Receipt", "quantity": "12",
                     "balance_after": "12", "who": "mira via admin", "references": "DN-4711"}
    # Who did it is on screen, not scrolled off to the right of the table.
    who = rows.first.locator("td.field-who").bounding_box()
    table_box = page.locator("#result_list").bounding_box()
    assert who is not None and who["x"] + who["width"] <= table_box["x"] + table_box["width"]
    shot(page, "ledger-after-receive")
    movement = StockMovement.objects.get()
    assert (movement.quantity, movement.balance_after, movement.actor_id) == (12, 12, merchandiser.pk)


def _stock(product, location, on_hand: int) -> StockLevel:
    from inventory import services

    services.stock_receive(product=product, location=location, quantity=on_hand, source="test")
    return StockLevel.objects.get(product=product, location=location)


def _open_operation(page, live_server, level: StockLevel) -> None:
    """The page the stock row's "Receive / adjust / count" button opens (product and location preset)."""
    page.goto(f"{live_server.url}/admin/inventory/stocklevel/{level.pk}/change/")
    page.click("text=Receive / adjust / count")
    page.wait_for_selector("h1:has-text('Stock operation')")
    assert page.locator("#id_product option:checked").inner_text() == f"{level.product.sku} · {level.product.name}"
    assert page.locator("#id_location option:checked").inner_text() == f"{level.location.code} · {level.location.name}"


def test_adjustment_without_reason_is_refused_with_a_clear_error_and_changes_nothing(merchandiser_page, live_server):
    page = merchandiser_page
    level = _stock(ProductFactory(sku="MUG-01", name="Mug"), LocationFactory(code="ST-ANK", name="Ankara store"), 5)
    _open_operation(page, live_server, level)
    page.check("input[name=operation][value=adjustment]")
    page.fill("#id_quantity", "-2")
    page.click("input[type=submit][value=Record]")

    error = page.locator(".errornote").inner_text()
    assert "An adjustment needs a reason." in error and "reason_required" in error
    assert page.locator("#id_quantity").input_value() == "-2"  # what was typed is kept
    shot(page, "stock-operation-no-reason")
    level.refresh_from_db()
    assert level.on_hand == 5
    assert StockMovement.objects.count() == 1  # only the initial receipt


def test_taking_more_than_on_hand_is_refused_naming_sku_location_and_quantities(merchandiser_page, live_server):
    """The page has no POS-sale operation; the way a merchandiser can try to go below zero is a
    negative adjustment (or marking more damaged than is on hand)."""
    page = merchandiser_page
    level = _stock(ProductFactory(sku="MUG-02", name="Blue mug"), LocationFactory(code="ST-IZM", name="Izmir store"), 3)
    _open_operation(page, live_server, level)
    page.check("input[name=operation][value=adjustment]")
    page.fill("#id_quantity", "-5")
    page.fill("#id_reason", "shrinkage")
    page.click("input[type=submit][value=Record]")
    assert "Not enough stock of MUG-02 at ST-IZM: 3 on hand, 5 requested." in page.locator(".errornote").inner_text()
    shot(page, "stock-operation-below-zero")

    page.check("input[name=operation][value=damage]")
    page.fill("#id_quantity", "4")
    page.click("input[type=submit][value=Record]")
    assert "Not enough stock of MUG-02 at ST-IZM: 3 on hand, 4 requested." in page.locator(".errornote").inner_text()

    level.refresh_from_db()
    assert (level.on_hand, level.damaged) == (3, 0)
    assert StockMovement.objects.count() == 1


def test_store_staff_cannot_enter_the_admin(browser_page, live_server):
    store = LocationFactory(code="ST-BUR", name="Bursa store")
    staff = StaffFactory(username="sam", assigned=store)
    assert not staff.is_staff
    page = browser_page
    admin_login(page, live_server, "sam")
    assert "/admin/login/" in page.url
    assert "Please enter the correct username and password for a staff account." in page.locator(".errornote").all_inner_texts()[-1]
    shot(page, "store-staff-login")
    page.goto(f"{live_server.url}/admin/inventory/stocklevel/")
    assert "/admin/login/" in page.url  # redirected back to the login form, nothing listed
    assert page.locator("#result_list").count() == 0
