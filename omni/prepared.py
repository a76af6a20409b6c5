"""Named prepared statements on PostgreSQL: for the statements every API request runs.

Django binds parameters client-side, so PostgreSQL parses and plans each statement anew on every
call; for the small lookups that every request makes (the API token with its user, channel and
locations; the ATP context) planning costs more than running them, and the order path's inserts
spend a third of their server time parsing and planning. ``execute_prepared`` runs such a
statement as a named prepared statement of the current connection with a generic plan: parsed and
planned once per connection, then only executed. The statement text is its key (a hash of it names
it), so a changed text is simply another statement. On Omni's backend (``omni.db.postgresql``) the
``PREPARE`` travels in front of the first ``EXECUTE`` (no round trip of its own) and the session
plans generically from the start; on Django's own, ``SET plan_cache_mode`` and ``PREPARE`` are
sent first.

Prepared statements live in the database session and are not undone by a rollback: this assumes
direct connections, not a transaction-pooling proxy such as PgBouncer in transaction mode. At most
``MAX_STATEMENTS`` per connection; past that all are deallocated and prepared again as used.
Statements whose text varies with their input (an insert of n rows) ask for ``repeated_only``:
such a text is prepared only once this process has run it before, so one-off shapes never fill
the connection's statements.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from omni.db import PREPARED_ATTR, PREPARED_UNCERTAIN_ATTR, execute_deferred, prepared_names

MAX_STATEMENTS = 64
# statement text (with its name's prefix) → its name: no hash of a long insert per call
_NAMES: dict[tuple[str, str], str] = {}
# the names of ``repeated_only`` texts this process has run once, plainly
_SEEN: set[str] = set()
_MAX_REMEMBERED = 4096


def numbered(sql: str, first: int = 1) -> str:
    """``%s`` placeholders → ``$first``, ``$first+1`` …"""
    counter = iter(range(first, first + sql.count("%s") + 1))
    return re.sub(r"%s", lambda _: f"${next(counter)}", sql)


def _db(cursor: Any) -> Any:
    """The DatabaseWrapper of a Django cursor (no look-up through ``django.db.connection``'s proxy,
    a few microseconds a time), or the default connection's."""
    db = getattr(cursor, "db", None)
    return db if db is not None else connections[DEFAULT_DB_ALIAS]


def execute_prepared(cursor, sql: str, params: Sequence[Any], *, prefix: str = "omni_", body: str | None = None,
                     repeated_only: bool = False, deferred: bool = False) -> None:
    """Execute ``sql`` (``%s`` placeholders) with ``params`` as a named prepared statement of this
    connection. ``body``: the statement as prepared, ``$n`` placeholders (default: ``sql`` with its
    ``%s`` numbered in order). ``repeated_only``: the first time this process runs ``sql``, run it
    plainly. ``deferred``: a write whose result nobody reads, sent with the connection's next
    statement (``omni.db.execute_deferred``; its ``PREPARE`` with it). Elsewhere than on
    PostgreSQL, or without a live connection object, ``sql`` runs plainly."""
    db = _db(cursor)
    run = cursor.execute
    if deferred:
        run = getattr(db, "execute_deferred", None) or (lambda q, p: execute_deferred(q, p, using=db.alias))
    raw = db.connection
    if raw is None or db.vendor != "postgresql":
        run(sql, params)
        return
    # the common case first: prepared on this connection already, and nothing made that uncertain
    name = _NAMES.get((sql, prefix))
    if name is not None and name in getattr(raw, PREPARED_ATTR, ()) \
            and not getattr(raw, PREPARED_UNCERTAIN_ATTR, False):
        run(_execute_text(name, params), params)
        return
    if repeated_only:
        name = _name(sql, prefix)
        if name not in prepared_names(raw) and name not in _SEEN:
            if len(_SEEN) >= _MAX_REMEMBERED:
                _SEEN.clear()
            _SEEN.add(name)
            run(sql, params)
            return
    name = prepared_name(cursor, sql, prefix=prefix, body=body)
    run(_execute_text(name, params), params)


