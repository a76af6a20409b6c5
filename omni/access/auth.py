"""Partner-system authentication: ``Authorization: Token <key>`` (or ``Bearer <key>``)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import PartnerToken


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
            token = PartnerToken.objects.select_related("user", "channel").get(key_hash=PartnerToken.hash_key(key))
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
