"""Partner-system authentication: ``Authorization: Token <key>`` (or ``Bearer <key>``).

Every API request of a partner reads its token afresh (a token deactivated, a user disabled or a
location taken away is refused or limited at the very next request: nothing is cached across
requests). On PostgreSQL that read is one prepared statement (``omni.prepared``) returning the token,
its user, its channel and the ids of the locations it is limited to: planning that join took longer
than running it, and the ORM's compiling of it most of the rest.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model, OuterRef, QuerySet
from django.utils import timezone
from rest_framework import authentication, exceptions

from omni.prepared import execute_prepared

from .models import PartnerToken


def _tokens() -> QuerySet[PartnerToken]:
    """Tokens with their user and channel and, on PostgreSQL, the ids of the locations they are
    limited to (``location_id_list``, read by ``principal_for``)."""
    tokens = PartnerToken.objects.select_related("user", "channel")
    if connection.vendor != "postgresql":
        return tokens
    from django.contrib.postgres.expressions import ArraySubquery

    through = PartnerToken.locations.through.objects.filter(partnertoken_id=OuterRef("pk")).order_by("location_id")
    return tokens.annotate(location_id_list=ArraySubquery(through.values("location_id")))


def _joined() -> tuple[tuple[str, type[Model]], ...]:
    return (("t", PartnerToken), ("c", PartnerToken._meta.get_field("channel").related_model),
            ("u", PartnerToken._meta.get_field("user").related_model))


@cache
def _token_sql() -> str:
    """The token, its channel and its user (every concrete column, in field order), then its
    locations' ids as an array; ``%s``: the key's hash."""
    columns = [f'{alias}."{f.column}"'
               for alias, model in _joined() for f in model._meta.concrete_fields]
    through = PartnerToken.locations.through._meta
    own, loc = through.get_field("partnertoken").column, through.get_field("location").column
    channel, user = _joined()[1][1]._meta, _joined()[2][1]._meta
    return (
        f'SELECT {", ".join(columns)}, '
        f'ARRAY(SELECT l."{loc}" FROM "{through.db_table}" l WHERE l."{own}" = t."{PartnerToken._meta.pk.column}" ORDER BY 1) '
        f'FROM "{PartnerToken._meta.db_table}" t '
        f'JOIN "{channel.db_table}" c ON c."{channel.pk.column}" = t."{PartnerToken._meta.get_field("channel").column}" '
        f'JOIN "{user.db_table}" u ON u."{user.pk.column}" = t."{PartnerToken._meta.get_field("user").column}" '
        f'WHERE t."{PartnerToken._meta.get_field("key_hash").column}" = %s'
    )


@cache
def _row_plan() -> tuple[tuple[tuple[type[Model], tuple[str, ...], int, int], ...], tuple[tuple[int, Any, Any], ...]]:
    """How ``_token_sql``'s row becomes instances: per model (token, channel, user) its attribute
    names and its columns' slice of the row; and, for the columns that have any, what the ORM would
    apply to turn the driver's value into the field's (e.g. a JSON text into a list) — one column
    of 39 has one. Worked out once: it was looked up again for every column of every request
    (~25 µs of CPU a request)."""
    models: list[tuple[type[Model], tuple[str, ...], int, int]] = []
    converters: list[tuple[int, Any, Any]] = []
    at = 0
    for alias, model in _joined():
        fields = model._meta.concrete_fields
        models.append((model, tuple(f.attname for f in fields), at, at + len(fields)))
        for f in fields:
            col = f.get_col(alias)
            converters.extend((at, conv, col) for conv in connection.ops.get_db_converters(col) + f.get_db_converters(connection))
            at += 1
    return tuple(models), tuple(converters)


def token_for_hash(key_hash: str) -> PartnerToken | None:
    """The token with this key hash, its ``user`` and ``channel`` loaded and ``location_id_list`` set
    (PostgreSQL: one prepared statement); None when there is none."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":  # the embedded SQLite default: two plain queries
        found = _tokens().filter(key_hash=key_hash).first()
        if found is not None:
            found.location_id_list = sorted(found.locations.values_list("id", flat=True))  # type: ignore[attr-defined]
        return found
    with db.cursor() as cursor:
        execute_prepared(cursor, _token_sql(), [key_hash], prefix="omni_auth_")
        row = cursor.fetchone()
    if row is None:
        return None
    models, converters = _row_plan()
    values = list(row)
    for i, conv, col in converters:
        values[i] = conv(values[i], col, db)
    alias = db.alias
    token, channel, user = (model.from_db(alias, attnames, values[start:end]) for model, attnames, start, end in models)
    assert isinstance(token, PartnerToken)
    token.channel = channel  # type: ignore[assignment]
    token.user = user  # type: ignore[assignment]  # one-to-one: user.partner_token is this token too
    token.location_id_list = list(row[-1] or [])  # type: ignore[attr-defined]
    return token


class PartnerTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode(errors="replace") not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: expected 'Token <key>'.")
        key = header[1].decode(errors="replace")
        token = token_for_hash(PartnerToken.hash_key(key))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid API token.")
        if not token.is_active or not token.user.is_active:
            raise exceptions.AuthenticationFailed("This API token is disabled.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            PartnerToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return "Token"
