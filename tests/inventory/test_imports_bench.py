"""``bench import`` runs end to end on a small file and reports what it measured (no timing asserted)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from inventory.models import StockLevel, StockMovement

pytestmark = pytest.mark.django_db


def test_bench_import_small_run_reports_rows_baseline_and_ledger(settings, tmp_path, capsys):
    settings.MEDIA_ROOT = tmp_path
    call_command("bench", "import", "--rows", "120", "--baseline-rows", "10", "--locations", "4", "--json")
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["rows"], result["baseline_rows"], result["ledger_ok"]) == (120, 10, True)
    assert set(result) >= {"seconds", "rows_per_s", "baseline_rows_per_s", "ratio", "peak_rss_mb"}
    assert StockMovement.objects.filter(reference__startswith="import:").count() == result["movements_written"] > 0
    assert StockLevel.objects.filter(product__sku__startswith="BENCH-").count() >= result["movements_written"]
