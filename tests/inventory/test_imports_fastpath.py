"""The streaming stock import: every bad input is reported with line and column and changes
nothing; good files post count corrections / adjustments with the ledger and the outbox."""

from __future__ import annotations

import io

import pytest

from inventory import services
from inventory.imports.models import ImportJob, ImportStatus
from inventory.imports.services import stock_import_cancel, stock_import_create, stock_import_run
from inventory.models import CycleCount, Location, OutboxEvent, Reservation, StockLevel, StockMovement

from .factories import LocationFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def catalogue():
    skus = [ProductFactory(sku=s) for s in ("TEE-S", "TEE-M", "TEE-L")]
    locs = [LocationFactory(code=c) for c in ("ST-01", "DC-01")]
    services.stock_receive(product=skus[0], location=locs[0], quantity=10, source="wms")
    services.stock_receive(product=skus[1], location=locs[0], quantity=5, source="wms")
    return skus, locs


def state():
    """What a user could see change: every stock row, the ledger, the counts and the outbox."""
    return (
        list(StockLevel.objects.order_by("product__sku", "location__code").values_list(
            "product__sku", "location__code", "on_hand", "reserved")),
        list(StockMovement.objects.order_by("id").values_list("id", "quantity", "balance_after")),
        CycleCount.objects.count(),
        OutboxEvent.objects.count(),
    )


def run(content: bytes | str, *, mode: str = "snapshot", location: str = "", apply_valid: bool = False, note: str = "") -> ImportJob:
    data = content.encode() if isinstance(content, str) else content
    job = stock_import_create(file=io.BytesIO(data), filename="stock.csv", mode=mode, location_code=location,
                              apply_valid=apply_valid, note=note, enqueue=False)
    return stock_import_run(job_id=job.pk, chunk_rows=2)


def on_hand(sku: str, loc: str) -> int:
    return StockLevel.objects.get(product__sku=sku, location__code=loc).on_hand


def only_error(job: ImportJob) -> dict:
    assert job.error_count == 1, job.errors
    return job.errors[0]


def assert_rejected(job: ImportJob, before) -> None:
    assert job.status == ImportStatus.FAILED
    assert state() == before
    assert services.ledger_check() == []


# --- good files -------------------------------------------------------------------------------


def test_snapshot_posts_count_corrections_with_ledger_counts_and_one_outbox_event_per_sku(catalogue):
    outbox_before = OutboxEvent.objects.count()
    job = run("sku,location,quantity\nTEE-S,ST-01,7\nTEE-M,ST-01,5\nTEE-L,DC-01,4\nTEE-S,DC-01,2\n")
    assert job.status == ImportStatus.DONE, job.failure
    assert (job.rows_total, job.rows_applied, job.rows_unchanged, job.rows_skipped, job.movements_written) == (4, 3, 1, 0, 3)
    assert (on_hand("TEE-S", "ST-01"), on_hand("TEE-M", "ST-01"), on_hand("TEE-L", "DC-01"), on_hand("TEE-S", "DC-01")) == (7, 5, 4, 2)
    ledger = list(StockMovement.objects.filter(reference=f"import:{job.pk}").order_by("stock_level__product__sku", "stock_level__location__code")
                  .values_list("stock_level__product__sku", "stock_level__location__code", "reason", "quantity", "balance_after"))
    assert ledger == [("TEE-L", "DC-01", "count", 4, 4), ("TEE-S", "DC-01", "count", 2, 2), ("TEE-S", "ST-01", "count", -3, 7)]
    counts = sorted(CycleCount.objects.values_list("stock_level__product__sku", "stock_level__location__code", "counted", "variance"))
    assert counts == [("TEE-L", "DC-01", 4, 4), ("TEE-M", "ST-01", 5, 0), ("TEE-S", "DC-01", 2, 2), ("TEE-S", "ST-01", 7, -3)]
    new_events = list(OutboxEvent.objects.order_by("id")[outbox_before:].values_list("product__sku", "location__code", "reason"))
    assert sorted(new_events, key=str) == sorted([("TEE-L", "DC-01", "import"), ("TEE-S", None, "import")], key=str)
    assert job.outbox_events == 2
    assert services.ledger_check() == []


