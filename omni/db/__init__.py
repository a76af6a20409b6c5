"""Omni's database backends: ``omni.db.postgresql`` is Django's PostgreSQL backend with savepoints
and deferred writes that cost no round trip of their own (see its ``base``)."""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

# On a psycopg connection: the names of the statements prepared in its session (``omni.prepared``),
# and whether a message that carried a PREPARE failed (the statement may or may not exist).
PREPARED_ATTR = "_omni_prepared"
PREPARED_UNCERTAIN_ATTR = "_omni_prepared_uncertain"


def prepared_names(raw: Any) -> set[str]:
    """The statements prepared on the psycopg connection ``raw`` (one registry per connection,
    shared by every caller, so that one caller's ``DEALLOCATE ALL`` is seen by all)."""
    names = getattr(raw, PREPARED_ATTR, None)
    if names is None:
        names = set()
        setattr(raw, PREPARED_ATTR, names)
    return names


def execute_deferred(sql: str, params: Any = None, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run a write whose result nobody reads with the connection's next statement instead of in a
    round trip of its own (``omni.db.postgresql``; in its place in the transaction, before
    ``COMMIT``). Elsewhere, and outside a transaction, it runs at once."""
    connection = connections[using]
    deferred = getattr(connection, "execute_deferred", None)
    if deferred is not None:
        deferred(sql, params)
        return
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
