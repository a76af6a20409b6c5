"""Allocation admin in a real browser: issuing a partner token (key shown once, then usable
against the API, never shown again) and the ATP explorer's explained numbers."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from allocation.models import ChannelKind
from omni.access.models import PartnerToken
from inventory.models import LocationKind
from tests.allocation.factories import ChannelFactory, channel_policy, location_policy, make_visible, put_stock
from tests.e2e.conftest import shot
from tests.inventory.factories import LocationFactory, ProductFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _api_get(live_server, path: str, key: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{live_server.url}{path}", headers={"Authorization": f"Token {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_partner_token_key_is_shown_once_works_against_the_api_and_is_never_shown_again(merchandiser_page, live_server):
    page = merchandiser_page
    web = ChannelFactory(code="web", name="Web shop")
    ChannelFactory(code="mkt", name="Marketplace", kind=ChannelKind.MARKETPLACE)
    store = LocationFactory(code="ST-IST", name="Istanbul store")
    make_visible(web, store)
    put_stock(ProductFactory(sku="TEE-RED-M"), store, 7)

    page.goto(f"{live_server.url}/admin/access/partnertoken/add/")
    page.fill("#id_name", "Shopify connector")
    page.select_option("#id_channel", label="web · Web shop")
    page.check("input[name=scopes][value='availability:read']")
    page.click("[name=_save]")

    message = page.locator("ul.messagelist").inner_text()
    shot(page, "partner-token-issued")
    found = re.search(r"API key for “Shopify connector”: (\S+) — copy it now; it is shown only once", message)
    assert found, message
    key = found.group(1)
    token = PartnerToken.objects.get()
    assert (token.name, token.channel.code, token.scopes, token.prefix) == ("Shopify connector", "web", ["availability:read"], key[:8])
    assert token.key_hash == PartnerToken.hash_key(key) != key

    status, body = _api_get(live_server, "/api/v1/availability?sku=TEE-RED-M", key)
    assert status == 200, body
    assert body["channel"] == "web" and body["items"] == [{"sku": "TEE-RED-M", "atp": 7}]
    status, body = _api_get(live_server, "/api/v1/availability?sku=TEE-RED-M&channel=mkt", key)
    assert status == 403 and body["error"]["code"], body  # a partner acts for its own channel only
    status, body = _api_get(live_server, "/api/v1/availability?sku=TEE-RED-M", key[:-1] + ("x" if key[-1] != "x" else "y"))
    assert status == 401 and body["error"]["message"] == "Invalid API token."

    listed = page.locator("#result_list tbody tr").first
    assert listed.locator("td.field-scope_list").inner_text() == "Read availability"  # not '["availability:read"]'
    for url in ("/admin/access/partnertoken/", f"/admin/access/partnertoken/{token.pk}/change/"):
        page.goto(f"{live_server.url}{url}")
        html = page.content()
        assert key not in html and key[8:] not in html, url
        assert token.prefix in html  # the prefix identifies the token without revealing it
    shot(page, "partner-token-change")


def _cells(row) -> list[str]:
    return [c.strip() for c in row.locator("td").all_inner_texts()]


def test_atp_explorer_explains_each_deduction_per_location_and_channel(merchandiser_page, live_server):
    page = merchandiser_page
    product = ProductFactory(sku="JKT-BLK-L", name="Black jacket L")
    dc = LocationFactory(code="DC-01", name="Central DC", kind=LocationKind.DC)
    store = LocationFactory(code="ST-IST", name="Istanbul store")
    web = ChannelFactory(code="web", name="Web shop")
    pos = ChannelFactory(code="pos-ist", name="Istanbul POS", kind=ChannelKind.POS)
    make_visible(web, dc)
    make_visible(pos, store)
    put_stock(product, dc, 20, reserved=3)
    put_stock(product, store, 10)
    dc_policy = location_policy(product, dc, 4)
    channel_policy(product, web, 6)

    page.goto(f"{live_server.url}/admin/allocation/channel/")
    page.click("text=ATP explorer")
    page.fill("#sku", "JKT-BLK-L")
    page.click("input[type=submit][value=Explain]")
    page.wait_for_selector("h3:has-text('Per channel')")
    shot(page, "atp-explorer")
    assert page.url.endswith("/admin/allocation/channel/atp-explorer/?sku=JKT-BLK-L")
    assert page.locator("#content h1").all_inner_texts() == ["ATP explorer"]  # one title, not two

    locations = page.locator("h3:has-text('Per location') + div table tbody tr")
    by_code = {cells[0]: cells for cells in (_cells(locations.nth(i)) for i in range(locations.count()))}
    # Location, kind, on hand, reserved, safety stock, set by, available, accuracy, visible to
    assert by_code["DC-01"][1:5] == ["Central DC", "20", "3", "4"]
    assert by_code["DC-01"][5] == f"SKU × location policy: {dc_policy.explanation}" and dc_policy.explanation
    assert by_code["DC-01"][6:] == ["13", "not counted", "web"]
    assert by_code["ST-IST"][1:] == ["Store", "10", "0", "0", "—", "10", "not counted", "pos-ist"]

    channels = page.locator("h3:has-text('Per channel') + div table tbody tr")
    rows = {cells[0]: cells for cells in (_cells(channels.nth(i)) for i in range(channels.count()))}
    # Channel, available, haircut, buffer (source), extra buffer, quota, virtual, lag, ATP, how
    assert rows["web"][1:9] == ["13", "0", "6 (channel)", "−2", "0", "0", "0", "11"]
    assert "6 units is this channel's safety stock for the SKU" in rows["web"][9]
    assert "the locations already keep back 4, so 2 units more kept back here." in rows["web"][9]
    assert rows["web"][9].rstrip().endswith("web may sell 11 units (ATP = 11).")
    assert rows["pos-ist"][1:9] == ["10", "0", "0", "0", "0", "0", "0", "10"]

    pool = page.locator("h3:has-text('Total pool') + p").inner_text()
    assert "Physical 30 · reserved 3 · location safety stock deducted 4 · available 23" in pool
    assert "pool ATP 23" in pool

    page.click("text=SKU × location policy")  # the policy that set the DC's safety stock opens
    assert page.url.endswith(f"/admin/allocation/safetystockpolicy/{dc_policy.pk}/change/")


def test_atp_explorer_names_an_unknown_sku(merchandiser_page, live_server):
    page = merchandiser_page
    page.goto(f"{live_server.url}/admin/allocation/channel/atp-explorer/?sku=NOPE-1")
    assert page.locator(".errornote").inner_text() == "Unknown SKU 'NOPE-1'."
    assert page.locator("#sku").input_value() == "NOPE-1"
