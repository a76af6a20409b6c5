"""Idempotent calls: the same ``Idempotency-Key`` and body get the same answer, however often.

The primitive every app's API uses (a base module: it imports no app). Each app keeps its own
record table (an ``IdempotencyRecordBase``), keyed by a *scope* (orders: the channel; inventory:
the caller) and the key, with a unique constraint on (scope columns, key).

The key's row is inserted in the same transaction as the work it guards. A concurrent duplicate
blocks on the unique index until the first commits, then finds the stored answer and replays it
(on PostgreSQL). A domain error is stored too (its work is rolled back to a savepoint first), so a
retry gets the same 4xx; an unexpected crash stores nothing, so the retry runs again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import FrozenInstanceError
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.utils import timezone
from rest_framework.compat import LONG_SEPARATORS, SHORT_SEPARATORS
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

from omni.prepared import execute_prepared
from omni.errors import Conflict, OmniError, ValidationFailed

MAX_KEY_LENGTH = 255
# The one shape of the header, for the schema of every operation that takes it.
KEY_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": r"^[\x21-\x7e]+$"}
REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyRecordBase(models.Model):
    """The columns ``idempotent_run`` reads and writes; an app's record adds its scope field(s) and
    a unique constraint on (scope, key)."""

    key = models.CharField(max_length=MAX_KEY_LENGTH)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


_UNDECODED: Any = object()


class IdempotentAnswer:
    """What a keyed call answers: ``status``, ``body``, ``replayed`` and, for a first answer,
    ``rendered``: ``body`` as DRF's ``JSONRenderer`` renders it (no indent), already rendered once
    for the key's row, so that the response need not render it again (None: not known).

    Immutable, compared and shown by (status, body, replayed), as the frozen dataclass it was. A
    first answer made by ``first`` decodes its ``body`` from ``rendered`` only when it is read
    (then once): a client that gets the JSON as rendered never needs it. Decoding a 2-line
    order's answer back cost 33–45 µs of CPU in a request for a value only the browsable API, an
    indented rendering or a test reads."""

    __slots__ = ("status", "_body", "replayed", "rendered")
    status: int
    _body: Any
    replayed: bool
    rendered: bytes | None

    def __init__(self, status: int, body: Any, replayed: bool, rendered: bytes | None = None) -> None:
        for name, value in (("status", status), ("_body", body), ("replayed", replayed), ("rendered", rendered)):
            object.__setattr__(self, name, value)

    @classmethod
    def first(cls, status: int, rendered: bytes) -> IdempotentAnswer:
        """A first answer known by its rendering alone: its ``body`` is ``json.loads`` of it."""
        return cls(status, _UNDECODED, False, rendered)

    @property
    def body(self) -> Any:
        body = self._body
        if body is _UNDECODED:
            assert self.rendered is not None
            body = json.loads(self.rendered.decode())
            object.__setattr__(self, "_body", body)
        return body

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, IdempotentAnswer)
        return (self.status, self.body, self.replayed) == (other.status, other.body, other.replayed)

    def __hash__(self) -> int:
        return hash((self.status, self.body, self.replayed))

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}(status={self.status!r}, body={self.body!r}, replayed={self.replayed!r})"

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles (its slots cannot be set after __init__)
        return (type(self), (self.status, self.body, self.replayed, self.rendered))


_ENCODERS: dict[tuple[Any, ...], json.JSONEncoder] = {}


def _json_encoder() -> json.JSONEncoder:
    """The encoder ``JSONRenderer.render`` makes for a rendering without indent (``json.dumps``
    with its class, ``ensure_ascii``, ``allow_nan`` and separators), made once per such settings:
    an encoder keeps nothing between calls (each ``encode`` makes its own C encoder)."""
    r = JSONRenderer
    key = (r.encoder_class, r.ensure_ascii, r.strict, r.compact)
    encoder = _ENCODERS.get(key)
    if encoder is None:
        encoder = _ENCODERS[key] = r.encoder_class(
            ensure_ascii=r.ensure_ascii, allow_nan=not r.strict, separators=SHORT_SEPARATORS if r.compact else LONG_SEPARATORS)
    return encoder


def _rendered(response: Any) -> bytes | None:
    """``response`` as the API's JSON renderer writes it (DRF's ``JSONRenderer``, no indent): the
    text the key's row stores and, when the client asked for JSON, the bytes it gets. It was
    encoded twice (once for the row, then again by the renderer): encoding, decoding and rendering
    a 2-line order's answer (1.5 kB) took 47 µs of CPU in a tight loop, now 31. The renderer's own
    steps with its encoder kept (``_json_encoder``; ``json.dumps`` made one per call). None
    when the renderer gives no JSON value (``None`` renders as an empty body) or refuses it (a
    float that is not finite): then the row's text is encoded as before."""
    if response is None:
        return None
    try:
        text = _json_encoder().encode(response)
        # DRF's escapes (a strict JavaScript subset), then UTF-8 (a lone surrogate refuses)
        rendered = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()
    except ValueError:
        return None
    return rendered or None


