"""The ATP statement: SQL text built from the channels' context, and how it is executed.

One statement answers every (channel, SKU) pair asked for; see ``allocation/availability/atp.py``
for the formulas and the public selectors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import connection

from allocation.safety_stock.models import SafetyStockPolicy, SafetyStockScope
from inventory.models import MovementReason, StockLevel
from omni.prepared import execute_prepared, numbered

if TYPE_CHECKING:
    from .context import ChannelContext

VELOCITY_DAYS = 28


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _ints(ids: Iterable[int]) -> str:
    return ", ".join(str(int(i)) for i in ids) or "NULL"


def _values(name: str, columns: Sequence[str], rows: Sequence[Sequence[int]], params: list | None = None) -> str:
    """A CTE of integer rows. On PostgreSQL (with ``params``) one ``unnest`` of arrays, which the
    planner handles in constant time however many rows; elsewhere a VALUES list."""
    if not rows:
        nulls = ", ".join(f"CAST(NULL AS BIGINT) AS {c}" for c in columns)
        return f"{name} AS (SELECT {nulls} WHERE 1 = 0)"
    if params is not None and _pg():
        arrays = ", ".join(
            _pg_array((row[i] for row in rows), "bigint" if col.endswith("_id") else "int") for i, col in enumerate(columns)
        )
        return f"{name} AS (SELECT * FROM unnest({arrays}) AS t({', '.join(columns)}))"
    body = ", ".join("(" + ", ".join(str(int(v)) for v in row) + ")" for row in rows)
    return f"{name}({', '.join(columns)}) AS (VALUES {body})"


def _pg_array(ids: Iterable[int], kind: str = "bigint") -> str:
    """An integer array as one SQL constant (ints only, so nothing to escape); cheaper to send and
    to plan than a bound list."""
    return "'{" + ",".join(str(int(i)) for i in ids) + "}'::" + kind + "[]"


_PIDS = "__OMNI_PRODUCT_IDS__"


def _product_filter(column: str, product_ids: list[int] | None, params: list) -> str:
    if product_ids is None:
        return "1 = 1"
    if _pg():
        return f"{column} = ANY({_PIDS})"  # filled in by _execute: a literal array, or $1 of a prepared statement
    return f"{column} IN ({_ints(product_ids)})"


# --------------------------------------------------------------------------------------------
# The availability rule, written once
# --------------------------------------------------------------------------------------------
#
# available(location) = max(on_hand − reserved − location safety stock, 0) for one stock row. ATP,
# the pool, the per-location figures (explorer, pickup, the API's breakdown) and routing's
# candidates (orders) all compute it with these fragments; the Python side only reads the result.

STOCK_TABLE = StockLevel._meta.db_table


def location_policy_join(*, stock: str = "sl", policy: str = "ss") -> str:
    """``LEFT JOIN`` of the stock row aliased ``stock`` to its SKU × location safety-stock policy,
    aliased ``policy``."""
    return (
        f"LEFT JOIN {SafetyStockPolicy._meta.db_table} {policy} ON {policy}.scope = '{SafetyStockScope.LOCATION.value}' "
        f"AND {policy}.product_id = {stock}.product_id AND {policy}.location_id = {stock}.location_id"
    )


def available_sql(*, stock: str = "sl", policy: str = "ss") -> str:
    """Units available at the location of one stock row: ``max(on_hand − reserved − safety stock, 0)``
    (the row joined to its policy by ``location_policy_join``)."""
    great = "GREATEST" if _pg() else "MAX"
    return f"{great}({stock}.on_hand - {stock}.reserved - COALESCE({policy}.effective_quantity, 0), 0)"


def safety_stock_deducted_sql(*, stock: str = "sl", policy: str = "ss") -> str:
    """The location safety stock that row really keeps back: ``min(safety stock, max(on_hand − reserved, 0))``."""
    great, least = ("GREATEST", "LEAST") if _pg() else ("MAX", "MIN")
    return f"{least}(COALESCE({policy}.effective_quantity, 0), {great}({stock}.on_hand - {stock}.reserved, 0))"


# --------------------------------------------------------------------------------------------
# The ATP query
# --------------------------------------------------------------------------------------------


# An API-sized statement's text and parameters depend only on the channels' context (the SKUs are
# its one array parameter, ``_PIDS``), except the lag buffer's window start: building the text took
# 60 µs of CPU on every order and availability read (21 locations), a look-up in this about 6. Kept per
# process, keyed by everything the text is built from; ``_SINCE`` stands for the window's start.
_ATP_TEXTS: dict[tuple, tuple[str, list]] = {}
_ATP_TEXTS_MAX = 256
_SINCE = object()


def _context_key(c: ChannelContext) -> tuple:
    ch = c.channel
    return (ch.pk, ch.code, ch.lag_buffer_enabled, c.sync_seconds > 0, tuple(c.visible_pct.items()),
            tuple(c.supplier_pct.items()), tuple(c.quota_others.items()), c.own_location_ids)


def _atp_query(contexts: Sequence[ChannelContext], product_ids: list[int] | None, now: datetime) -> tuple[str, list]:
    """``_atp_query_text`` (see there), kept per process for the prepared statement's shape (on
    PostgreSQL, ≤ ``PREPARE_MAX_SKUS`` SKUs): the same text and parameters."""
    if product_ids is None or len(product_ids) > PREPARE_MAX_SKUS or not _pg():
        return _atp_query_text(contexts, product_ids, now)
    key = tuple(_context_key(c) for c in contexts)
    kept = _ATP_TEXTS.get(key)
    if kept is None:
        sql, params = _atp_query_text(contexts, product_ids, None)
        if len(_ATP_TEXTS) >= _ATP_TEXTS_MAX:
            _ATP_TEXTS.clear()
        kept = _ATP_TEXTS[key] = (sql, params)
    sql, params = kept
    if any(p is _SINCE for p in params):
        since = connection.ops.adapt_datetimefield_value(now - timedelta(days=VELOCITY_DAYS))
        params = [since if p is _SINCE else p for p in params]
    return sql, list(params)


def _atp_query_text(contexts: Sequence[ChannelContext], product_ids: list[int] | None, now: datetime | None) -> tuple[str, list]:
    """One statement for every (channel, SKU) pair. ``now`` None: the lag window's start is the
    marker ``_SINCE`` in the parameters (``_atp_query`` fills it in).

    The stock rows are read ONCE: each is joined to a small per-location table (``locs``: for every
    channel i whether it sees the location and the percent that counts there, for every quota channel
    j whether j sees it) and aggregated per SKU with conditional sums. Buffers, virtual stock and the
    lag buffer come from their own small aggregates; everything is added up in one GROUP BY."""
    great, least = ("GREATEST", "LEAST") if _pg() else ("MAX", "MIN")
    params: list = []
    ctes: list[str] = []
    parts: list[str] = []
    channel_ids = [c.channel.pk for c in contexts]
    quota_locs: dict[int, frozenset[int]] = {}
    for c in contexts:
        quota_locs.update(c.quota_others)
    quotas = sorted(quota_locs)
    locations: set[int] = set()
    for c in contexts:
        locations |= set(c.own_location_ids if quotas else c.visible_pct)
    loc_ids = sorted(locations)
    policy_join = location_policy_join()
    ctes.append(_values("chans", ["channel_id"], [(i,) for i in channel_ids]))
    columns = ["location_id"] + [f"{k}{i}" for i in range(len(contexts)) for k in ("v", "p")] + [f"q{j}" for j in range(len(quotas))]
    rows = [
        [loc]
        + [x for c in contexts for x in ((1, c.visible_pct[loc]) if loc in c.visible_pct else (0, 100))]
        + [1 if loc in quota_locs[q] else 0 for q in quotas]
        for loc in loc_ids
    ]
    ctes.append(_values("locs", columns, rows, params))
    sums = ["SUM(x.avail) AS pool"]
    for i in range(len(contexts)):
        sums += [f"SUM(x.avail * l.v{i}) AS a{i}", f"SUM((x.avail - x.avail * l.p{i} / 100) * l.v{i}) AS h{i}",
                 f"SUM(x.ss_used * l.v{i}) AS s{i}"]
    for j, q in enumerate(quotas):
        sums.append(f"SUM(x.avail * l.q{j}) AS qa{j}")
        sums += [f"SUM(x.avail * l.q{j} * (1 - l.v{i})) AS qo{i}_{j}" for i, c in enumerate(contexts) if c.channel.pk != q]
    ctes.append(
        f"""agg AS (
        SELECT x.product_id, {", ".join(sums)}
        FROM (SELECT sl.product_id, sl.location_id,
                     {available_sql()} AS avail, {safety_stock_deducted_sql()} AS ss_used
              FROM {STOCK_TABLE} sl {policy_join}
              WHERE sl.location_id IN ({_ints(loc_ids)}) AND {_product_filter("sl.product_id", product_ids, params)}) x
        JOIN locs l ON l.location_id = x.location_id
        GROUP BY x.product_id)"""
    )
    if quotas:
        params.append(True)
        ctes.append(
            f"""qbp AS (
            SELECT channel_id, product_id, CAST(ROUND(min_share_percent * 100) AS INTEGER) AS bp
            FROM allocation_channelquota WHERE is_active = %s AND channel_id IN ({_ints(quotas)}))"""
        )
        joins = " ".join(
            f"LEFT JOIN qbp ps{j} ON ps{j}.channel_id = {int(q)} AND ps{j}.product_id = agg.product_id "
            f"LEFT JOIN qbp ds{j} ON ds{j}.channel_id = {int(q)} AND ds{j}.product_id IS NULL"
            for j, q in enumerate(quotas)
        )
        bps = ", ".join(f"COALESCE(ps{j}.bp, ds{j}.bp, 0) AS bp{j}" for j in range(len(quotas)))
        ctes.append(f"aggq AS (SELECT agg.*, {bps} FROM agg {joins})")
        source = "aggq"
    else:
        source = "agg"
    for i, c in enumerate(contexts):
        quota = " + ".join(
            f"{great}({least}((pool * bp{j} + 9999) / 10000, qa{j}) - qo{i}_{j}, 0)"
            for j, q in enumerate(quotas) if q != c.channel.pk
        ) or "0"
        parts.append(
            f"SELECT {int(c.channel.pk)} AS channel_id, product_id, a{i} AS avail, h{i} AS haircut, s{i} AS ss_used, "
            f"CAST(NULL AS BIGINT) AS ch_buf, CAST(NULL AS BIGINT) AS pool_buf, {quota} AS quota, 0 AS virtual, 0 AS sold "
            f"FROM {source}"
        )
    ctes.append(
        f"""buf AS (
        SELECT product_id, channel_id, effective_quantity
        FROM allocation_safetystockpolicy
        WHERE (scope = 'pool' OR (scope = 'channel' AND channel_id IN ({_ints(channel_ids)})))
          AND {_product_filter("product_id", product_ids, params)})"""
    )
    parts += [
        "SELECT channel_id, product_id, 0, 0, 0, effective_quantity, NULL, 0, 0, 0 FROM buf WHERE channel_id IS NOT NULL",
        "SELECT chans.channel_id, buf.product_id, 0, 0, 0, NULL, buf.effective_quantity, 0, 0, 0 FROM buf CROSS JOIN chans "
        "WHERE buf.channel_id IS NULL",
    ]
    sup = [(c.channel.pk, loc, pct) for c in contexts for loc, pct in sorted(c.supplier_pct.items())]
    if sup:
        ctes.append(_values("sup", ["channel_id", "location_id", "pct"], sup, params))
        ctes.append(
            f"""virt AS (
            SELECT sup.channel_id, sl.product_id,
                   SUM({available_sql()} * sup.pct / 100) AS virtual
            FROM {STOCK_TABLE} sl JOIN sup ON sup.location_id = sl.location_id {policy_join}
            WHERE {_product_filter("sl.product_id", product_ids, params)}
            GROUP BY sup.channel_id, sl.product_id)"""
        )
        parts.append("SELECT channel_id, product_id, 0, 0, 0, NULL, NULL, 0, virtual, 0 FROM virt")
    lagging = [c for c in contexts if c.channel.lag_buffer_enabled and c.sync_seconds > 0]
    if lagging:
        since = _SINCE if now is None else connection.ops.adapt_datetimefield_value(now - timedelta(days=VELOCITY_DAYS))
        codes = [c.channel.code for c in lagging]
        ctes.append(f"lagch(channel_id, code) AS (VALUES {', '.join('(' + str(int(c.channel.pk)) + ', %s)' for c in lagging)})")
        params.extend(codes)
        demand = (
            f"m.bucket = 'on_hand' AND m.reason IN ('{MovementReason.SALE.value}', '{MovementReason.FULFILMENT.value}') "
            "AND m.created_at >= %s"
        )
        if product_ids is None or len(product_ids) > PREPARE_MAX_SKUS:
            # many SKUs: one pass over the window's movements
            params.extend(codes)
            params.append(since)
            ctes.append(
                f"""lag AS (
                SELECT lagch.channel_id, sl.product_id, SUM(-m.quantity) AS sold
                FROM inventory_stockmovement m JOIN inventory_stocklevel sl ON sl.id = m.stock_level_id
                JOIN lagch ON lagch.code = m.source
                WHERE m.source IN ({", ".join("%s" for _ in codes)}) AND {demand}
                  AND {_product_filter("sl.product_id", product_ids, params)}
                GROUP BY lagch.channel_id, sl.product_id)"""
            )
        else:
            # a few SKUs: per stock row, its movements through the (stock_level) index, whatever the plan
            params.append(since)
            ctes.append(
                f"""lag AS (
                SELECT lagch.channel_id, sl.product_id,
                       (SELECT COALESCE(SUM(-m.quantity), 0) FROM inventory_stockmovement m
                        WHERE m.stock_level_id = sl.id AND m.source = lagch.code AND {demand}) AS sold
                FROM inventory_stocklevel sl CROSS JOIN lagch
                WHERE {_product_filter("sl.product_id", product_ids, params)})"""
            )
        parts.append("SELECT channel_id, product_id, 0, 0, 0, NULL, NULL, 0, 0, sold FROM lag")
    sql = (
        "WITH " + ",\n".join(ctes) + """
        SELECT u.channel_id, u.product_id, CAST(SUM(u.avail) AS BIGINT), CAST(SUM(u.haircut) AS BIGINT),
               CAST(SUM(u.ss_used) AS BIGINT), MAX(u.ch_buf), MAX(u.pool_buf), CAST(SUM(u.quota) AS BIGINT),
               CAST(SUM(u.virtual) AS BIGINT), CAST(SUM(u.sold) AS BIGINT)
        FROM (""" + "\n UNION ALL ".join(parts) + """) u
        GROUP BY u.channel_id, u.product_id"""
    )
    return sql, params


PREPARE_MAX_SKUS = 200


def _execute(cursor, sql: str, params: list, product_ids: list[int] | None) -> None:
    """Run an ATP statement. On PostgreSQL an API-sized request (≤ PREPARE_MAX_SKUS SKUs) runs as a
    named prepared statement of this connection with a generic plan, the SKU array being its only
    varying input: the statement text depends only on the channels' context, so planning (most of a
    one-SKU request's cost, since Django binds parameters client-side) is done once per connection
    and context, not per call. Bigger requests (the snapshot) are planned for their actual input.
    (Prepared statements live in the database session: this assumes direct connections, not a
    transaction-pooling proxy such as PgBouncer in transaction mode.)"""
    if not _pg() or product_ids is None:
        cursor.execute(sql.replace(_PIDS, _pg_array(product_ids or [])), params)
        return
    if len(product_ids) > PREPARE_MAX_SKUS:
        cursor.execute(sql.replace(_PIDS, _pg_array(product_ids)), params)
        return
    _execute_prepared(cursor, sql, params, product_ids=product_ids)


def _execute_prepared(cursor, sql: str, params: list, product_ids: list[int] | None = None) -> None:
    """Execute ``sql`` (``%s`` placeholders; with ``product_ids``, every _PIDS marker is the one array
    parameter $1) as a named prepared statement of this connection (``omni.prepared``)."""
    if getattr(connection, "connection", None) is None:  # no live connection object to remember statements on
        text = sql if product_ids is None else sql.replace(_PIDS, _pg_array(product_ids))
        cursor.execute(text, params)
        return
    if product_ids is None:
        execute_prepared(cursor, sql, params, prefix="omni_atp_")
        return
    body = _BODIES.get(sql)
    if body is None:  # (numbering a 2 KB text took 6 µs of every call: kept with the text)
        if len(_BODIES) >= _ATP_TEXTS_MAX:
            _BODIES.clear()
        body = _BODIES[sql] = numbered(sql, first=2).replace(_PIDS, "$1::bigint[]")
    execute_prepared(cursor, sql, [product_ids, *params], prefix="omni_atp_", body=body)


# statement text → its body as prepared ($1 the SKUs' array)
_BODIES: dict[str, str] = {}
