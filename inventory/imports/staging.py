"""The staging table of one import job: loaded in chunks, validated set-based.

PostgreSQL: ``COPY … FROM STDIN`` (psycopg 3) into a TEMP table (unlogged, private to the
session, dropped at the end). SQLite: batched ``INSERT``s into a TEMP table.

Tables per job ``n``: ``import_raw_n`` (line, sku, loc, qty, note) as read from the file, and
``import_stage_n`` with the SKU, location and stock row resolved by joins and the first error
code of each row (``err``), so that validation is a handful of statements, not a loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection

from omni.limits import MAX_STOCK

from .parsing import RowError, StagedRow


@dataclass(frozen=True)
class StageTables:
    raw: str
    stage: str

    @classmethod
    def for_job(cls, job_id: int) -> StageTables:
        return cls(raw=f"import_raw_{int(job_id)}", stage=f"import_stage_{int(job_id)}")


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def stage_create(*, tables: StageTables) -> None:
    stage_drop(tables=tables)
    with connection.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE {tables.raw} (line integer NOT NULL, sku text NOT NULL, loc text NOT NULL, qty bigint, note text)")


def stage_drop(*, tables: StageTables) -> None:
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {tables.stage}")
        cur.execute(f"DROP TABLE IF EXISTS {tables.raw}")


def stage_load(*, tables: StageTables, rows: Sequence[StagedRow]) -> None:
    """Append one chunk of parsed rows."""
    if not rows:
        return
    with connection.cursor() as cur:
        if is_postgres():
            with cur.copy(f"COPY {tables.raw} (line, sku, loc, qty, note) FROM STDIN") as copy:
                write = copy.write_row
                for row in rows:
                    write(row)
        else:
            cur.executemany(f"INSERT INTO {tables.raw} (line, sku, loc, qty, note) VALUES (%s, %s, %s, %s, %s)", rows)


# Error codes set in SQL, the column they concern, and how to word them.
_SQL_ERRORS = {
    "unknown_sku": "sku",
    "unknown_location": "location",
    "inactive_location": "location",
    "duplicate_row": "sku",
    "count_below_reserved": "quantity",
    "insufficient_stock": "quantity",
    "stock_reserved": "quantity",
    "stock_out_of_range": "quantity",
}


def _new_on_hand_sql(mode: str, before: str, qty: str) -> str:
    return qty if mode == "snapshot" else f"({before} + {qty})"


def _stock_error_case(mode: str, new: str, reserved: str) -> str:
    if mode == "snapshot":
        return f"CASE WHEN {new} < {reserved} THEN 'count_below_reserved' END"
    return (f"CASE WHEN {new} < 0 THEN 'insufficient_stock' WHEN {new} < {reserved} THEN 'stock_reserved' "
            f"WHEN {new} > {MAX_STOCK} THEN 'stock_out_of_range' END")


@dataclass(frozen=True)
class StageCheck:
    rows_refused: int  # rows that passed the row-level checks but fail here
    errors: int  # errors found here (rows refused here + further problems of rows refused earlier)


def stage_validate(*, tables: StageTables, mode: str) -> StageCheck:
    """Resolve SKUs, locations and stock rows by joins; flag unknown references, duplicate
    SKU × location rows (GROUP BY … HAVING) and stock rules. Rows already refused by the
    row-level checks (``qty IS NULL``, error ``invalid_row``) are only checked for references."""
    new = _new_on_hand_sql(mode, "COALESCE(sl.on_hand, 0)", "r.qty")
    stock_err = _stock_error_case(mode, new, "COALESCE(sl.reserved, 0)")
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {tables.stage}")
        cur.execute(
            f"""
            CREATE TEMP TABLE {tables.stage} AS
            SELECT r.line, r.sku, r.loc, r.qty, r.note,
                   p.id AS product_id, l.id AS location_id, sl.id AS level_id,
                   COALESCE(sl.on_hand, 0) AS old_on_hand, COALESCE(sl.reserved, 0) AS reserved,
                   {new} AS new_on_hand,
                   CASE WHEN p.id IS NULL THEN 'unknown_sku'
                        WHEN l.id IS NULL THEN 'unknown_location'
                        WHEN NOT l.is_active THEN 'inactive_location'
                        WHEN r.qty IS NULL THEN 'invalid_row'
                        ELSE {stock_err} END AS err,
                   CAST(NULL AS integer) AS err_ref, 0 AS created
            FROM {tables.raw} r
            LEFT JOIN inventory_product p ON p.sku = r.sku
            LEFT JOIN inventory_location l ON l.code = r.loc
            LEFT JOIN inventory_stocklevel sl ON sl.product_id = p.id AND sl.location_id = l.id
            """
        )
        # The same SKU × location twice: every occurrence is refused (which one is meant is unknown).
        cur.execute(
            f"""
            UPDATE {tables.stage} SET err = 'duplicate_row', err_ref = d.first_line
            FROM (SELECT sku, loc, MIN(line) AS first_line FROM {tables.raw} GROUP BY sku, loc HAVING COUNT(*) > 1) d
            WHERE {tables.stage}.sku = d.sku AND {tables.stage}.loc = d.loc
              AND ({tables.stage}.err IS NULL OR {tables.stage}.err NOT IN ('unknown_sku', 'unknown_location'))
            """
        )
        cur.execute(
            f"SELECT COUNT(CASE WHEN qty IS NOT NULL THEN 1 END), COUNT(*) FROM {tables.stage} "
            "WHERE err IS NOT NULL AND err <> 'invalid_row'"
        )
        refused, errors = cur.fetchone()
        return StageCheck(rows_refused=int(refused or 0), errors=int(errors or 0))


def stage_lock_and_refresh(*, tables: StageTables, mode: str) -> None:
    """PostgreSQL, inside the apply transaction: lock the known stock rows in primary-key order
    and, in the same pass, re-read those that changed since validation."""
    s = tables.stage
    new = _new_on_hand_sql(mode, "locked.on_hand", f"{s}.qty")
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH locked AS (
                SELECT sl.id, sl.on_hand, sl.reserved FROM inventory_stocklevel sl JOIN {s} ON sl.id = {s}.level_id
                WHERE {s}.err IS NULL ORDER BY sl.id FOR UPDATE OF sl
            )
            UPDATE {s} SET old_on_hand = locked.on_hand, reserved = locked.reserved, new_on_hand = {new}
            FROM locked
            WHERE {s}.level_id = locked.id AND (locked.on_hand <> {s}.old_on_hand OR locked.reserved <> {s}.reserved)
            """
        )