def _name(sql: str, prefix: str) -> str:
    name = _NAMES.get((sql, prefix))
    if name is None:
        if len(_NAMES) >= _MAX_REMEMBERED:
            _NAMES.clear()
        name = _NAMES[(sql, prefix)] = prefix + hashlib.sha1(sql.encode()).hexdigest()[:24]
    return name


def prepared_name(cursor, sql: str, *, prefix: str = "omni_", body: str | None = None) -> str:
    """The name of ``sql`` as a prepared statement of this PostgreSQL connection, prepared with the
    cursor's next statement if it is not yet (on Omni's backend; at once on Django's). The caller
    executes it next, possibly several times in one message."""
    return _prepared_name(_db(cursor), sql, prefix=prefix, body=body, cursor=cursor)


def _prepared_name(db: Any, sql: str, *, prefix: str, body: str | None, cursor: Any = None) -> str:
    """``prepared_name`` on ``db``; a cursor of its own only for what must be sent at once."""

    def run(statement: str) -> None:
        if cursor is not None:
            cursor.execute(statement)
            return
        with db.cursor() as own:
            own.execute(statement)

    raw = db.connection
    names = prepared_names(raw)
    if getattr(raw, PREPARED_UNCERTAIN_ATTR, False):
        # a message carrying a PREPARE failed: which of its statements exist is unknown
        run("DEALLOCATE ALL")
        names.clear()
        setattr(raw, PREPARED_UNCERTAIN_ATTR, False)
    name = _name(sql, prefix)
    if name not in names:
        if len(names) >= MAX_STATEMENTS:
            run("DEALLOCATE ALL")
            names.clear()
        # sent as it is (no parameters are bound into it): a literal "%" is no longer doubled
        text = f"PREPARE {name} AS {body if body is not None else numbered(sql)}".replace("%%", "%")
        prepare_pending = getattr(db, "prepare_pending", None)
        if prepare_pending is not None:
            # the session plans generically since it opened (omni.db.postgresql)
            prepare_pending(name, text)
        else:
            # Only these statements are prepared on a Django connection (it binds client-side), so the
            # session setting affects nothing else. (Inside a transaction that rolls back, the SET is undone
            # while the statement stays: then it is merely planned per call again.)
            run("SET plan_cache_mode = force_generic_plan")
            run(text)
            names.add(name)
    return name


# (name, number of parameters) → "EXECUTE name(%s, …)": one text object per statement, not one per call
_EXECUTES: dict[tuple[str, int], str] = {}


def _execute_text(name: str, params: Sequence[Any]) -> str:
    key = (name, len(params))
    text = _EXECUTES.get(key)
    if text is None:
        if len(_EXECUTES) >= _MAX_REMEMBERED:
            _EXECUTES.clear()
        text = _EXECUTES[key] = f"EXECUTE {name}({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}"
    return text


def read_ahead_prepared(sql: str, params: Sequence[Any], *, prefix: str = "omni_", body: str | None = None) -> None:
    """Send the read ``sql`` (as ``execute_prepared`` runs it) in front of the connection's next
    statement (``omni.db.postgresql``'s ``read_ahead``), for ``fetch_prepared`` to take its rows
    without a round trip of its own. Does nothing elsewhere."""
    db = connections[DEFAULT_DB_ALIAS]
    read_ahead = getattr(db, "read_ahead", None)
    if read_ahead is None or db.vendor != "postgresql":
        return
    db.ensure_connection()
    name = _prepared_name(db, sql, prefix=prefix, body=body)
    read_ahead(_execute_text(name, params), list(params))


def fetch_prepared(sql: str, params: Sequence[Any], *, prefix: str = "omni_", body: str | None = None) -> list[Any]:
    """Every row of ``sql`` run as ``execute_prepared`` runs it: the rows read ahead for it
    (``read_ahead_prepared``) when they came back with the statement before and nothing was sent
    since, else read now."""
    db = connections[DEFAULT_DB_ALIAS]
    take = getattr(db, "read_ahead_rows", None)
    raw = db.connection
    if take is not None and raw is not None:
        name = _name(sql, prefix)
        if name in prepared_names(raw):
            rows = take(_execute_text(name, params), list(params))
            if rows is not None:
                return rows
    with db.cursor() as cursor:
        execute_prepared(cursor, sql, params, prefix=prefix, body=body)
        return cursor.fetchall()
