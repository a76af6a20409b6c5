"""Apply a validated staging table to stock in ONE transaction, set-based.

Statements (PostgreSQL and SQLite alike): lock the touched stock rows in primary-key order
(PostgreSQL; SQLite holds the database write lock); insert the missing stock rows with their
final figure; re-check the stock rules under the lock; update the stock
rows from staging; write one ledger movement per changed row with its balance after; for
snapshots, one cycle count per counted row; one outbox event per touched SKU. Any error rolls
the whole transaction back: nothing is half-applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from inventory.services import IMPORT_MODE_OPERATION, STOCK_OPERATIONS

from .staging import StageTables, is_postgres, stage_lock_and_refresh, stage_recheck_locked

OUTBOX_REASON = "import"


class StockChangedMeanwhile(Exception):
    def __init__(self, rows: int):
        super().__init__(f"{rows} row(s) no longer fit the stock after it changed during the import.")
        self.rows = rows


@dataclass(frozen=True)
class ApplySummary:
    rows_applied: int
    rows_unchanged: int
    movements_written: int
    cycle_counts: int
    outbox_events: int
    new_errors: int


def stage_apply(
    *, tables: StageTables, mode: str, now: datetime, source: str, actor_id: int | None, reference: str,
    note: str, allow_partial: bool, record_counts: bool = True,
) -> ApplySummary:
    """Must run inside ``transaction.atomic()``. Raises ``StockChangedMeanwhile`` when, under the
    lock, rows that validated earlier now break a stock rule and ``allow_partial`` is off."""
    s = tables.stage
    reason = STOCK_OPERATIONS[IMPORT_MODE_OPERATION[mode]].reason  # snapshot: count corrections; delta: adjustments
    changed = f"{s}.err IS NULL AND {s}.new_on_hand <> {s}.old_on_hand"
    with connection.cursor() as cur:
        # 1. Lock the existing stock rows, in primary-key order (no deadlock with other writers).
        #    In the same pass, re-read the rows that changed since validation.
        if is_postgres():
            cur.execute("SET LOCAL work_mem = '128MB'")
            stage_lock_and_refresh(tables=tables, mode=mode)
        # 2. Stock rows that do not exist yet are inserted with their final on-hand (one write,
        #    not insert-then-update); staging learns their ids and that they are new.
        insert = f"""
            INSERT INTO inventory_stocklevel (product_id, location_id, on_hand, reserved, damaged, quarantine, updated_at)
            SELECT product_id, location_id, new_on_hand, 0, 0, 0, %s FROM {s}
            WHERE {s}.level_id IS NULL AND {changed}
            ON CONFLICT (product_id, location_id) DO NOTHING
        """
        if is_postgres():
            created = f"{s}_new"
            cur.execute(f"CREATE TEMP TABLE {created} (id bigint, product_id bigint, location_id bigint) ON COMMIT DROP")
            cur.execute(
                f"WITH ins AS ({insert} RETURNING id, product_id, location_id) INSERT INTO {created} SELECT * FROM ins", [now]
            )
            cur.execute(f"ANALYZE {created}")
            cur.execute(
                f"""
                UPDATE {s} SET level_id = n.id, created = 1 FROM {created} n
                WHERE {s}.product_id = n.product_id AND {s}.location_id = n.location_id AND {s}.err IS NULL
                """
            )
            # Few rows are left without a stock row now; the planner must know it (a temp table is never
            # analyzed on its own), or the two joins below loop over the stock table once per such row.
            cur.execute(f"ANALYZE {s} (level_id, err, created)")
            # Rows someone else created meanwhile (the insert skipped them): lock them too.
            cur.execute(
                f"""
                SELECT sl.id FROM inventory_stocklevel sl JOIN {s} ON sl.product_id = {s}.product_id
                    AND sl.location_id = {s}.location_id
                WHERE {s}.level_id IS NULL AND {s}.err IS NULL ORDER BY sl.id FOR UPDATE OF sl
                """
            )
        else:  # SQLite: the transaction holds the database's write lock, nobody else inserts meanwhile
            cur.execute(insert, [now])
            cur.execute(
                f"""
                UPDATE {s} SET level_id = sl.id, created = 1 FROM inventory_stocklevel sl
                WHERE sl.product_id = {s}.product_id AND sl.location_id = {s}.location_id
                  AND {s}.level_id IS NULL AND {changed}
                """
            )
        # 3. Re-read rows that appeared (or, on SQLite, changed) since validation; re-check the
        #    stock rules under the lock.
        bad_before = _count(cur, f"SELECT COUNT(*) FROM {s} WHERE err IS NOT NULL")
        bad_after = stage_recheck_locked(tables=tables, mode=mode, known_rows_fresh=is_postgres())
        if bad_after > bad_before and not allow_partial:
            raise StockChangedMeanwhile(bad_after - bad_before)
        # 4. Stock rows.
        cur.execute(
            f"""
            UPDATE inventory_stocklevel SET on_hand = {s}.new_on_hand, updated_at = %s
            FROM {s} WHERE inventory_stocklevel.id = {s}.level_id AND {changed} AND {s}.created = 0
            """,
            [now],
        )
        rows_applied = cur.rowcount + _count(cur, f"SELECT COUNT(*) FROM {s} WHERE created = 1")
        # 5. The ledger: one movement per changed row; balance_after is the new on-hand.
        cur.execute(
            f"""
            INSERT INTO inventory_stockmovement
                (stock_level_id, bucket, reason, quantity, balance_after, source, actor_id, external_id, line,
                 fingerprint, reference, note, created_at)
            SELECT level_id, 'on_hand', %s, new_on_hand - old_on_hand, new_on_hand, %s, %s, '', 0, '', %s,
                   COALESCE(note, %s), %s
            FROM {s} WHERE {changed}
            """,
            [reason, source, actor_id, reference, note, now],
        )
        movements = cur.rowcount
        # 6. Cycle counts (snapshot): every counted row, changed or not, feeds stock accuracy.
        counts = 0
        if mode == "snapshot" and record_counts:
            cur.execute(
                f"""
                INSERT INTO inventory_cyclecount
                    (stock_level_id, counted, system_quantity, variance, counted_at, actor_id, source, external_id)
                SELECT level_id, qty, old_on_hand, qty - old_on_hand, %s, %s, %s, ''
                FROM {s} WHERE err IS NULL AND level_id IS NOT NULL
                """,
                [now, actor_id, source],
            )
            counts = cur.rowcount
        # 7. One outbox event per touched SKU (with the location when the SKU changed at one location only).
        cur.execute(
            f"""
            INSERT INTO inventory_outboxevent (product_id, location_id, reason, created_at, processed_at)
            SELECT product_id, CASE WHEN MIN(location_id) = MAX(location_id) THEN MIN(location_id) END, %s, %s, NULL
            FROM {s} WHERE {changed}
            GROUP BY product_id
            ORDER BY product_id
            """,
            [OUTBOX_REASON, now],
        )
        outbox = cur.rowcount
        unchanged = _count(cur, f"SELECT COUNT(*) FROM {s} WHERE err IS NULL AND new_on_hand = old_on_hand")
    return ApplySummary(
        rows_applied=rows_applied, rows_unchanged=unchanged, movements_written=movements, cycle_counts=counts,
        outbox_events=outbox, new_errors=bad_after - bad_before,
    )


def _count(cur, sql: str) -> int:
    cur.execute(sql)
    return int(cur.fetchone()[0])
