"""Partner-system authentication: ``Authorization: Token <key>`` (or ``Bearer <key>``)."""

from __future__ import annotations

from django.db import connection
from django.db.models import OuterRef, QuerySet
from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import PartnerToken


def _tokens() -> QuerySet[PartnerToken]:
    """Tokens with their user and channel and, on PostgreSQL, the ids of the locations they are
    limited to (``location_id_list``, read by ``principal_for``): one query per API request
    instead of two."""
    tokens = PartnerToken.objects.select_related("user", "channel")
    if connection.vendor != "postgresql":
        return tokens
    from django.contrib.postgres.expressions import ArraySubquery

    through = PartnerToken.locations.through.objects.filter(partnertoken_id=OuterRef("pk")).order_by("location_id")
    return tokens.annotate(location_id_list=ArraySubquery(through.values("location_id")))


class PartnerTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode(errors="replace") not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: expected 'Token <key>'.")
        key = header[1].decode(errors="replace")
        try:
            token = _tokens().get(key_hash=PartnerToken.hash_key(key))
        except PartnerToken.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid API token.") from None
        if not token.is_active or not token.user.is_active:
            raise exceptions.AuthenticationFailed("This API token is disabled.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            PartnerToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return "Token"
