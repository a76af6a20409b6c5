"""Stock lookup: a SKU or barcode here and at the nearest stores that hold it."""

from __future__ import annotations

import pytest

from inventory import services
from inventory.models import LocationKind, ProductBarcode
from tests.inventory.factories import LocationFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_lookup_by_barcode_shows_here_and_the_nearest_stores_that_hold_it(client, associate, kadikoy, besiktas):
    tee = ProductFactory(sku="TEE-RED-M", name="Red tee M", barcode="8690000000012")
    far = LocationFactory(code="ST-ANK", name="Ankara", latitude=39.92, longitude=32.85)
    empty = LocationFactory(code="ST-UMR", name="Ümraniye", latitude=41.02, longitude=29.12)  # near, but holds none
    dc = LocationFactory(code="DC-01", name="DC", kind=LocationKind.DC, latitude=40.8, longitude=29.4)
    for loc, qty in ((kadikoy, 2), (besiktas, 5), (far, 9), (dc, 100)):
        services.stock_receive(product=tee, location=loc, quantity=qty, source="test")
    services.stock_receive(product=ProductFactory(sku="OTHER"), location=empty, quantity=1, source="test")
    client.force_login(associate)

    html = client.get("/s/ST-KDK/lookup/", {"q": "8690000000012"}).content.decode()
    assert "Red tee M" in html and "TEE-RED-M" in html
    assert html.index("ST-BSK") < html.index("ST-ANK")  # nearest first
    assert "ST-UMR" not in html and "DC-01" not in html  # stores that hold it, not the DC
    assert "on hand here" in html

    by_extra_barcode = ProductBarcode.objects.create(product=tee, code="4000000000001")
    assert "Red tee M" in client.get("/s/ST-KDK/lookup/", {"q": by_extra_barcode.code}).content.decode()
    assert "Red tee M" in client.get("/s/ST-KDK/lookup/", {"q": "tee-red-m"}).content.decode()


def test_an_unknown_code_says_so(client, associate):
    client.force_login(associate)
    html = client.get("/s/ST-KDK/lookup/", {"q": "NOPE-1"}).content.decode()
    assert "No product has the SKU or barcode “NOPE-1”." in html


def test_htmx_gets_only_the_result(client, associate):
    ProductFactory(sku="TEE-RED-M", name="Red tee M")
    client.force_login(associate)
    html = client.get("/s/ST-KDK/lookup/", {"q": "TEE-RED-M"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Red tee M" in html and "<html" not in html
