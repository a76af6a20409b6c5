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


def _count(n: int) -> str:
    return "1 unit" if n == 1 else f"{n} units"


def _units(units: int, text: str, **fmt: object) -> str:
    """One deduction as a sentence: "5 units kept back by …"."""
    return f"{_count(units)} {text.format(**fmt)}."


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
        lines = [_units(comp.available, "free to sell at the {n} location(s) {code} sells from, after what is reserved for "
                        "orders and what each location keeps back as its own safety stock", n=len(ctx.visible_pct),
                        code=channel.code)]
        cut = [codes.get(i, str(i)) for i, pct in ctx.visible_pct.items() if pct < 100]
        if channel.accuracy_haircut_enabled:
            lines.append(_units(
                comp.haircut, "not offered because the stock records of {where} were less than {threshold}% right in "
                "the last {days} days of counts (their stock counts at {pct}%)", where=", ".join(cut) or "no location",
                threshold=channel.accuracy_threshold_percent, days=ACCURACY_DAYS, pct=100 - channel.accuracy_haircut_percent))
        policy = by_channel.get(channel.pk) if comp.buffer_source == "channel" else pool_policy if comp.buffer_source == "pool" else None
        if comp.buffer:
            rule = "this channel's" if comp.buffer_source == "channel" else "the pool"
            lines.append(
                f"{comp.buffer} units is {rule} safety stock for the SKU"
                f"{f' ({policy.explanation})' if policy else ''}; the locations already keep back "
                f"{comp.location_safety_stock}, so {_count(comp.extra_buffer)} more kept back here."
            )
        else:
            lines.append(f"No safety stock for this channel or the pool; the locations keep back {comp.location_safety_stock} "
                         f"unit(s) of their own (already left out above).")
        if ctx.quota_others:
            lines.append(_units(comp.quota, "protected for other channels by their quotas"))
        if channel.allows_dropship:
            lines.append(f"{_count(comp.virtual)} added from the drop-ship supplier's stock (sold here, shipped by the supplier).")
        if channel.lag_buffer_enabled:
            lines.append(_units(
                comp.lag_buffer, "held back for orders {code} may sell before its next update ({sold} sold in {days} days, "
                "updates every {secs} s)", code=channel.code, sold=comp.sold_in_window, days=VELOCITY_DAYS, secs=ctx.sync_seconds))
        lines.append(f"{channel.code} may sell {_count(comp.atp)} (ATP = {comp.atp}).")
        channel_layers.append(ChannelLayer(channel=channel, components=comp, explanation=lines, buffer_policy=policy))
    return AtpExplanation(
        product=product, as_of=now, locations=layers, channels=channel_layers,
        pool=pool_availability(product_ids=[product.pk]).get(product.pk), pool_policy=pool_policy,
        location_policy_sum=sum(p.effective_quantity for p in by_location.values()),
        pooling=pooling_effect(product=product),
    )
