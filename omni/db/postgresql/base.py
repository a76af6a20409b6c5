"""Django's PostgreSQL backend with savepoints (and deferred writes) that ride on the next statement.

Every ``transaction.atomic()`` nested in another is a savepoint: Django sends ``SAVEPOINT x`` when
the block opens and ``RELEASE SAVEPOINT x`` when it closes, each a round trip of its own. An order
placed over the API opens three (the idempotency key's transaction holds intake's, which holds
routing's reservation attempt): five round trips of ~30, each costing the server a parse and two
socket calls and the client a query's worth of CPU, to do nothing a partner can see.

Here the savepoint statements are *pending* until the connection next sends a statement, and then
go in the same simple-protocol message, in front of it (``SAVEPOINT x; INSERT …``): the server runs
them in order, exactly as if sent one by one, and the cursor steps past their results
(``nextset``). What never reaches the server is what could not matter:

- a savepoint released or rolled back before any statement ran inside it (nothing to undo);
- releases still pending at ``COMMIT`` (a commit releases every savepoint) or at ``ROLLBACK``.

A rollback to a savepoint that was sent drops the pending statements first (they concern
savepoints nested inside it, which the rollback discards) and is sent on its own: after an error
the transaction accepts nothing else. A statement that fails after its prefix leaves the prefix
done (a savepoint exists, a release happened), which is the state Django believes in.

A write whose result nobody reads can wait the same way (``execute_deferred``): it goes in front
of the next statement, or with the ``COMMIT`` when nothing else follows; a rollback to the
savepoint it was issued in drops it.

A statement prepared for the connection (``omni.prepared``) travels the same way: its ``PREPARE``
goes in front of its first ``EXECUTE`` (``prepare_pending``), not in a round trip of its own, so
preparing costs no statement as Django counts them. A ``PREPARE`` is not undone by a rollback, so
the connection's registry of prepared names follows what reached the server: a ``PREPARE`` dropped
before it was sent is forgotten, and one sent in a message that failed makes the registry
uncertain (``omni.prepared`` deallocates all before it prepares again). The session plans its
prepared statements generically (``plan_cache_mode``, set when the connection opens).

The transaction's ``BEGIN`` rides the same way: psycopg (never in autocommit inside ``atomic()``)
sends ``BEGIN`` in a round trip of its own before the first statement of each transaction; when
that statement goes through this backend's cursor as text, the ``BEGIN`` (psycopg's own, with its
isolation level) goes in front of it and psycopg skips its own for that one statement
(``_Connection``). psycopg keeps no transaction state but the server's status and its autocommit
flag, so it finds the transaction open exactly as if it had begun it: commits, rollbacks, its
``transaction()`` blocks, ``executemany``, ``COPY`` and named cursors (which send their ``BEGIN``
alone, as before) all behave as they did. A first message that does not parse runs none of its
statements, not even the ``BEGIN``: it is replayed as it used to be sent (``_begin_lost``).
~20 µs of the backend's CPU and a round trip per transaction.

Only Django's client-side-binding cursors carry the prefix (the only ones Omni uses for
statements). Anything that talks to the driver another way — a named server-side cursor, COPY —
first sends what is pending on its own (``DatabaseWrapper.pending_flush``).

``ENGINE = "omni.db.postgresql"``: the settings use it for every PostgreSQL ``DATABASE_URL``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import psycopg
from django.core.signals import request_finished
from django.db.backends.postgresql import base as postgresql
from psycopg import _queries as _psycopg_queries
from psycopg.pq import TransactionStatus
from django.db.backends.utils import debug_transaction

from omni.db import PREPARED_UNCERTAIN_ATTR, prepared_names
from omni.db.postgresql.literals import literals

# django-stubs leave most of the psycopg 3 cursor and of the backend's transaction methods untyped
_DjangoCursor: Any = postgresql.Cursor
_DjangoWrapper: Any = postgresql.DatabaseWrapper
_IDLE = TransactionStatus.IDLE
_PENDING = "_omni_pending_sql"  # on the psycopg connection: the statements waiting for the next one
# on the psycopg connection: the reads sent ahead ("read:<n>" → [sql, params, rows]), rows set once
# they came back, and kept only until the connection sends anything else
_AHEAD = "_omni_read_ahead"


def _ahead_stale(raw: Any) -> None:
    """Something else is being sent: rows read ahead before it may no longer be what a read would
    find (this transaction may write in between), so they are forgotten."""
    ahead = getattr(raw, _AHEAD, None)
    if ahead:
        for op in [op for op, entry in ahead.items() if entry[2] is not None]:
            del ahead[op]


def _pending(raw: Any) -> list[tuple[str, str]]:
    pending = getattr(raw, _PENDING, None)
    if pending is None:
        pending = []
        setattr(raw, _PENDING, pending)
    return pending


@lru_cache(maxsize=1024)
def _client_template(query: bytes, encoding: str) -> Any:
    return _psycopg_queries._query2pg_client_nocache(query, encoding)


class _ClientQuery(_psycopg_queries.PostgresClientQuery):
    """psycopg's client-side binding, with the statement's template (its text split at each
    ``%s``) kept per text whatever its size. psycopg keeps it only for statements up to 4096 bytes
    and 50 parameters, so the order path's chained inserts (100-odd parameters) were split anew on
    every call: ~100 µs of a ~140 µs bind. The values' literals are psycopg's, written directly for
    the common types (``literals``: ~0.35 ms an order less than psycopg's per-statement dumpers)."""

    __slots__ = ()

    def convert(self, query: Any, vars: Any) -> None:
        if vars is None or not isinstance(query, (str, bytes)):
            return super().convert(query, vars)
        self.template, self._order, self._parts = _client_template(self._ensure_bytes(query), self._tx.encoding)
        self.dump(vars)
        return None

    def dump(self, vars: Any) -> None:
        """psycopg's ``dump``, each value's literal written by ``literals`` (the same bytes)."""
        if vars is None:
            self.params = None
            return
        params = self.validate_and_reorder_params(self._parts, vars, self._order)
        self.params = literals(self._tx, params)
        self.query = self.template % self.params


class Cursor(_DjangoCursor):
    """Django's cursor (client-side binding), sending the connection's pending savepoint statements
    in front of the next statement."""

    _query_cls = _ClientQuery

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        raw = self.connection
        _ahead_stale(raw)
        pending = getattr(raw, _PENDING, None)
        if not isinstance(query, str) or kwargs.get("binary") or kwargs.get("prepare"):
            if pending:
                _send(self, pending)
            return super().execute(query, params, **kwargs)
        begin = _begin_in_text(raw)
        if not pending and begin is None:
            return super().execute(query, params, **kwargs)
        if params is not None:
            # merged first (as execute would): a parameter refused here (a NUL byte, say) leaves
            # the pending statements pending, as nothing reached the server
            query, params = self.mogrify(query, params), None
        sent = list(pending) if pending else []
        text = "".join(f"{sql}; " for _op, sql in sent) + query
        if pending:
            pending.clear()
        try:
            if begin is None:
                result = super().execute(text, None, **kwargs)  # no parameters: sent as it is
            else:
                raw._omni_begin_in_text = True  # psycopg's own BEGIN is not sent: this text carries it
                try:
                    result = super().execute(f"{begin}; {text}", None, **kwargs)
                finally:
                    raw._omni_begin_in_text = False
        except BaseException as exc:
            _failed(raw, sent)
            if begin is not None:
                _begin_lost(self, exc, text)
            raise
        if begin is not None:
            self.nextset()  # past the BEGIN's result
        ahead = getattr(raw, _AHEAD, None)
        for op, _sql in sent:
            if ahead and op in ahead:
                ahead[op][2] = self.fetchall()  # a read sent ahead: its rows, for read_ahead_rows
            self.nextset()
        return result

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> Any:
        _ahead_stale(self.connection)
        pending = getattr(self.connection, _PENDING, None)
        if pending:
            _send(self, pending)
        return super().executemany(query, params_seq, **kwargs)

    def copy(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        _ahead_stale(self.connection)
        pending = getattr(self.connection, _PENDING, None)
        if pending:
            _send(self, pending)
        return super().copy(statement, *args, **kwargs)


class _Connection(psycopg.Connection[Any]):
    """psycopg's connection, whose ``BEGIN`` the transaction's first statement may carry in its own
    text (``Cursor.execute``): then psycopg does not send it in a round trip of its own."""

    _omni_begin_in_text = False

    def _start_query(self) -> Any:
        if self._omni_begin_in_text:
            self._omni_begin_in_text = False
            return iter(())
        return super()._start_query()


def _begin_in_text(raw: Any) -> str | None:
    """The ``BEGIN`` psycopg would send before the connection's next statement (not in autocommit,
    no transaction open on the server), when that statement may carry it; else None. psycopg keeps
    no transaction state of its own beyond the server's status and its autocommit flag, so a
    ``BEGIN`` that reached the server with the statement leaves it exactly as its own would."""
    if (type(raw) is not _Connection or raw._autocommit or raw._pipeline is not None
            or raw.pgconn.transaction_status != _IDLE):
        return None
    begin: str = raw._get_tx_start_command().decode()
    return begin


def _begin_lost(cursor: Any, exc: BaseException, text: str) -> None:
    """``BEGIN; <text>`` failed and the server is still outside a transaction: the message did not
    parse (PostgreSQL parses a whole simple-protocol message before running any of it), so not even
    the ``BEGIN`` ran. Sent one by one, the ``BEGIN`` would have opened the transaction and the
    text's error aborted it (every later statement refused until the rollback): that is replayed —
    psycopg's ``BEGIN`` on its own, then the same text, which fails to parse again."""
    raw = cursor.connection
    # Any error the server reported (a syntax error, but also an invalid escape or a too-long
    # identifier found while parsing) that left it idle: had the ``BEGIN`` run, the server would be
    # in an aborted transaction instead. Client-side errors (no SQLSTATE) never reached it.
    if not isinstance(exc, psycopg.Error) or exc.sqlstate is None or raw.pgconn.transaction_status != _IDLE:
        return
    try:
        _DjangoCursor.execute(cursor, text)
    except psycopg.Error:
        pass


_MOGRIFY = "_omni_mogrify_cursor"  # on the psycopg connection: a cursor kept for binding text only


def _mogrify(raw: Any, sql: str, params: Any) -> str:
    """``sql`` with ``params`` bound as Django's cursor would send them (a cursor of the connection
    kept for it: creating one costs more than binding a few values)."""
    if params is None:
        return sql
    cursor = getattr(raw, _MOGRIFY, None)
    if cursor is None or cursor.closed:
        cursor = raw.cursor()
        setattr(raw, _MOGRIFY, cursor)
    return cursor.mogrify(sql, params)


def _ahead_clear(raw: Any) -> None:
    ahead = getattr(raw, _AHEAD, None)
    if ahead:
        ahead.clear()


def _send(cursor: Any, pending: list[tuple[str, str]]) -> None:
    _ahead_clear(cursor.connection)  # reads among them go unread: their callers read for themselves
    sql = "; ".join(s for _op, s in pending)
    sent = list(pending)
    pending.clear()
    try:
        _DjangoCursor.execute(cursor, sql)
    except BaseException:
        _failed(cursor.connection, sent)
        raise


def _prepares(ops: list[tuple[str, str]]) -> list[str]:
    return [op[len("prepare:"):] for op, _sql in ops if op.startswith("prepare:")]


def _failed(raw: Any, sent: list[tuple[str, str]]) -> None:
    """A message carrying ``sent`` in front of a statement failed: a ``PREPARE`` among them may or
    may not have run (it is not undone by a rollback)."""
    names = _prepares(sent)
    if names:
        prepared_names(raw).difference_update(names)
        setattr(raw, PREPARED_UNCERTAIN_ATTR, True)


def _dropped(raw: Any, ops: list[tuple[str, str]]) -> None:
    """``ops`` leave the pending list unsent: a ``PREPARE`` among them never reached the server."""
    names = _prepares(ops)
    if names:
        prepared_names(raw).difference_update(names)


def _clear(raw: Any, pending: list[tuple[str, str]]) -> None:
    _dropped(raw, pending)
    pending.clear()
    _ahead_clear(raw)


class DatabaseWrapper(_DjangoWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unsent: set[str] = set()  # savepoints rolled back before they were ever sent

    def get_new_connection(self, conn_params: Any) -> Any:
        connection = super().get_new_connection(conn_params)
        if type(connection) is psycopg.Connection:
            connection.__class__ = _Connection  # the same connection, its BEGIN able to ride (no state added)
        return connection

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if params.get("cursor_factory") is _DjangoCursor:
            params["cursor_factory"] = Cursor
            # Only omni.prepared's statements are prepared on this connection (Django binds
            # client-side): planned once, generically, not per call with their parameters.
            options = params.get("options") or ""
            if "plan_cache_mode" not in options:
                params["options"] = f"{options} -c plan_cache_mode=force_generic_plan".strip()
        return params

    def prepare_pending(self, name: str, sql: str) -> None:
        """Send ``sql`` (``PREPARE name AS …``) in front of the connection's next statement (its
        first ``EXECUTE``), not in a round trip of its own; ``name`` is in the connection's registry
        of prepared statements from now on (and leaves it if the ``PREPARE`` is dropped unsent)."""
        self.ensure_connection()
        pending = self._pending()
        assert pending is not None
        pending.append(("prepare:" + name, sql))
        prepared_names(self.connection).add(name)

    def _pending(self) -> list[tuple[str, str]] | None:
        return _pending(self.connection) if self.connection is not None else None

    def pending_discard_unsent_reads(self) -> None:
        """Forget reads (and ``PREPARE``s) queued in front of a next statement that never came: a
        request that ended before sending any (a refused Idempotency-Key) must not leave them to
        ride on the next request's first statement. Outside a transaction nothing else can be
        pending (deferred writes run at once there); inside one, nothing is touched."""
        pending = self._pending()
        if pending and not self.in_atomic_block:
            leftover = [op for op in pending if op[0].startswith(("read:", "prepare:"))]
            if len(leftover) == len(pending):
                _clear(self.connection, pending)

    def pending_flush(self) -> None:
        """Send the pending savepoint statements and deferred writes now (before using the driver
        other than through a Django cursor)."""
        pending = self._pending()
        if pending:
            with self.wrap_database_errors:
                cursor = self.connection.cursor()
                try:
                    _send(cursor, pending)
                finally:
                    cursor.close()

    def read_ahead(self, sql: str, params: Any = None) -> None:
        """Send the read ``sql`` in front of the connection's next statement (one round trip for
        both, as a savepoint rides), keeping its rows for ``read_ahead_rows(sql, params)`` until
        the connection sends anything else. For a read the caller is about to need, whose answer
        the statement in between cannot change (the products an order names, in front of the
        idempotency key's claim). Nothing is promised: a read that could not go ahead, or whose
        rows were forgotten, is simply run by the caller when it needs it. A read pending when a
        transaction opens goes with its first statement."""
        if self.connection is None:
            return
        try:
            with self.wrap_database_errors:
                merged = _mogrify(self.connection, sql, params)
        except Exception:
            return  # refused by the driver: the caller's own read will say so
        ahead = getattr(self.connection, _AHEAD, None)
        if ahead is None:
            ahead = {}
            setattr(self.connection, _AHEAD, ahead)
        op = f"read:{id(merged)}:{len(ahead)}"
        ahead[op] = [sql, params, None]
        pending = self._pending()
        assert pending is not None
        pending.append((op, merged))

    def read_ahead_rows(self, sql: str, params: Any = None) -> list[Any] | None:
        """The rows of ``read_ahead(sql, params)`` if they came back and nothing else was sent
        since (taken: a second call finds none), else None."""
        ahead = getattr(self.connection, _AHEAD, None) if self.connection is not None else None
        if not ahead:
            return None
        for op, (ahead_sql, ahead_params, rows) in ahead.items():
            if rows is not None and ahead_sql == sql and ahead_params == params:
                del ahead[op]
                return rows
        return None

    def execute_deferred(self, sql: str, params: Any = None) -> None:
        """Run ``sql`` (a write whose result nobody reads) with the connection's next statement, in
        the same message, instead of in a round trip of its own; at once outside a transaction.
        Exactly where it was issued in the transaction's order of statements: before anything
        issued after it, inside the savepoint it was issued in (a rollback to that savepoint drops
        it), always before ``COMMIT`` (with it, when nothing else follows). An error it raises
        surfaces on the statement it rides on."""
        if not self.in_atomic_block:
            with self.cursor() as cursor:
                cursor.execute(sql, params)
            return
        self.ensure_connection()
        with self.wrap_database_errors:
            merged = _mogrify(self.connection, sql, params)
        pending = self._pending()
        assert pending is not None
        pending.append(("deferred:", merged))

    def create_cursor(self, name: str | None = None) -> Any:
        if name:
            self.pending_flush()
        return super().create_cursor(name)

    def _savepoint(self, sid: str) -> None:
        pending = self._pending()
        if pending is None:
            super()._savepoint(sid)
            return
        pending.append(("create:" + sid, self.ops.savepoint_create_sql(sid)))

    def _savepoint_commit(self, sid: str) -> None:
        pending = self._pending()
        if pending is None:
            super()._savepoint_commit(sid)
            return
        if sid in self._unsent or _drop_unsent(pending, sid, keep_deferred=True, raw=self.connection):
            self._unsent.discard(sid)  # never created: nothing to release
            return
        pending.append(("release:" + sid, self.ops.savepoint_commit_sql(sid)))

    def _savepoint_rollback(self, sid: str) -> None:
        pending = self._pending()
        if pending is not None:
            if sid in self._unsent or _drop_unsent(pending, sid, raw=self.connection):
                # never created, nothing to undo; Django releases it next (``Atomic.__exit__``)
                self._unsent.add(sid)
                return
            # what is pending concerns savepoints inside this one, which the rollback discards
            _clear(self.connection, pending)
        super()._savepoint_rollback(sid)

    def _commit(self) -> None:
        self._unsent.clear()
        if self.connection is not None:
            _ahead_clear(self.connection)
        pending = self._pending()
        if pending and any(op == "deferred:" for op, _sql in pending):
            # deferred writes are part of what commits: they go with the COMMIT, in one message
            # (the driver's own commit would find the transaction ended and send nothing)
            sql = "; ".join([*(s for _op, s in pending), "COMMIT"])
            sent = list(pending)
            pending.clear()
            with debug_transaction(self, sql), self.wrap_database_errors:
                cursor = self.connection.cursor()
                try:
                    _DjangoCursor.execute(cursor, sql)
                except BaseException:
                    _failed(self.connection, sent)
                    raise
                finally:
                    cursor.close()
            return
        if pending:
            _clear(self.connection, pending)  # releases (a commit releases every savepoint), or savepoints with nothing in them
        super()._commit()

    def _rollback(self) -> None:
        self._unsent.clear()
        if self.connection is not None:
            _ahead_clear(self.connection)
        pending = self._pending()
        if pending:
            _clear(self.connection, pending)
        super()._rollback()

    def _set_autocommit(self, autocommit: bool) -> None:
        pending = self._pending()
        if pending:
            # reads sent ahead and the PREPAREs they need are good in or out of a transaction
            kept = [(op, sql) for op, sql in pending if op.startswith(("read:", "prepare:"))]
            _dropped(self.connection, [(op, sql) for op, sql in pending if not op.startswith(("read:", "prepare:"))])
            pending[:] = kept
        super()._set_autocommit(autocommit)


def _drop_unsent(pending: list[tuple[str, str]], sid: str, *, keep_deferred: bool = False, raw: Any = None) -> bool:
    """Forget savepoint ``sid`` if its creation was never sent (no statement ran inside it): True.
    ``keep_deferred`` (a release): not when a deferred write waits inside it, which must still run."""
    op = "create:" + sid
    for i, (name, _sql) in enumerate(pending):
        if name == op:
            if keep_deferred and any(later == "deferred:" for later, _s in pending[i + 1:]):
                return False
            if raw is not None:
                _dropped(raw, pending[i:])
            del pending[i:]
            return True
    return False


_PREFIX = re.compile(r'^(?:BEGIN(?: [A-Z ]+)?; )?(?:(?:SAVEPOINT|RELEASE SAVEPOINT) "[^"]+"; )*')
_PREPARE = re.compile(r"^PREPARE (\w+) AS ")


def statement_of(sql: str) -> str:
    """A logged query's own statement, without the savepoint statements (and the ``PREPARE`` of
    the statement it executes) sent in front of it (``connection.queries`` shows what was sent)."""
    while True:
        sql = _PREFIX.sub("", sql)
        prepare = _PREPARE.match(sql)
        if prepare is None:
            return sql
        end = sql.find(f"; EXECUTE {prepare.group(1)}")
        if end < 0:
            return sql
        sql = sql[end + 2:]


def _discard_unsent_reads(**kwargs: Any) -> None:
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        discard = getattr(conn, "pending_discard_unsent_reads", None)
        if discard is not None:
            discard()


# As Django closes aged connections when a request ends (django/db/__init__.py), a request's reads
# sent ahead that never went are forgotten then: the connection outlives the request.
request_finished.connect(_discard_unsent_reads, dispatch_uid="omni.db.discard_unsent_reads")
