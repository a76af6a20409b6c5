"""Store staff in a real browser: sign in at the site root, see their store, are refused another's."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_accessible, shot, store_login
from tests.fulfillment.store.fixtures import associate, besiktas, kadikoy, manager  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_associate_signs_in_and_another_store_is_refused_by_url(store_page, live_server, associate, besiktas):
    page = store_page
    page.goto(f"{live_server.url}/")
    assert page.url.endswith("/login/?next=/")
    assert_accessible(page, "login")
    shot(page, f"store-login-{page.device}")
    store_login(page, live_server, "ayse")
    assert page.url.endswith("/s/ST-KDK/")
    assert page.locator(".brand-name").inner_text() == "Kadıköy"
    header = page.locator("header").bounding_box()
    assert header is not None and header["width"] <= page.viewport_size["width"]  # nothing spills sideways
    shot(page, f"store-home-{page.device}")

    page.goto(f"{live_server.url}/s/ST-BSK/")
    assert page.locator("h1").inner_text() == "Not your store"
    assert "You are not assigned to store ST-BSK" in page.locator("[role=alert]").inner_text()
    shot(page, f"store-403-{page.device}")
    page.click("text=Go to my store")
    assert page.url.endswith("/s/ST-KDK/")


def test_a_manager_chooses_a_store_and_switches_language(store_page, live_server, manager):
    page = store_page
    store_login(page, live_server, "mehmet")
    assert page.url.endswith("/stores/")
    page.click("button:has-text('Beşiktaş')")
    assert page.url.endswith("/s/ST-BSK/")
    page.click("header summary")
    page.click("button:has-text('Türkçe')")
    assert page.locator("nav.tabs").inner_text().startswith("Kuyruk")
    assert page.locator("html").get_attribute("lang") == "tr"
    shot(page, f"store-home-tr-{page.device}")
