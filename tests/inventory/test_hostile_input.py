"""Hostile stock input: quantities past the bounds, a batch item that fails unexpectedly, CSV files
with NUL bytes, undecodable bytes and overflowing quantities, and import jobs whose worker died.
Every case is refused with a clear error naming where, changes nothing, and leaves no job unfinished."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

import inventory.batch
from inventory import services
from inventory.imports.models import ImportJob, ImportStatus
from inventory.imports.services import stock_import_cancel, stock_import_create, stock_import_run, stock_imports_reap
from inventory.models import StockLevel, StockMovement
from omni.errors import ValidationFailed
from omni.limits import MAX_QUANTITY

from .factories import LocationFactory, MerchandiserFactory, ProductFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/stock-movements"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def world():
    store = LocationFactory(code="ST-A", kind="store")
    tee = ProductFactory(sku="TEE-M")
    services.stock_receive(product=tee, location=store, quantity=10)
    return store, tee


@pytest.fixture
def merch(api_client):
    api_client.force_authenticate(MerchandiserFactory(username="merch"))
    return api_client


def state():
    return StockMovement.objects.count(), sorted(StockLevel.objects.values_list("product__sku", "location__code", "on_hand"))


def receipt(ext: str, quantity) -> dict:
    return {"external_id": ext, "kind": "receipt", "sku": "TEE-M", "location": "ST-A", "quantity": quantity}


# --- quantities ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,quantity", [("receipt", 2**31), ("adjustment", -(2**31)), ("count", 2**31), ("sale", 10**20),
                                           ("receipt", MAX_QUANTITY + 1)])
def test_a_movement_past_the_quantity_bound_is_that_items_error(merch, world, kind, quantity):
    before = state()
    item = {**receipt("BIG", quantity), "kind": kind, "reason": "x"}
    res = merch.post(URL, {"movements": [item, receipt("OK", 1)]}, format="json")
    assert res.status_code == 207
    results = res.json()["results"]
    assert results[0]["status"] == "error" and results[0]["error"]["code"] == "quantity_out_of_range"
    assert results[0]["error"]["field"] == "quantity"
    assert results[1]["status"] == "applied"
    assert state()[0] == before[0] + 1


def test_services_refuse_a_quantity_past_the_bound_before_writing(world):
    store, tee = world
    before = state()
    with pytest.raises(ValidationFailed) as err:
        services.stock_receive(product=tee, location=store, quantity=2**31)
    assert err.value.code == "quantity_out_of_range"
    assert state() == before


def test_a_receipt_that_would_overflow_the_stock_row_is_refused(world, monkeypatch):
    store, tee = world
    monkeypatch.setattr("inventory.services._buckets.MAX_STOCK", 15)
    before = state()
    with pytest.raises(ValidationFailed) as err:
        services.stock_receive(product=tee, location=store, quantity=6)
    assert err.value.code == "stock_out_of_range" and "15" in err.value.message
    assert state() == before
    services.stock_receive(product=tee, location=store, quantity=5)  # up to the bound is fine


# --- the batch contract holds for any item --------------------------------------------------------


def test_an_unexpected_error_in_one_item_rolls_back_that_item_only_and_a_resend_is_safe(merch, world, monkeypatch):
    real = inventory.batch.stock_operation_apply

    def breaks_after_writing(*, op):
        result = real(op=op)
        if op.external_id == "BOOM":
            raise RuntimeError("database said no")
        return result

    monkeypatch.setattr(inventory.batch, "stock_operation_apply", breaks_after_writing)
    batch = {"movements": [receipt("R-1", 1), receipt("BOOM", 5), receipt("R-2", 2)]}
    res = merch.post(URL, batch, format="json")
    assert res.status_code == 207, res.content
    results = res.json()["results"]
    assert [r["status"] for r in results] == ["applied", "error", "applied"]
    assert results[1]["error"]["code"] == "item_failed" and "nothing of it changed" in results[1]["error"]["message"]
    assert StockLevel.objects.get().on_hand == 13  # 10 + 1 + 2: the failed item's write was rolled back
    assert not StockMovement.objects.filter(external_id="BOOM").exists()

    monkeypatch.setattr(inventory.batch, "stock_operation_apply", real)
    res = merch.post(URL, batch, format="json")
    assert res.status_code == 200
    assert [r["status"] for r in res.json()["results"]] == ["replayed", "applied", "replayed"]
    assert StockLevel.objects.get().on_hand == 18


# --- CSV imports --------------------------------------------------------------------------------


def run(content: bytes, *, mode: str = "snapshot") -> ImportJob:
    job = stock_import_create(file=io.BytesIO(content), filename="stock.csv", mode=mode, note="import", enqueue=False)
    return stock_import_run(job_id=job.pk, chunk_rows=50)


def rows(n: int, start: int = 0) -> bytes:
    return b"".join(b"TEE-M,ST-A,%d\n" % (i % 7) for i in range(start, start + n))


def test_a_nul_byte_deep_in_the_file_fails_the_job_naming_line_and_column(world):
    before = state()
    content = b"sku,location,quantity\n" + rows(1000) + b"TEE-M,ST\x00-A,3\n" + rows(10)
    job = run(content)
    assert job.status == ImportStatus.FAILED
    error = next(e for e in job.errors if e["code"] == "control_character")
    assert (error["line"], error["column"], error["column_number"]) == (1002, "location", 2)
    assert "\x00" not in error["value"]
    ImportJob.objects.get(pk=job.pk)  # stored, readable
    assert state() == before


@pytest.mark.parametrize("bad_line", [3, 9003])
def test_an_undecodable_byte_is_reported_at_its_true_line(world, bad_line):
    lines = [b"sku,location,quantity\n"] + [b"TEE-M,ST-A,1\n"] * (bad_line + 20)
    lines[bad_line - 1] = b"TEE-M,ST-\xff,1\n"
    job = run(b"".join(lines))
    assert job.status == ImportStatus.FAILED
    assert job.errors[0]["code"] == "not_utf8" and job.errors[0]["line"] == bad_line
    assert (job.errors[0]["column"], job.errors[0]["column_number"]) == ("location", 2)
    assert f"Line {bad_line}" in job.failure


def test_a_quantity_past_the_bound_in_a_csv_names_its_line(world):
    job = run(b"sku,location,quantity,note\nTEE-M,ST-A,99999999999,more\n", mode="delta")
    assert job.status == ImportStatus.FAILED
    assert (job.errors[0]["line"], job.errors[0]["code"], job.errors[0]["column"]) == (2, "out_of_range", "quantity")


def test_a_delta_import_that_would_overflow_a_stock_row_names_its_line(world, monkeypatch):
    monkeypatch.setattr("inventory.imports.staging.MAX_STOCK", 50)
    before = state()
    job = run(b"sku,location,quantity,note\nTEE-M,ST-A,41,big delivery\n", mode="delta")
    assert job.status == ImportStatus.FAILED
    assert (job.errors[0]["line"], job.errors[0]["code"]) == (2, "stock_out_of_range")
    assert state() == before


@pytest.mark.postgres
def test_a_job_whose_error_list_cannot_be_stored_is_still_marked_failed(world, monkeypatch):
    """PostgreSQL refuses NUL in JSON: the job still ends failed, with its reason."""
    monkeypatch.setattr("inventory.imports.services._Errors.sorted", lambda self: [{"value": "\x00"}])
    job = run(b"sku,location,quantity\nNOPE,ST-A,1\n")
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and job.finished_at is not None
    assert "could not be stored" in job.failure and job.errors == []


def test_any_failure_marks_the_job_failed_with_its_reason(world, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("inventory.imports.services.stage_validate", broken)
    job = run(b"sku,location,quantity\nTEE-M,ST-A,1\n")
    assert job.status == ImportStatus.FAILED and "disk on fire" in job.failure


def _running_job(*, silent_for: timedelta) -> ImportJob:
    job = stock_import_create(file=io.BytesIO(b"sku,location,quantity\nTEE-M,ST-A,1\n"), filename="s.csv", enqueue=False)
    then = timezone.now() - silent_for
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.VALIDATING, started_at=then, heartbeat_at=then,
                                              phase="reading the file")
    job.refresh_from_db()
    return job


def test_the_reaper_fails_jobs_whose_worker_died_and_leaves_live_ones(world, settings):
    settings.OMNI_IMPORT_STALE_SECONDS = 600
    dead = _running_job(silent_for=timedelta(minutes=11))
    alive = _running_job(silent_for=timedelta(minutes=1))
    assert stock_imports_reap() == 1
    dead.refresh_from_db(), alive.refresh_from_db()
    assert dead.status == ImportStatus.FAILED and "worker" in dead.failure and dead.finished_at
    assert alive.status == ImportStatus.VALIDATING
    assert stock_import_run(job_id=dead.pk).status == ImportStatus.FAILED  # a redelivered task leaves it alone


def test_cancel_works_in_every_phase(world, settings):
    settings.OMNI_IMPORT_STALE_SECONDS = 600
    queued = stock_import_create(file=io.BytesIO(b"sku,location,quantity\nTEE-M,ST-A,1\n"), filename="q.csv", enqueue=False)
    assert stock_import_cancel(job=queued).status == ImportStatus.CANCELLED

    orphan = _running_job(silent_for=timedelta(minutes=30))
    assert stock_import_cancel(job=orphan).status == ImportStatus.CANCELLED  # its worker is gone: at once

    running = _running_job(silent_for=timedelta(seconds=5))
    running = stock_import_cancel(job=running)
    assert running.status == ImportStatus.VALIDATING and running.cancel_requested  # stops at its next check
    ImportJob.objects.filter(pk=running.pk).update(status=ImportStatus.QUEUED)  # (as if its worker picks it up again)
    assert stock_import_run(job_id=running.pk).status == ImportStatus.CANCELLED
    assert state()[1] == [("TEE-M", "ST-A", 10)]


# --- times ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("since", ["0520-03-14T10:58:39.7-21:58", "2026-01-01T00:00:00+15:00", "0001-01-01T00:00:00+01:00"])
def test_a_ledger_filter_time_the_database_cannot_compare_is_a_400_naming_the_parameter(merch, world, since):
    """Found by the stateful schema fuzz: an offset past ±15:59 reached PostgreSQL and answered 500."""
    res = merch.get("/api/v1/stock-movements", {"since": since})
    assert res.status_code == 400, res.content
    assert res.json()["error"]["code"] == "invalid"
    assert "since" in res.json()["error"]["details"]


def test_a_ledger_filter_time_with_a_real_offset_still_filters(merch, world):
    assert len(merch.get("/api/v1/stock-movements", {"since": "2000-01-01T00:00:00+14:00"}).json()["results"]) == 1
    assert merch.get("/api/v1/stock-movements", {"until": "2000-01-01T00:00:00-12:00"}).json()["results"] == []
