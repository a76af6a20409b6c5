"""Where each item sits at a location (its shelf): set through its service, in the admin (the stock
row's only editable field) and by CSV import; never a ledger row, never a stale stock figure written."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inventory import services
from inventory.models import StockLevel, StockMovement
from inventory.selectors import shelves_at
from omni.errors import NotFound, ValidationFailed
from tests.inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked():
    tee, cap, mug = ProductFactory(sku="TEE-S"), ProductFactory(sku="CAP-1"), ProductFactory(sku="MUG-1")
    store = LocationFactory(code="ST-01")
    for p in (tee, cap):
        services.stock_receive(product=p, location=store, quantity=10, source="wms")
    return tee, cap, mug, store


def _state():
    return (sorted(StockLevel.objects.values_list("product__sku", "on_hand", "reserved", "shelf")),
            StockMovement.objects.count())


def test_the_service_sets_trims_and_clears_a_shelf_without_a_ledger_row(stocked):
    tee, cap, _mug, store = stocked
    movements = StockMovement.objects.count()
    level = services.stock_shelf_set(product=tee, location=store, shelf="  A-03-2 ")
    assert level.shelf == "A-03-2" and level.on_hand == 10
    services.stock_shelf_set(product=cap, location=store, shelf="B-1")
    assert shelves_at(location_id=store.pk, product_ids=[tee.pk, cap.pk]) == {tee.pk: "A-03-2", cap.pk: "B-1"}
    services.stock_shelf_set(product=cap, location=store, shelf="")
    assert shelves_at(location_id=store.pk, product_ids=[tee.pk, cap.pk]) == {tee.pk: "A-03-2"}
    assert StockMovement.objects.count() == movements


def test_bad_shelves_are_refused_and_change_nothing(stocked):
    tee, _cap, mug, store = stocked
    services.stock_shelf_set(product=tee, location=store, shelf="A-1")
    before = _state()
    with pytest.raises(ValidationFailed, match="at most 32"):
        services.stock_shelf_set(product=tee, location=store, shelf="X" * 33)
    with pytest.raises(ValidationFailed, match="control characters"):
        services.stock_shelf_set(product=tee, location=store, shelf="A\x001")
    with pytest.raises(NotFound, match="No stock row for MUG-1 at ST-01"):
        services.stock_shelf_set(product=mug, location=store, shelf="C-9")
    assert _state() == before


def test_the_admin_edits_the_shelf_only_and_never_writes_a_stale_figure(client, stocked):
    tee, _cap, _mug, store = stocked
    client.force_login(MerchandiserFactory())
    level = StockLevel.objects.get(product=tee, location=store)
    url = reverse("admin:inventory_stocklevel_change", args=[level.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="shelf"' in page.content.decode()
    assert "TEE-S @ ST-01: 10 on hand" in page.content.decode()  # the breadcrumb names the row, not ids
    assert 'name="on_hand"' not in page.content.decode()
    services.stock_receive(product=tee, location=store, quantity=5, source="wms")  # while the form is open
    res = client.post(url, {"shelf": " D-12-1 ", "on_hand": "0"})
    assert res.status_code == 302
    level.refresh_from_db()
    assert (level.shelf, level.on_hand) == ("D-12-1", 15)
    too_long = client.post(url, {"shelf": "Y" * 40})
    assert too_long.status_code == 200 and "at most 32 characters" in too_long.content.decode().lower()
    level.refresh_from_db()
    assert level.shelf == "D-12-1"


def _upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("shelves.csv", text.encode(), content_type="text/csv")


def test_a_csv_import_sets_shelves_and_a_row_without_stock_refuses_the_file(client, stocked):
    tee, cap, _mug, store = stocked
    client.force_login(MerchandiserFactory())
    before = _state()
    bad = client.post(reverse("admin:inventory_stocklevel_import"), {
        "import_file": _upload("sku,location,shelf\nTEE-S,ST-01,A-1\nMUG-1,ST-01,C-9\n"), "format": "0", "resource": "1"})
    assert bad.status_code == 200 and bad.context.get("confirm_form") is None, bad.content.decode()[-3000:]
    assert "No stock of this SKU here yet" in bad.content.decode()
    assert _state() == before
    preview = client.post(reverse("admin:inventory_stocklevel_import"), {
        "import_file": _upload("sku,location,shelf\nTEE-S,ST-01,A-10\nCAP-1,ST-01, A-2 \n"), "format": "0", "resource": "1"})
    confirm = preview.context["confirm_form"]
    assert confirm is not None
    assert _state() == before  # the preview changed nothing
    done = client.post(reverse("admin:inventory_stocklevel_process_import"), confirm.initial)
    assert done.status_code == 302
    assert shelves_at(location_id=store.pk, product_ids=[tee.pk, cap.pk]) == {tee.pk: "A-10", cap.pk: "A-2"}
    assert sorted(StockLevel.objects.values_list("product__sku", "on_hand")) == [("CAP-1", 10), ("TEE-S", 10)]
    assert StockMovement.objects.count() == before[1]
