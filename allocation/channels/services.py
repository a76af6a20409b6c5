"""Writes for channel visibility, location groups, quotas and ATP settings.

Each change that can move a channel's ATP writes outbox rows (``inventory.outbox.outbox_record``)
for every SKU it may affect, in the same transaction: the SKUs with a stock row at the locations
concerned, collected in one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction

from allocation.availability.context import channel_location_ids
from inventory.models import Location, Product, StockLevel
from inventory.outbox import outbox_record
from omni.errors import Conflict, NotFound, ValidationFailed

from .models import Channel, ChannelQuota, ChannelVisibility, LocationGroup
from .selectors import channel_has_history


def outbox_for_locations(location_ids: Iterable[int], reason: str) -> int:
    """Outbox rows (in the caller's transaction) for every SKU stocked at these locations."""
    ids = list(StockLevel.objects.filter(location_id__in=list(location_ids)).values_list("product_id", flat=True).distinct())
    outbox_record(product_ids=ids, reason=reason)
    return len(ids)


def _rule_locations(rule: ChannelVisibility) -> list[int]:
    if rule.location_id:
        return [rule.location_id]
    if rule.group_id is None:
        return []
    return list(LocationGroup.locations.through.objects.filter(locationgroup_id=rule.group_id).values_list("location_id", flat=True))


def channel_visibility_add(*, channel: Channel, location: Location | None = None, group: LocationGroup | None = None) -> ChannelVisibility:
    """Let ``channel`` sell from ``location`` (or every location of ``group``)."""
    if (location is None) == (group is None):
        raise ValidationFailed("Name either a location or a location group.", code="visibility_target",
                               details={"location": ["Exactly one of location and group."], "group": ["Exactly one of location and group."]})
    with transaction.atomic():
        try:
            with transaction.atomic():
                rule = ChannelVisibility.objects.create(channel=channel, location=location, group=group)
        except IntegrityError:
            target = location.code if location is not None else group.code if group is not None else ""
            raise Conflict(f"{channel.code} already sees {target}.", code="visibility_exists",
                           details={"location" if location else "group": ["Already visible."]}) from None
        outbox_for_locations(_rule_locations(rule), "visibility")
    return rule


def channel_visibility_remove(*, rule: ChannelVisibility) -> None:
    with transaction.atomic():
        locations = _rule_locations(rule)
        ChannelVisibility.objects.filter(pk=rule.pk).delete()
        outbox_for_locations(locations, "visibility")


def location_group_set_locations(*, group: LocationGroup, locations: Iterable[Location]) -> None:
    """Replace a group's members; SKUs at every location that joined or left are republished."""
    new = {loc.pk for loc in locations}
    with transaction.atomic():
        old = set(group.locations.values_list("id", flat=True))
        group.locations.set(list(new))
        if old ^ new and ChannelVisibility.objects.filter(group=group).exists():
            outbox_for_locations(old ^ new, "visibility")


def channel_quota_set(*, channel: Channel, min_share_percent: Decimal | float | str, product: Product | None = None,
                      is_active: bool = True) -> ChannelQuota:
    """Keep at least this share of a SKU's pool (every SKU when ``product`` is None) for ``channel``."""
    try:
        share = Decimal(str(min_share_percent))
    except (InvalidOperation, ValueError):
        share = None
    if share is None or not Decimal(0) <= share <= Decimal(100):
        raise ValidationFailed(f"min_share_percent must be between 0 and 100, got {min_share_percent!r}.",
                               code="invalid_share", details={"min_share_percent": ["Between 0 and 100."]})
    with transaction.atomic():
        quota, _ = ChannelQuota.objects.update_or_create(
            channel=channel, product=product, defaults={"min_share_percent": share, "is_active": is_active}
        )
        _outbox_for_quota(product)
    return quota


def channel_quota_delete(*, quota: ChannelQuota) -> None:
    with transaction.atomic():
        product = quota.product
        ChannelQuota.objects.filter(pk=quota.pk).delete()
        _outbox_for_quota(product)


def _outbox_for_quota(product: Product | None) -> None:
    if product is not None:
        outbox_record(product_ids=[product.pk], reason="quota")
    else:
        outbox_record(product_ids=StockLevel.objects.values_list("product_id", flat=True).distinct(), reason="quota")


# Channel settings that move what the channel may sell: changing one republishes its ATP.
ATP_SETTINGS = frozenset({"allows_dropship", "lag_buffer_enabled", "accuracy_haircut_enabled", "accuracy_threshold_percent",
                          "accuracy_haircut_percent", "sync_mode", "sync_window_seconds", "sync_interval_seconds", "is_active"})


def channel_atp_settings_update(*, channel: Channel, **changes: Any) -> Channel:
    """Change a channel's ATP-relevant settings (drop-ship, refinements, sync period) and republish
    every SKU it can sell."""
    unknown = sorted(set(changes) - ATP_SETTINGS)
    if unknown:
        raise ValidationFailed(f"Not an ATP setting: {', '.join(unknown)}.", code="invalid", details={k: ["Unknown."] for k in unknown})
    pct = changes.get("accuracy_haircut_percent")
    if pct is not None and not (isinstance(pct, int) and 0 <= pct <= 100):
        raise ValidationFailed("accuracy_haircut_percent must be 0–100.", code="invalid", details={"accuracy_haircut_percent": ["0–100."]})
    with transaction.atomic():
        if not Channel.objects.filter(pk=channel.pk).exists():
            raise NotFound("Unknown channel.", code="unknown_channel")
        for key, value in changes.items():
            setattr(channel, key, value)
        channel.save()
        channel_republish(channel=channel)
    return channel


def channel_republish(*, channel: Channel) -> int:
    """Outbox rows for every SKU whose ATP the channel's settings can move: the SKUs stocked where
    the channel sells (``channel_location_ids``), or every stocked SKU when the channel protects a
    quota (its quota, on or off with the channel, moves the other channels' ATP). Returns how many SKUs."""
    if ChannelQuota.objects.filter(channel=channel, is_active=True).exists():
        ids = list(StockLevel.objects.values_list("product_id", flat=True).distinct())
        outbox_record(product_ids=ids, reason="channel_settings")
        return len(ids)
    return outbox_for_locations(channel_location_ids(channel=channel), "channel_settings")


def channel_delete(*, channel: Channel) -> None:
    """Delete a channel that has no history (``channel_has_history``): never synced, never ordered.
    One with history is refused (``channel_has_history``, 409): deactivate it instead
    (``channel_atp_settings_update(is_active=False)``). The SKUs its quotas and visibility touched
    are republished."""
    with transaction.atomic():
        locked = Channel.objects.select_for_update(of=("self",)).filter(pk=channel.pk).first()
        if locked is None:
            raise NotFound("Unknown channel.", code="unknown_channel")
        if channel_has_history(channel=locked):
            raise Conflict(f"Channel {locked.code} has history (orders, holds or sync messages): deactivate it instead of "
                           "deleting it.", code="channel_has_history")
        channel_republish(channel=locked)
        locked.delete()