def test_delta_adds_and_removes_with_reason_as_adjustments(catalogue):
    job = run("sku;location;quantity;note\r\nTEE-S;ST-01;-4;shrink\r\n\"TEE-M\";\"ST-01\";+3;\r\n", mode="delta", note="weekly fix")
    assert job.status == ImportStatus.DONE, (job.failure, job.errors)
    assert (on_hand("TEE-S", "ST-01"), on_hand("TEE-M", "ST-01")) == (6, 8)
    rows = list(StockMovement.objects.filter(reference=f"import:{job.pk}").order_by("stock_level__product__sku")
                .values_list("reason", "quantity", "balance_after", "note"))
    assert rows == [("adjustment", 3, 8, "weekly fix"), ("adjustment", -4, 6, "shrink")]
    assert services.ledger_check() == []


def test_utf8_bom_crlf_quoted_fields_and_location_override(catalogue):
    content = "\ufeffsku,quantity\r\n\"TEE-S\",\"12\"\r\nTEE-L,3\r\n".encode()
    job = run(content, location="ST-01")
    assert job.status == ImportStatus.DONE, job.errors
    assert (on_hand("TEE-S", "ST-01"), on_hand("TEE-L", "ST-01")) == (12, 3)


def test_apply_valid_rows_applies_the_rest_and_reports_what_was_skipped(catalogue):
    job = run("sku,location,quantity\nTEE-S,ST-01,8\nNOPE,ST-01,1\nTEE-M,ST-01,x\n", apply_valid=True)
    assert job.status == ImportStatus.DONE
    assert (job.rows_applied, job.rows_skipped, job.error_count) == (1, 2, 2)
    assert [(e["line"], e["column"], e["code"]) for e in job.errors] == [(3, "sku", "unknown_sku"), (4, "quantity", "not_an_integer")]
    assert (on_hand("TEE-S", "ST-01"), on_hand("TEE-M", "ST-01")) == (8, 5)
    assert services.ledger_check() == []


# --- bad input: each names line and column, and changes nothing --------------------------------


@pytest.mark.parametrize(
    "content, line, column, column_number, code",
    [
        ("sku,location,quantity\nTEE-S,ST-01,3\nNOPE,ST-01,1\n", 3, "sku", 1, "unknown_sku"),
        ("sku,location,quantity\nTEE-S,ST-01,3\nTEE-M,XX-99,1\n", 3, "location", 2, "unknown_location"),
        ("sku,location,quantity\nTEE-S,ST-01,3\nTEE-M,ST-01\n", 3, "quantity", 3, "missing_columns"),
        ("sku,location,quantity\nTEE-S,ST-01,3,9\nTEE-M,ST-01,1\n", 2, "", 4, "extra_columns"),
        ("sku,location,quantity\nTEE-S,ST-01,3.5\n", 2, "quantity", 3, "not_an_integer"),
        ("sku,location,quantity\nTEE-S,ST-01,three\n", 2, "quantity", 3, "not_an_integer"),
        ("sku,location,quantity\nTEE-S,ST-01,-2\n", 2, "quantity", 3, "negative_quantity"),
        ("sku,location,quantity\nTEE-S,ST-01,\n", 2, "quantity", 3, "required"),
        ("sku,location,quantity\nTEE-S,ST-01,3\nTEE-M,ST-01,1\nTEE-L,ST-01,\"4\n", 4, "quantity", 3, "truncated_row"),
        ("sku,location,quantity\nTEE-S,ST-01,3\nTEE-M,ST-01,1\nTEE-L,ST-0", 4, "quantity", 3, "truncated_row"),
        ("sku,location,qty,colour\nTEE-S,ST-01,3,red\n", 1, "colour", 4, "unknown_column"),
        ("sku,quantity\nTEE-S,3\n", 1, "location", None, "missing_column"),
    ],
    ids=["unknown-sku", "unknown-location", "missing-column-in-row", "extra-column", "decimal", "word", "negative-snapshot",
         "empty-quantity", "unterminated-quote", "truncated-last-line", "unknown-header-column", "missing-header-column"],
)
def test_bad_row_is_reported_with_line_and_column_and_changes_nothing(catalogue, content, line, column, column_number, code):
    before = state()
    job = run(content)
    assert_rejected(job, before)
    error = only_error(job)
    assert (error["line"], error["column"], error["column_number"], error["code"]) == (line, column, column_number, code)
    assert str(line) in error["message"]


def test_same_sku_and_location_twice_reports_both_lines(catalogue):
    before = state()
    job = run("sku,location,quantity\nTEE-S,ST-01,3\nTEE-M,ST-01,1\nTEE-S,ST-01,4\n")
    assert_rejected(job, before)
    assert [(e["line"], e["column"], e["code"]) for e in job.errors] == [(2, "sku", "duplicate_row"), (4, "sku", "duplicate_row")]
    assert "first on line 2" in job.errors[1]["message"]


