"""The admin page of a stock import updates its progress bar and summary while the job runs
(small JS polling the job's JSON endpoint), without reloading the page."""

from __future__ import annotations

import io

import pytest

from tests.e2e.conftest import admin_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_progress_page_updates_live_until_the_summary(browser_page, live_server, media_root):
    from inventory import services
    from inventory.imports.services import stock_import_create, stock_import_run
    from inventory.models import StockLevel
    from tests.inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory

    tee, store = ProductFactory(sku="TEE-S"), LocationFactory(code="ST-01")
    services.stock_receive(product=tee, location=store, quantity=2, source="wms")
    MerchandiserFactory(username="merch")
    job = stock_import_create(file=io.BytesIO(b"sku,location,quantity\nTEE-S,ST-01,9\nNOPE,ST-01,1\n"), filename="count.csv",
                              apply_valid=True, enqueue=False)
    page = browser_page
    admin_login(page, live_server, "merch")
    page.goto(f"{live_server.url}/admin/inventory/importjob/{job.pk}/progress/")
    assert page.text_content('[data-field="status"]') == "Queued"
    assert page.is_hidden(".import-summary")

    stock_import_run(job_id=job.pk)  # the worker finishes while the page is open

    page.wait_for_selector(".import-summary:not([hidden])", timeout=10_000)
    assert page.text_content('[data-field="status"]') == "Done"
    assert page.get_attribute(".import-bar", "aria-valuenow") == "100"
    assert page.text_content('[data-field="rows_applied"]') == "1"
    assert page.text_content('[data-field="rows_skipped"]') == "1"
    assert "unknown SKU 'NOPE'" in page.text_content(".import-errors")
    assert page.is_visible('[data-field="errors-link"]')
    assert StockLevel.objects.get(product=tee, location=store).on_hand == 9