# ``json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)``'s encoder, made once
# (``json.dumps`` made one per call; an encoder keeps nothing between calls)
_FINGERPRINT_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def request_fingerprint(body: Any) -> str:
    """What makes two requests the same: the SHA-256 of ``body`` as sorted, compact JSON (the text
    stored keys were made with: it must not change)."""
    return hashlib.sha256(_FINGERPRINT_ENCODER.encode(body).encode()).hexdigest()


_KEY_CHARS = re.compile(KEY_SCHEMA["pattern"])


def idempotency_key_clean(key: str | None) -> str:
    """The key as stored, or ``idempotency_key_required`` (400) for one the schema does not allow:
    empty, longer than 255 characters, or with a space or a character outside printable ASCII."""
    key = (key or "").strip()
    if not key or len(key) > MAX_KEY_LENGTH or not _KEY_CHARS.fullmatch(key):
        raise ValidationFailed(
            f"An Idempotency-Key header (1–{MAX_KEY_LENGTH} printable ASCII characters, no spaces) is required.",
            code="idempotency_key_required", details={"Idempotency-Key": ["Required: 1–255 printable ASCII characters."]},
        )
    return key


def namespaced_key(namespace: str, key: str | None) -> str:
    """``key`` in its own namespace of a scope's keys (``fulfillment:<key>``), so that the same
    client key may name one request of each kind. The client's key is checked as sent (1–255
    characters); one that would not fit with its prefix is stored by its SHA-256."""
    key = idempotency_key_clean(key)
    stored = f"{namespace}:{key}"
    if len(stored) > MAX_KEY_LENGTH:
        stored = f"{namespace}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return stored


def idempotent_run(
    *, model: type[IdempotencyRecordBase], scope: Mapping[str, Any], key: str, body: Any, handler: Callable[[], tuple[int, Any]],
    error_body: Callable[[OmniError], Any], on_refusal: Callable[[OmniError], object] | None = None,
    handler_is_atomic: bool = False, around: Callable[[], AbstractContextManager[Any]] | None = None,
) -> IdempotentAnswer:
    """Run ``handler`` once per (scope, key) in ``model``'s table; later calls with the same body get
    its answer (``replayed``), with another body ``409 idempotency_key_reused``.

    ``scope``: the model's scope fields and their values (``{"channel": channel}``). ``on_refusal``
    runs after a domain error's savepoint was rolled back, in the transaction the record is stored
    in (to write what the refusal itself must leave behind, once it is final). ``handler_is_atomic``:
    the handler already undoes every write of its own that must not survive an ``OmniError`` (order
    intake runs in its own savepoint), so no second savepoint is nested around it (two round trips
    less). ``around``: a context the handler runs in (orders: ``lost_sales_deferred``)."""
    key = idempotency_key_clean(key)
    fingerprint = request_fingerprint(body)
    with transaction.atomic():
        record_id = _claim(model=model, scope=scope, key=key, fingerprint=fingerprint)
        if record_id is not None:
            try:
                with around() if around is not None else nullcontext():
                    if handler_is_atomic:
                        status, response = handler()
                    else:
                        with transaction.atomic():
                            status, response = handler()
            except OmniError as exc:
                if on_refusal is not None:
                    on_refusal(exc)
                status, response = exc.status_code, error_body(exc)
            # as the client reads it (dates, decimals as the API renders them): the first answer and
            # every replay are the same bytes; the text is what the key's row stores
            rendered = _rendered(response)
            if rendered is not None:  # its body decoded only if read (``IdempotentAnswer.first``)
                _answer_store(model=model, record_id=record_id, status=status, text=rendered.decode())
                return IdempotentAnswer.first(status, rendered)
            text = json.dumps(response, cls=JSONEncoder)
            _answer_store(model=model, record_id=record_id, status=status, text=text)
            return IdempotentAnswer(status, json.loads(text), False)
    # The key was taken: by an earlier request, or by a concurrent one we waited for.
    winner = model._default_manager.filter(**scope, key=key).values("request_hash", "response_status", "response_body").first()
    if winner is None or winner["response_status"] is None:
        raise Conflict(f"Idempotency-Key {key!r} is in use by a request still running.", code="idempotency_key_in_use",
                       details={"Idempotency-Key": ["A request with this key has not answered yet."]})
    if winner["request_hash"] != fingerprint:
        raise Conflict(
            f"Idempotency-Key {key!r} was already used with a different request body.",
            code="idempotency_key_reused", details={"Idempotency-Key": ["Already used for a different request."]},
        )
    return IdempotentAnswer(winner["response_status"], winner["response_body"], True)