def test_empty_file_is_rejected(catalogue):
    before = state()
    job = run(b"")
    assert_rejected(job, before)
    assert (only_error(job)["line"], only_error(job)["column_number"], only_error(job)["code"]) == (1, 1, "empty_file")


def test_header_only_file_is_rejected(catalogue):
    before = state()
    job = run("sku,location,quantity\r\n")
    assert_rejected(job, before)
    assert (only_error(job)["line"], only_error(job)["code"]) == (2, "no_rows")


def test_binary_file_is_rejected(catalogue):
    before = state()
    job = run(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4)
    assert_rejected(job, before)
    error = only_error(job)
    assert (error["line"], error["column_number"], error["code"]) == (1, 1, "binary_file")


def test_non_utf8_file_is_rejected(catalogue):
    before = state()
    job = run("sku,location,quantity\nTEE-S,ST-01,3\nTÉE,ST-01,3\n".encode("latin-1"))
    assert_rejected(job, before)
    error = only_error(job)
    assert error["code"] == "not_utf8" and error["line"] == 3 and error["column_number"] == 1


def test_delta_that_would_go_below_zero_is_rejected(catalogue):
    before = state()
    job = run("sku,location,quantity,note\nTEE-M,ST-01,2,found\nTEE-S,ST-01,-11,lost\n", mode="delta")
    assert_rejected(job, before)
    error = only_error(job)
    assert (error["line"], error["column"], error["column_number"], error["code"]) == (3, "quantity", 3, "insufficient_stock")


def test_delta_without_reason_is_rejected(catalogue):
    before = state()
    job = run("sku,location,quantity\nTEE-M,ST-01,2\n", mode="delta")
    assert_rejected(job, before)
    assert (only_error(job)["line"], only_error(job)["column"], only_error(job)["code"]) == (2, "note", "reason_required")


def test_count_below_reserved_is_rejected(catalogue):
    skus, locs = catalogue
    services.reservation_create(product=skus[0], location=locs[0], quantity=6, reference="order-line:1")
    before = state()
    job = run("sku,location,quantity\nTEE-S,ST-01,5\n")
    assert_rejected(job, before)
    error = only_error(job)
    assert (error["line"], error["column"], error["code"]) == (2, "quantity", "count_below_reserved")
    assert "6 are reserved" in error["message"]


def test_inactive_location_is_rejected(catalogue):
    Location.objects.filter(code="DC-01").update(is_active=False)
    before = state()
    job = run("sku,location,quantity\nTEE-S,DC-01,5\n")
    assert_rejected(job, before)
    assert (only_error(job)["line"], only_error(job)["column"], only_error(job)["code"]) == (2, "location", "inactive_location")


def test_cancelled_job_changes_nothing(catalogue):
    before = state()
    job = stock_import_create(file=io.BytesIO(b"sku,location,quantity\nTEE-S,ST-01,1\n"), filename="s.csv", enqueue=False)
    job = stock_import_cancel(job=job)
    assert job.status == ImportStatus.CANCELLED
    job = stock_import_run(job_id=job.pk)
    assert job.status == ImportStatus.CANCELLED
    assert state() == before


def test_running_a_finished_job_again_changes_nothing(catalogue):
    job = run("sku,location,quantity\nTEE-S,ST-01,2\n")
    after = state()
    assert stock_import_run(job_id=job.pk).status == ImportStatus.DONE
    assert state() == after


# --- cancellation and failure mid-run leave stock exactly as before ----------------------------


def _job(content: str, **kwargs) -> ImportJob:
    return stock_import_create(file=io.BytesIO(content.encode()), filename="stock.csv", enqueue=False, **kwargs)


def test_cancel_while_reading_stops_the_job_and_changes_nothing(catalogue):
    rows = "".join(f"TEE-{'SML'[i % 3]},{'ST-01' if i < 3 else 'DC-01'},{i + 1}\n" for i in range(6))
    job = _job("sku,location,quantity\n" + rows)
    before = state()

    def cancel_after_first_chunk(j: ImportJob) -> None:
        if j.rows_done >= 2 and not j.is_finished:
            stock_import_cancel(job=j)

    job = stock_import_run(job_id=job.pk, chunk_rows=2, progress=cancel_after_first_chunk)
    assert job.status == ImportStatus.CANCELLED
    assert state() == before


