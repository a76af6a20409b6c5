"""Reads of the access app: the channel a request acts for; the stores a staff user works at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from allocation.models import Channel
from omni.errors import Forbidden, NotFound, ValidationFailed

from .models import StaffAssignment, StaffRole
from .roles import Capability, Principal, require


def channel_for_principal(*, principal: Principal, code: str | None, capability: Capability) -> Channel:
    """The channel a request acts for: a partner token's own channel (naming another is refused);
    a merchandiser names one. Stable error codes: ``channel_forbidden`` (403), ``channel_required``
    (400), ``unknown_channel`` (404); and ``permission_denied`` when the capability is missing."""
    code = (code or "").strip()
    if principal.is_partner:
        if principal.channel_id is None:
            raise Forbidden("This token acts for no channel.", code="channel_forbidden", details={"channel": ["No channel."]})
        token_channel = getattr(principal.token, "channel", None)  # authentication loaded it with the token
        own = token_channel if isinstance(token_channel, Channel) and token_channel.pk == principal.channel_id \
            else Channel.objects.get(pk=principal.channel_id)
        if code and code != own.code:
            raise Forbidden(f"This token acts for channel {own.code!r}, not {code!r}.", code="channel_forbidden",
                            details={"channel": [f"Only {own.code!r} is allowed for this token."]})
        channel = own
    else:
        if not code:
            raise ValidationFailed("Name the channel (channel=<code>).", code="channel_required",
                                   details={"channel": ["Required."]})
        named = Channel.objects.filter(code=code).first()
        if named is None:
            raise NotFound(f"Unknown channel {code!r}.", code="unknown_channel", details={"channel": [f"No channel {code!r}."]})
        channel = named
    require(principal, capability, channel_id=channel.pk, what=f"for channel {channel.code}")
    return channel


@dataclass(frozen=True)
class StoreAssignment:
    """A store a staff user works at, and their role there."""

    location_id: int
    code: str
    name: str
    role: str

    @property
    def is_manager(self) -> bool:
        return self.role == StaffRole.MANAGER


def store_assignments(*, user: Any) -> list[StoreAssignment]:
    """The active locations a staff user is assigned to, by code (one query)."""
    rows = (StaffAssignment.objects.filter(user=user, location__is_active=True)
            .order_by("location__code").values_list("location_id", "location__code", "location__name", "role"))
    return [StoreAssignment(location_id=i, code=c, name=n, role=r) for i, c, n, r in rows]
