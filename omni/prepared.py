"""Named prepared statements on PostgreSQL: for the few statements every API request runs.

Django binds parameters client-side, so PostgreSQL plans each statement anew on every call; for the
small lookups that every request makes (the API token with its user, channel and locations; the
ATP context) planning costs more than running them. ``execute_prepared`` runs such a statement as a
named prepared statement of the current connection with a generic plan: planned once per
connection, then only executed. The statement text is its key (a hash of it names it), so a changed
text is simply another statement.

Prepared statements live in the database session and are not undone by a rollback: this assumes
direct connections, not a transaction-pooling proxy such as PgBouncer in transaction mode. At most
``MAX_STATEMENTS`` per connection; past that all are deallocated and prepared again as used.
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections.abc import Sequence
from typing import Any

from django.db import connection

MAX_STATEMENTS = 64
# The statements prepared on each live psycopg connection (shared by every caller, so that one
# caller's DEALLOCATE ALL is seen by all).
_PREPARED: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def numbered(sql: str, first: int = 1) -> str:
    """``%s`` placeholders → ``$first``, ``$first+1`` …"""
    counter = iter(range(first, first + sql.count("%s") + 1))
    return re.sub(r"%s", lambda _: f"${next(counter)}", sql)


def execute_prepared(cursor, sql: str, params: Sequence[Any], *, prefix: str = "omni_", body: str | None = None) -> None:
    """Execute ``sql`` (``%s`` placeholders) with ``params`` as a named prepared statement of this
    connection. ``body``: the statement as prepared, ``$n`` placeholders (default: ``sql`` with its
    ``%s`` numbered in order). Elsewhere than on PostgreSQL, or without a live connection object,
    ``sql`` runs plainly."""
    raw = getattr(connection, "connection", None)
    if connection.vendor != "postgresql" or raw is None:
        cursor.execute(sql, params)
        return
    name = prepared_name(cursor, sql, prefix=prefix, body=body)
    cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}", params)


def prepared_name(cursor, sql: str, *, prefix: str = "omni_", body: str | None = None) -> str:
    """The name of ``sql`` as a prepared statement of this PostgreSQL connection, prepared now if
    it is not yet (for a caller that sends several ``EXECUTE``s of it in one message)."""
    raw = connection.connection
    names = _PREPARED.setdefault(raw, set())
    name = prefix + hashlib.sha1(sql.encode()).hexdigest()[:24]
    if name not in names:
        if len(names) >= MAX_STATEMENTS:
            cursor.execute("DEALLOCATE ALL")
            names.clear()
        # Only these statements are prepared on a Django connection (it binds client-side), so the
        # session setting affects nothing else. (Inside a transaction that rolls back, the SET is undone
        # while the statement stays: then it is merely planned per call again.)
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE {name} AS {body if body is not None else numbered(sql)}")
        names.add(name)
    return name