def test_cancel_just_before_apply_changes_nothing(catalogue):
    job = _job("sku,location,quantity\nTEE-S,ST-01,1\n")
    before = state()

    def cancel_when_applying(j: ImportJob) -> None:
        if j.status == ImportStatus.APPLYING:
            stock_import_cancel(job=j)

    job = stock_import_run(job_id=job.pk, progress=cancel_when_applying)
    assert job.status == ImportStatus.CANCELLED
    assert state() == before


def test_stock_reserved_between_validation_and_apply_fails_the_job_and_changes_nothing(catalogue):
    skus, locs = catalogue
    job = _job("sku,location,quantity\nTEE-S,ST-01,3\nTEE-M,ST-01,9\n")

    def reserve_meanwhile(j: ImportJob) -> None:
        if j.status == ImportStatus.APPLYING and not Reservation.objects.exists():
            services.reservation_create(product=skus[0], location=locs[0], quantity=5, reference="order-line:7")

    job_before = state()
    job = stock_import_run(job_id=job.pk, progress=reserve_meanwhile)
    assert job.status == ImportStatus.FAILED
    assert "Stock changed" in job.failure
    assert [(e["line"], e["column"], e["code"]) for e in job.errors] == [(2, "quantity", "count_below_reserved")]
    levels, movements, counts, outbox = state()
    assert (levels, movements, counts) == (
        [(sku, loc, on_hand, 5 if (sku, loc) == ("TEE-S", "ST-01") else r) for sku, loc, on_hand, r in job_before[0]],
        job_before[1], job_before[2],
    )
    assert services.ledger_check() == []


def test_unexpected_error_during_apply_rolls_everything_back(catalogue, monkeypatch):
    import inventory.imports.apply as apply_module

    job = _job("sku,location,quantity\nTEE-S,ST-01,3\nTEE-L,DC-01,4\n")
    before = state()
    real_count = apply_module._count

    def broken_count(cur, sql):  # fails after stock rows and ledger rows were written in the transaction
        if "new_on_hand = old_on_hand" in sql:
            raise RuntimeError("disk full")
        return real_count(cur, sql)

    monkeypatch.setattr(apply_module, "_count", broken_count)
    job = stock_import_run(job_id=job.pk)
    assert job.status == ImportStatus.FAILED and "disk full" in job.failure
    assert state() == before


@pytest.mark.postgres
def test_postgres_copy_path_streams_a_larger_file_in_chunks_and_drops_staging(catalogue):
    from django.db import connection

    skus = [ProductFactory(sku=f"BULK-{i:04d}") for i in range(500)]
    locs = [LocationFactory(code=f"BULK-L{i}") for i in range(6)]
    lines = [f"{p.sku},{loc.code},{(i * 7 + j) % 13}" for i, p in enumerate(skus) for j, loc in enumerate(locs)]
    job = _job("sku,location,quantity\n" + "\n".join(lines) + "\n")
    job = stock_import_run(job_id=job.pk, chunk_rows=700)
    expected_changes = sum(1 for i in range(500) for j in range(6) if (i * 7 + j) % 13)
    assert (job.status, job.rows_total, job.rows_applied, job.movements_written) == ("done", 3000, expected_changes, expected_changes)
    assert job.outbox_events == len({i for i in range(500) for j in range(6) if (i * 7 + j) % 13})
    assert StockLevel.objects.get(product__sku="BULK-0003", location__code="BULK-L2").on_hand == (3 * 7 + 2) % 13
    assert services.ledger_check() == []
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM pg_class WHERE relname LIKE %s", [f"import_%_{job.pk}"])
        assert cur.fetchone()[0] == 0


def test_progress_is_visible_while_the_file_is_read(catalogue):
    from inventory.imports.selectors import import_job_progress

    rows = "".join(f"TEE-{'SML'[i % 3]},{'ST-01' if i < 3 else 'DC-01'},{i}\n" for i in range(6))
    job = _job("sku,location,quantity\n" + rows)
    seen = []

    def watch(j: ImportJob) -> None:
        fresh = ImportJob.objects.get(pk=j.pk)  # what another process (the admin page) reads
        body = import_job_progress(job=fresh)
        seen.append((body["status"], body["rows_done"], body["finished"]))

    stock_import_run(job_id=job.pk, chunk_rows=2, progress=watch)
    assert ("validating", 2, False) in seen and ("validating", 4, False) in seen
    assert seen[-1] == ("done", 6, True)


def test_import_task_is_routed_to_the_imports_queue():
    from omni.celery import app

    route = app.amqp.router.route({}, "inventory.tasks.import_stock_run")
    assert route["queue"].name == "imports"
