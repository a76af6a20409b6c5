"""Reads of channels."""

from __future__ import annotations

from django.db import models

from allocation.sync.models import SyncMessage, SyncState

from .models import Channel


def channel_has_history(*, channel: Channel) -> bool:
    """Whether the channel has a past that deleting it would destroy or orphan: what it was sent
    (the sync log, its published figures and their sequences) or rows another app keeps from being
    deleted with it (``on_delete=PROTECT``: its orders and holds). Such a channel is deactivated,
    never deleted."""
    if (SyncMessage.objects.filter(channel=channel).exists()
            or SyncState.objects.filter(channel=channel, published__isnull=False).exists()):
        return True
    return any(
        rel.on_delete is models.PROTECT and rel.related_model._base_manager.filter(**{rel.field.name: channel}).exists()
        for rel in Channel._meta.related_objects
    )