# (model, scope names, database vendor) → the claim's INSERT; (model, vendor) → the answer's UPDATE:
# the texts were built (fields looked up, names quoted) on every request
_CLAIM_SQL: dict[tuple[type[models.Model], tuple[str, ...], str], str] = {}
_ANSWER_SQL: dict[tuple[type[models.Model], str], str] = {}
_PREFIX = "omni_idem_"  # their names as prepared statements (``omni.prepared``)


def _answer_sql(model: type[IdempotencyRecordBase]) -> str:
    sql = _ANSWER_SQL.get((model, connection.vendor))
    if sql is None:
        meta = model._meta
        value = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
        qn = connection.ops.quote_name
        pk_column = (meta.pk.column if meta.pk is not None else None) or "id"
        sql = _ANSWER_SQL[(model, connection.vendor)] = (
            f"UPDATE {qn(meta.db_table)} SET {qn('response_status')} = %s, {qn('response_body')} = {value} "
            f"WHERE {qn(pk_column)} = %s")
    return sql


def _answer_store(*, model: type[IdempotencyRecordBase], record_id: int, status: int, text: str) -> None:
    """``filter(pk=…).update(status, body)`` in plain SQL (0.3 ms of CPU less per request), sent
    with what follows it — the transaction's COMMIT (``execute_deferred``: no round trip of its own).
    ``text``: the answer as JSON already; PostgreSQL stores it as sent (cast to jsonb: the same
    value the field would store, without encoding the answer a second time); elsewhere the field
    stores its decoded value. A prepared statement
    of the connection (``omni.prepared``): PostgreSQL parsed and planned it on every call."""
    if connection.vendor == "postgresql":
        body: Any = text
    else:
        body = model._meta.get_field("response_body").get_db_prep_save(json.loads(text), connection)
    execute_prepared(_ConnectionOnly(connections[DEFAULT_DB_ALIAS]), _answer_sql(model), [status, body, record_id],
                     prefix=_PREFIX, deferred=True)


class _ConnectionOnly:
    """What ``execute_prepared`` asks of a cursor for a deferred statement: the connection (``db``)
    and, for what must be sent at once (a ``DEALLOCATE ALL``; a ``PREPARE`` on Django's own
    backend), ``execute`` — through a cursor of its own. The deferred answer never runs on a
    cursor: making a Django cursor for it (``connection.cursor()``: the connection's checks, a
    driver cursor, its wrapper) cost ~10 µs of CPU a request for nothing."""

    __slots__ = ("db",)

    def __init__(self, db: Any) -> None:
        self.db = db

    def execute(self, sql: str, params: Any = None) -> None:
        with self.db.cursor() as cursor:
            cursor.execute(sql, params)


def _claim_sql(model: type[IdempotencyRecordBase], names: tuple[str, ...]) -> str:
    sql = _CLAIM_SQL.get((model, names, connection.vendor))
    if sql is None:
        meta = model._meta
        scope_columns: list[str] = []
        for name in names:
            column = getattr(meta.get_field(name), "column", None)
            assert isinstance(column, str), f"{meta.label}.{name} is not a column"
            scope_columns.append(column)
        qn = connection.ops.quote_name
        pk_column = (meta.pk.column if meta.pk is not None else None) or "id"
        columns = [*scope_columns, "key", "request_hash", "response_status", "response_body", "created_at"]
        sql = _CLAIM_SQL[(model, names, connection.vendor)] = (
            f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(c) for c in columns)}) "
            f"VALUES ({', '.join(['%s'] * len(scope_columns))}, %s, %s, NULL, NULL, %s) "
            f"ON CONFLICT ({', '.join(qn(c) for c in [*scope_columns, 'key'])}) DO NOTHING RETURNING {qn(pk_column)}"
        )
    return sql


def _claim(*, model: type[IdempotencyRecordBase], scope: Mapping[str, Any], key: str, fingerprint: str) -> int | None:
    """Insert the key's row and answer its id, or None when the key is taken: one statement where a
    look-up and an insert in a savepoint took four round trips. A concurrent request with the same
    key makes this wait on the unique index until it commits (then None: replay its answer) or
    rolls back (then this insert goes through). A prepared statement of the connection
    (``omni.prepared``): PostgreSQL parsed and planned the insert on every call."""
    sql = _claim_sql(model, tuple(scope))
    scope_values = [value.pk if isinstance(value, models.Model) else value for value in scope.values()]
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, [*scope_values, key, fingerprint, timezone.now()], prefix=_PREFIX)
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def idempotency_records_prune(*, model: type[IdempotencyRecordBase], older_than: Any, batch: int = 5000) -> int:
    """Forget the keys answered before ``older_than`` (a resend with such a key runs again), in
    batches so that no statement holds many rows; how many went."""
    removed = 0
    manager = model._default_manager
    while True:
        ids = list(manager.filter(created_at__lt=older_than).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return removed
        removed += manager.filter(pk__in=ids).delete()[0]