def stage_recheck_locked(*, tables: StageTables, mode: str, known_rows_fresh: bool = False) -> int:
    """Inside the apply transaction, with the stock rows locked: re-read any row that changed
    (or appeared) since validation and re-apply the stock rules. Returns the rows now refused.
    ``known_rows_fresh``: rows with a stock row were already re-read by ``stage_lock_and_refresh``."""
    s = tables.stage
    new = _new_on_hand_sql(mode, "sl.on_hand", f"{s}.qty")
    # (Rows without a stock row were not created by this import: no ``created = 0`` test for them,
    # which would only make the planner underestimate how many there are.)
    which = f"{s}.level_id IS NULL" if known_rows_fresh else (
        f"({s}.level_id IS NULL OR sl.on_hand <> {s}.old_on_hand OR sl.reserved <> {s}.reserved) AND {s}.created = 0"
    )
    with connection.cursor() as cur:
        cur.execute(
            f"""
            UPDATE {s} SET level_id = sl.id, old_on_hand = sl.on_hand, reserved = sl.reserved, new_on_hand = {new}
            FROM inventory_stocklevel sl
            WHERE sl.product_id = {s}.product_id AND sl.location_id = {s}.location_id AND {s}.err IS NULL AND {which}
            """
        )
        failing = "new_on_hand < reserved" if mode == "snapshot" else (
            f"(new_on_hand < 0 OR new_on_hand < reserved OR new_on_hand > {MAX_STOCK})")
        cur.execute(f"UPDATE {s} SET err = {_stock_error_case(mode, 'new_on_hand', 'reserved')} WHERE err IS NULL AND {failing}")
        cur.execute(f"SELECT COUNT(*) FROM {s} WHERE err IS NOT NULL")
        return int(cur.fetchone()[0])


def stage_errors(*, tables: StageTables, columns: dict[str, int], limit: int, mode: str) -> list[RowError]:
    """The first ``limit`` rows refused by the set-based checks, worded for people."""
    if limit <= 0:
        return []
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT line, sku, loc, qty, err, err_ref, old_on_hand, reserved, new_on_hand FROM {tables.stage} "
            "WHERE err IS NOT NULL AND err <> 'invalid_row' ORDER BY line LIMIT %s",
            [limit],
        )
        rows = cur.fetchall()
    out = []
    for line, sku, loc, qty, err, err_ref, before, reserved, new in rows:
        column = _SQL_ERRORS.get(err, "")
        value = {"sku": sku, "location": loc, "quantity": str(qty)}.get(column, "")
        if err == "unknown_sku":
            msg = f"Line {line}: unknown SKU {sku!r}."
        elif err == "unknown_location":
            msg = f"Line {line}: unknown location {loc!r}."
        elif err == "inactive_location":
            msg = f"Line {line}: location {loc!r} is inactive."
        elif err == "duplicate_row":
            msg = f"Line {line}: {sku} at {loc} appears more than once (first on line {err_ref}); each SKU × location may appear once."
        elif err == "count_below_reserved":
            msg = f"Line {line}: counted {qty} of {sku} at {loc}, but {reserved} are reserved for orders."
        elif err == "insufficient_stock":
            msg = f"Line {line}: removing {-qty} of {sku} at {loc} would leave {new} on hand ({before} on hand now)."
        elif err == "stock_out_of_range":
            msg = f"Line {line}: {sku} at {loc} would have {new} on hand, above the limit of {MAX_STOCK:,}."
        elif err == "stock_reserved":
            msg = f"Line {line}: {sku} at {loc} would have {new} on hand, below the {reserved} reserved for orders."
        else:
            msg = f"Line {line}: {err}."
        out.append(RowError(line, column, columns.get(column), value, err, msg))
    return out
