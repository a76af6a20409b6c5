"""Entry points of the stock import: API (upload → 202 → poll → errors CSV), admin pages
(upload, live progress JSON, errors CSV, import-export preview through services), the
management command. All reach the same service; a refused file changes nothing."""

from __future__ import annotations

import csv
import io

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

import inventory.admin_imports  # noqa: F401  (registers the import admin; inventory/admin.py imports it at merge)
from inventory import services
from inventory.imports.models import ImportJob, ImportStatus
from inventory.models import CycleCount, StockLevel, StockMovement
from inventory.resources import BulkStockLevelResource, LocationResource, StockLevelResource
from tests.access.factories import issue_token
from tests.allocation.factories import ChannelFactory

from .factories import LocationFactory, MerchandiserFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """The job is queued on commit: ``with run_on_commit():`` runs it there (Celery is eager in tests)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def catalogue():
    tee = ProductFactory(sku="TEE-S")
    cap = ProductFactory(sku="CAP-1")
    store, dc = LocationFactory(code="ST-01"), LocationFactory(code="DC-01")
    services.stock_receive(product=tee, location=store, quantity=10, source="wms")
    return tee, cap, store, dc


def ledger():
    return list(StockMovement.objects.order_by("id").values_list("id", "quantity", "balance_after"))


def stock():
    return sorted(StockLevel.objects.values_list("product__sku", "location__code", "on_hand"))


def upload(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


# --- API ---------------------------------------------------------------------------------------


def test_api_upload_returns_202_and_job_then_get_shows_result(api_client, catalogue, run_on_commit):
    api_client.force_authenticate(MerchandiserFactory())
    with run_on_commit():
        response = api_client.post("/api/v1/imports/stock", {"file": upload("s.csv", "sku,location,quantity\nTEE-S,ST-01,4\nCAP-1,DC-01,9\n"),
                                                             "mode": "snapshot"}, format="multipart")
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    body = api_client.get(f"/api/v1/imports/stock/{job_id}").json()
    assert (body["status"], body["finished"], body["rows_total"], body["result"]["rows_applied"], body["result"]["movements_written"]) == (
        "done", True, 2, 2, 2)
    assert stock() == [("CAP-1", "DC-01", 9), ("TEE-S", "ST-01", 4)]
    assert services.ledger_check() == []


def test_api_refused_file_changes_nothing_and_errors_csv_names_line_and_column(api_client, catalogue, run_on_commit):
    api_client.force_authenticate(MerchandiserFactory())
    before = (stock(), ledger())
    with run_on_commit():
        response = api_client.post("/api/v1/imports/stock", {"file": upload("s.csv", "sku;location;quantity\nTEE-S;ST-01;4\nNOPE;ST-01;x\n")},
                                   format="multipart")
    job_id = response.json()["id"]
    body = api_client.get(f"/api/v1/imports/stock/{job_id}").json()
    assert body["status"] == "failed" and body["result"]["error_count"] == 2
    assert (stock(), ledger()) == before
    csv_response = api_client.get(f"/api/v1/imports/stock/{job_id}/errors.csv")
    assert csv_response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(csv_response.streaming_content).decode())))
    assert rows[0] == ["line", "column", "column_number", "value", "code", "message"]
    assert [r[:5] for r in rows[1:]] == [["3", "sku", "1", "NOPE", "unknown_sku"], ["3", "quantity", "3", "x", "not_an_integer"]]


def test_api_cancel_twice_confirms_and_a_finished_import_cannot_be_cancelled(api_client, catalogue, run_on_commit):
    """Upload (queued, not yet run) → cancel → cancel again: the second cancel confirms (200, the job
    as it is) instead of a 409; the job never runs. A job that is done still answers 409."""
    api_client.force_authenticate(MerchandiserFactory())
    before = (stock(), ledger())
    job_id = api_client.post("/api/v1/imports/stock", {"file": upload("s.csv", "sku,location,quantity\nTEE-S,ST-01,4\n")},
                             format="multipart").json()["id"]
    first = api_client.post(f"/api/v1/imports/stock/{job_id}/cancel")
    again = api_client.post(f"/api/v1/imports/stock/{job_id}/cancel")
    assert (first.status_code, first.json()["status"]) == (200, "cancelled")
    assert (again.status_code, again.json()["status"], again.json()["finished_at"]) == (200, "cancelled", first.json()["finished_at"])
    assert (stock(), ledger()) == before

    with run_on_commit():
        done_id = api_client.post("/api/v1/imports/stock", {"file": upload("s.csv", "sku,location,quantity\nTEE-S,ST-01,4\n")},
                                  format="multipart").json()["id"]
    refused = api_client.post(f"/api/v1/imports/stock/{done_id}/cancel")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "import_finished")


def test_api_bad_mode_is_a_400_with_error_shape(api_client, catalogue):
    api_client.force_authenticate(MerchandiserFactory())
    response = api_client.post("/api/v1/imports/stock", {"file": upload("s.csv", "sku,location,quantity\n"), "mode": "replace"},
                               format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid" and "mode" in response.json()["error"]["details"]
    assert ImportJob.objects.count() == 0


def test_api_needs_import_capability(api_client, catalogue):
    api_client.force_authenticate(UserFactory())
    response = api_client.post("/api/v1/imports/stock", {"file": upload("s.csv", "sku,location,quantity\nTEE-S,ST-01,1\n")},
                               format="multipart")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert ImportJob.objects.count() == 0


def test_partner_token_limited_to_locations_imports_only_there(api_client, catalogue, run_on_commit):
    _, _, store, dc = catalogue
    key = issue_token(ChannelFactory(), "imports:write", locations=[store])
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    denied = api_client.post("/api/v1/imports/stock", {"file": upload("s.csv", "sku,quantity\nTEE-S,1\n"), "location": "DC-01"},
                             format="multipart")
    assert denied.status_code == 403
    with run_on_commit():
        ok = api_client.post("/api/v1/imports/stock", {"file": upload("s.csv", "sku,quantity\nTEE-S,3\n"), "location": "ST-01"},
                             format="multipart")
    assert ok.status_code == 202
    assert api_client.get(f"/api/v1/imports/stock/{ok.json()['id']}").json()["status"] == "done"
    assert stock() == [("TEE-S", "ST-01", 3)]


# --- admin -------------------------------------------------------------------------------------


def test_admin_upload_runs_job_and_progress_json_reports_summary(client, catalogue, run_on_commit):
    client.force_login(MerchandiserFactory())
    with run_on_commit():
        response = client.post(reverse("admin:inventory_importjob_upload"), {
            "file": upload("s.csv", "sku,quantity\nTEE-S,12\nCAP-1,2\nBAD,1\n"), "mode": "snapshot", "location": "DC-01",
            "apply_valid": "on"})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:inventory_importjob_progress", args=[job.pk])
    page = client.get(response.url)
    assert page.status_code == 200 and b"import_progress.js" in page.content and b"Download errors" in page.content
    progress = client.get(reverse("admin:inventory_importjob_progress_json", args=[job.pk])).json()
    assert (progress["status"], progress["percent"], progress["result"]["rows_applied"], progress["result"]["rows_skipped"]) == (
        "done", 100.0, 2, 1)
    assert [(e["line"], e["column"], e["code"]) for e in progress["errors"]] == [(4, "sku", "unknown_sku")]
    assert stock() == [("CAP-1", "DC-01", 2), ("TEE-S", "DC-01", 12), ("TEE-S", "ST-01", 10)]
    errors = b"".join(client.get(reverse("admin:inventory_importjob_errors", args=[job.pk])).streaming_content).decode()
    assert errors.splitlines()[1].startswith("4,sku,1,BAD,unknown_sku,")


def test_stock_level_resource_goes_through_count_service_and_preview_changes_nothing(catalogue):
    tee, cap, store, dc = catalogue
    dataset = tablib.Dataset(headers=["sku", "location", "on_hand"])
    dataset.append(["TEE-S", "ST-01", "7"])
    dataset.append(["CAP-1", "DC-01", "3"])
    before = (stock(), ledger())
    preview = StockLevelResource().import_data(dataset, dry_run=True, use_transactions=True)
    assert not preview.has_errors() and not preview.has_validation_errors()
    assert (stock(), ledger()) == before
    result = StockLevelResource().import_data(dataset, dry_run=False, use_transactions=True)
    assert not result.has_errors(), [e.error for row in result.row_errors() for e in row[1]]
    assert stock() == [("CAP-1", "DC-01", 3), ("TEE-S", "ST-01", 7)]
    assert sorted(StockMovement.objects.filter(reason="count").values_list("quantity", "balance_after")) == [(-3, 7), (3, 3)]
    assert CycleCount.objects.count() == 2
    assert services.ledger_check() == []


def test_stock_level_resource_refuses_count_below_reserved_like_the_service(catalogue):
    tee, cap, store, dc = catalogue
    services.reservation_create(product=tee, location=store, quantity=6, reference="order-line:9")
    dataset = tablib.Dataset(headers=["sku", "location", "on_hand"])
    dataset.append(["TEE-S", "ST-01", "2"])
    before = (stock(), ledger())
    result = BulkStockLevelResource().import_data(dataset, dry_run=False, use_transactions=True)
    assert result.has_validation_errors()
    assert "reserved" in str(result.invalid_rows[0].error_dict)
    assert (stock(), ledger()) == before


def test_location_resource_exports_and_imports_same_format(catalogue):
    exported = LocationResource().export()
    assert exported.headers[:3] == ["code", "name", "kind"]
    dataset = tablib.Dataset(headers=exported.headers)
    row = list(exported[0])
    row[1] = "Renamed DC"
    dataset.append(row)
    result = LocationResource().import_data(dataset, dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors()
    assert result.totals["update"] == 1


# --- management command ------------------------------------------------------------------------


def test_import_stock_command_applies_delta(tmp_path, catalogue, capsys):
    path = tmp_path / "delta.csv"
    path.write_text("sku,location,quantity,note\r\nTEE-S,ST-01,-3,breakage\r\n", encoding="utf-8-sig")
    call_command("import_stock", str(path), "--mode", "delta", "--no-progress")
    assert stock() == [("TEE-S", "ST-01", 7)]
    assert "applied 1" in capsys.readouterr().out


def test_import_stock_command_refused_file_fails_and_writes_errors(tmp_path, catalogue):
    path = tmp_path / "bad.csv"
    path.write_text("sku,location,quantity\nTEE-S,ST-01,5\nTEE-S,ST-01,6\n")
    errors = tmp_path / "errors.csv"
    before = (stock(), ledger())
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("import_stock", str(path), "--errors-csv", str(errors), "--no-progress")
    assert (stock(), ledger()) == before
    rows = list(csv.reader(errors.open()))
    assert [r[:5] for r in rows[1:]] == [["2", "sku", "1", "TEE-S", "duplicate_row"], ["3", "sku", "1", "TEE-S", "duplicate_row"]]
    assert ImportJob.objects.get().status == ImportStatus.FAILED


def test_import_stock_command_shows_a_progress_bar(tmp_path, catalogue, capsys):
    path = tmp_path / "count.csv"
    path.write_text("sku,location,quantity\nTEE-S,ST-01,4\nCAP-1,ST-01,1\n")
    call_command("import_stock", str(path), "--location", "ST-01")
    captured = capsys.readouterr()
    assert "100.0%" in captured.err and "2/2 rows" in captured.err
    assert "done (snapshot), 2 rows" in captured.out
    assert stock() == [("CAP-1", "ST-01", 1), ("TEE-S", "ST-01", 4)]


def test_admin_stock_level_import_previews_the_diff_then_confirms_through_the_count_service(client, catalogue):
    client.force_login(MerchandiserFactory())
    before = (stock(), ledger())
    preview = client.post(reverse("admin:inventory_stocklevel_import"), {
        "import_file": upload("levels.csv", "sku,location,on_hand\nTEE-S,ST-01,6\nCAP-1,DC-01,2\n"), "format": "0"})
    assert preview.status_code == 200, preview.content[:500]
    confirm = preview.context["confirm_form"]
    assert confirm is not None, preview.context.get("result") and preview.context["result"].invalid_rows
    assert b"TEE-S" in preview.content and b"CAP-1" in preview.content
    assert (stock(), ledger()) == before  # the preview changed nothing
    done = client.post(reverse("admin:inventory_stocklevel_process_import"), confirm.initial)
    assert done.status_code == 302
    assert stock() == [("CAP-1", "DC-01", 2), ("TEE-S", "ST-01", 6)]
    assert sorted(StockMovement.objects.filter(reason="count").values_list("quantity", "balance_after")) == [(-4, 6), (2, 2)]
    assert services.ledger_check() == []
    export = client.post(reverse("admin:inventory_stocklevel_export"), {"format": "0", "resource": "0",
                                                                        "stocklevelresource_product": "on",
                                                                        "stocklevelresource_location": "on",
                                                                        "stocklevelresource_on_hand": "on"})
    assert export.status_code == 200
    assert export.content.decode().splitlines()[0].startswith("sku,location,on_hand")
