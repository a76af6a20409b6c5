"""`make run`'s path on the embedded default: migrate and seed the demo on a fresh SQLite file, in
a process of its own (the suite itself runs on PostgreSQL, so code that only PostgreSQL accepts —
raw SQL, say — would otherwise pass every test and break `make run`). The demo's live part places
orders, picks, ships and hands over through the real services, so the order path runs too."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _manage(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_ENV")}
    env.update(SQLITE_PATH=str(db), CELERY_TASK_ALWAYS_EAGER="1", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                          timeout=600)


def test_the_demo_seeds_and_its_ledger_reconciles_on_sqlite(tmp_path):
    db = tmp_path / "demo.sqlite3"
    migrate = _manage("migrate", "--noinput", db=db)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    seeded = _manage("seed_demo", "--seed", "42", "--skus", "400", "--days", "5", db=db)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    assert "Seeded (seed 42)" in seeded.stdout
    orders_today = re.search(r"(\d+) orders open or handled today", seeded.stdout)
    assert orders_today and int(orders_today.group(1)) > 0, seeded.stdout  # the live demo did run intake
    ledger = _manage("check_ledger", db=db)
    assert ledger.returncode == 0, ledger.stdout[-2000:] + ledger.stderr[-2000:]
    # every stock row names its shelf, the rows today's live orders, returns and counts touch too:
    # the store's pick list walks by it and shows none for a row without
    blank = _manage("shell", "-c", "from inventory.models import StockLevel; "
                    "print('blank shelves:', StockLevel.objects.filter(shelf='').count())", db=db)
    assert "blank shelves: 0" in blank.stdout, blank.stdout[-2000:] + blank.stderr[-2000:]
