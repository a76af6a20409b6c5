"""The ATP explorer's read model: for one SKU, every layer per location and per channel, with each
deduction explained. Built from the same selectors the API uses (nothing recomputed differently)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from inventory.models import Location, LocationKind, Product

from allocation.accuracy.selectors import ACCURACY_DAYS, LocationAccuracy, location_accuracy
from allocation.channels.models import Channel
from allocation.safety_stock.demand import PoolingEffect, pooling_effect
from allocation.safety_stock.models import SafetyStockPolicy, SafetyStockScope

from .atp import AtpComponents, atp_components_for_contexts
from .context import channel_contexts
from .locations import LocationAvailability, PoolAvailability, location_availability, pool_availability
from .sql import VELOCITY_DAYS


@dataclass(frozen=True)
class LocationLayer:
    location: Location
    stock: LocationAvailability | None
    accuracy: LocationAccuracy | None
    policy: SafetyStockPolicy | None
    visible_to: list[str]  # channel codes, with the haircut percent where it applies

    @property
    def is_supplier(self) -> bool:
        return self.location.kind == LocationKind.SUPPLIER


@dataclass(frozen=True)
class ChannelLayer:
    channel: Channel
    components: AtpComponents
    explanation: list[str]
    buffer_policy: SafetyStockPolicy | None


@dataclass(frozen=True)
class AtpExplanation:
    product: Product
    as_of: datetime
    locations: list[LocationLayer]
    channels: list[ChannelLayer]
    pool: PoolAvailability | None
    pool_policy: SafetyStockPolicy | None
    location_policy_sum: int
    pooling: PoolingEffect


def _seen_by(ctx, location_id: int) -> str:
    """"web", or "web (counts 50%)" where the accuracy haircut applies, or "web (virtual)" for suppliers."""
    pct = ctx.visible_pct.get(location_id, ctx.supplier_pct.get(location_id, 100))
    notes = (["virtual"] if location_id in ctx.supplier_pct else []) + ([f"counts {pct}%"] if pct < 100 else [])
    return ctx.channel.code + (f" ({', '.join(notes)})" if notes else "")


def atp_explain(*, product: Product, now: datetime | None = None) -> AtpExplanation:
    now = now or timezone.now()
    channels = list(Channel.objects.filter(is_active=True).order_by("code"))
    contexts = channel_contexts(channels=channels, now=now)
    locations = list(Location.objects.filter(is_active=True).order_by("kind", "code"))
    stock = {row.location_id: row for row in location_availability(product_ids=[product.pk])}
    accuracy = location_accuracy(now=now)
    policies = list(SafetyStockPolicy.objects.filter(product=product).select_related("location", "channel"))
    by_location = {p.location_id: p for p in policies if p.scope == SafetyStockScope.LOCATION}
    by_channel = {p.channel_id: p for p in policies if p.scope == SafetyStockScope.CHANNEL}
    pool_policy = next((p for p in policies if p.scope == SafetyStockScope.POOL), None)
    codes = {loc.pk: loc.code for loc in locations}

    layers = [
        LocationLayer(
            location=loc, stock=stock.get(loc.pk), accuracy=accuracy.get(loc.pk), policy=by_location.get(loc.pk),
            visible_to=[_seen_by(contexts[c.pk], loc.pk) for c in channels
                        if loc.pk in contexts[c.pk].visible_pct or loc.pk in contexts[c.pk].supplier_pct],
        )
        for loc in locations
    ]
    channel_layers = []
    components = atp_components_for_contexts(contexts=[contexts[c.pk] for c in channels], product_ids=[product.pk],
                                             now=now) if channels else {}
    for channel in channels:
        ctx = contexts[channel.pk]
        comp = components.get(channel.pk, {}).get(product.pk)
        if comp is None:
            continue
        lines = [f"Available at {len(ctx.visible_pct)} visible location(s) (on hand − reserved − location safety stock, ≥ 0): {comp.available}"]
        cut = [codes.get(i, str(i)) for i, pct in ctx.visible_pct.items() if pct < 100]
        if channel.accuracy_haircut_enabled:
            lines.append(
                f"Accuracy haircut: −{comp.haircut} (stock at {', '.join(cut) or 'no location'} below "
                f"{channel.accuracy_threshold_percent}% accuracy over {ACCURACY_DAYS} days counts at {100 - channel.accuracy_haircut_percent}%)"
            )
        policy = by_channel.get(channel.pk) if comp.buffer_source == "channel" else pool_policy if comp.buffer_source == "pool" else None
        if comp.buffer:
            lines.append(
                f"Safety-stock buffer {comp.buffer} from the SKU × {comp.buffer_source} policy"
                f"{f' ({policy.explanation})' if policy else ''}; location floors already deducted here: "
                f"{comp.location_safety_stock} → −{comp.extra_buffer}"
            )
        else:
            lines.append(f"No channel or pool buffer; location floors deducted: {comp.location_safety_stock}")
        if ctx.quota_others:
            lines.append(f"Quota protection for other channels: −{comp.quota}")
        if channel.allows_dropship:
            lines.append(f"Drop-ship supplier (virtual) stock: +{comp.virtual}")
        if channel.lag_buffer_enabled:
            lines.append(
                f"Lag buffer: {comp.sold_in_window} sold by {channel.code} in {VELOCITY_DAYS} days, "
                f"published every {ctx.sync_seconds}s → −{comp.lag_buffer}"
            )
        lines.append(f"ATP = {comp.atp}")
        channel_layers.append(ChannelLayer(channel=channel, components=comp, explanation=lines, buffer_policy=policy))
    return AtpExplanation(
        product=product, as_of=now, locations=layers, channels=channel_layers,
        pool=pool_availability(product_ids=[product.pk]).get(product.pk), pool_policy=pool_policy,
        location_policy_sum=sum(p.effective_quantity for p in by_location.values()),
        pooling=pooling_effect(product=product),
    )
