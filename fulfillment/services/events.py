"""The work timeline: every change leaves an event with its actor (a user, or a label such as a
partner token's name or "system")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from fulfillment.models import Work, WorkEvent

Actor: TypeAlias = "AbstractBaseUser | str | None"


def actor_parts(actor: Actor) -> tuple[Any, str]:
    """(user or None, label) of an actor."""
    if actor is None or isinstance(actor, str):
        return None, (actor or "system")[:150]
    return actor, str(actor.get_username())[:150]


def actor_label(actor: Actor) -> str:
    return actor_parts(actor)[1]


def work_event_record(
    *, work: Work, kind: str, actor: Actor, data: dict[str, Any] | None = None, from_status: str = "", to_status: str = "",
    at: datetime | None = None,
) -> WorkEvent:
    user, label = actor_parts(actor)
    return WorkEvent.objects.create(work=work, kind=kind, actor=user, actor_label=label, from_status=from_status,
                                    to_status=to_status, at=at or timezone.now(), data=data or {})
