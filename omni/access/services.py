"""Writes of the access app: issuing partner tokens."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import transaction

from allocation.models import Channel
from inventory.models import Location
from omni.errors import ValidationFailed

from .models import PartnerToken, Scope


def partner_token_issue(
    *, channel: Channel, name: str, scopes: Iterable[str], locations: Iterable[Location] = (), key: str | None = None
) -> tuple[PartnerToken, str]:
    """Issue a token for a partner system. Returns the token and the key (shown only now)."""
    scopes = list(dict.fromkeys(scopes))
    unknown = [s for s in scopes if s not in Scope.values]
    if unknown:
        raise ValidationFailed(f"Unknown scope(s): {', '.join(unknown)}.", code="invalid_scope", details={"scopes": unknown})
    key = key or PartnerToken.new_key()
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=f"partner:{channel.code}:{PartnerToken.hash_key(key)[:10]}")
        user.set_unusable_password()
        user.save(update_fields=["password"])
        token = PartnerToken.objects.create(
            name=name, channel=channel, user=user, key_hash=PartnerToken.hash_key(key), prefix=key[:8], scopes=scopes
        )
        token.locations.set(list(locations))
    return token, key
