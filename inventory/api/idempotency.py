"""``Idempotency-Key`` on the stock API: keys are the caller's own (a partner token's, a person's),
kept in ``StockRequestKey``; the mechanism is ``omni.idempotency`` (orders keeps its own per channel)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from rest_framework.request import Request
from rest_framework.response import Response

from omni.access.roles import principal_from_request
from omni.api.idempotency import idempotent_response

from ..models import StockRequestKey


def caller_scope(request: Request) -> str:
    """Whose keys these are: the partner token (its keys stay its own across re-issued users), else the person."""
    principal = principal_from_request(request)
    if principal.token is not None:
        return f"token:{principal.token.pk}"
    return f"user:{getattr(principal.user, 'pk', None)}"


def with_caller_names(queryset):
    """Each key's caller (as ``caller_scope`` writes it) with the partner token's or the person's
    name beside it, in the same query (the admin's list and its filter)."""
    from django.contrib.auth import get_user_model
    from django.db.models import CharField, OuterRef, Subquery, Value
    from django.db.models.functions import Cast, Concat

    from omni.access.models import PartnerToken

    def name_of(model, prefix: str, field: str) -> Subquery:
        refs = model.objects.annotate(ref=Concat(Value(prefix), Cast("pk", CharField())))
        return Subquery(refs.filter(ref=OuterRef("caller")).values(field)[:1])

    return queryset.annotate(token_name=name_of(PartnerToken, "token:", "name"),
                             user_name=name_of(get_user_model(), "user:", "username"))


def caller_label(caller: str, token_name: str | None, user_name: str | None) -> str:
    if token_name:
        return f"partner token “{token_name}”"
    if user_name:
        return f"user {user_name}"
    return f"{caller} (removed)"


def stock_idempotent(*, request: Request, operation: str, body: Any, handler: Callable[[], tuple[int, Any]]) -> Response:
    """Answer ``handler()`` once per (caller, key) when the request has an ``Idempotency-Key``; the
    operation's name is part of what must match, so one key cannot stand for two different calls."""
    return idempotent_response(request=request, model=StockRequestKey, scope={"caller": caller_scope(request)},
                               body={"operation": operation, "body": body}, handler=handler)


def multipart_fingerprint(data: Any) -> dict[str, Any]:
    """A multipart body as JSON: every field's values, an uploaded file by its name, size and SHA-256
    (the same file sent again matches; a file with one byte changed does not)."""
    out: dict[str, Any] = {}
    for name, values in (data.lists() if hasattr(data, "lists") else ((k, [v]) for k, v in dict(data).items())):
        out[name] = [_file_digest(v) if isinstance(v, UploadedFile) else v for v in values]
    return out


def _file_digest(upload: UploadedFile) -> dict[str, Any]:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return {"file": upload.name, "size": upload.size, "sha256": digest.hexdigest()}
