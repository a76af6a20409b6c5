from __future__ import annotations

from allocation.models import Channel
from omni.access.models import Scope
from omni.access.services import partner_token_issue


def issue_token(channel: Channel, *scopes: str, locations=()) -> str:
    """A partner key for ``channel`` with these scopes (all scopes when none given)."""
    _, key = partner_token_issue(channel=channel, name=f"{channel.code} partner", scopes=scopes or Scope.values, locations=locations)
    return key
