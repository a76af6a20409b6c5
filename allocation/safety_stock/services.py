"""Writes for safety stock: policies, overrides, modifiers, and the (nightly) recompute.

Every write that can move ATP writes an outbox row for the SKUs whose effective safety stock
changed, in the same transaction (``inventory.outbox.outbox_record``), so channel sync republishes.
The recompute is set-based: demand is aggregated in SQL (one grouped query per scope), the
formula runs over the result rows, and the changed policies are written with ``omni.bulk.bulk_update_fields``
(one plain UPDATE per row through ``executemany``: ``bulk_update``'s CASE expressions cost most of a
minute for the demo's 16,400 policies), a batch at a time under the rows' locks (taken in primary-key order), so it never overwrites a
merchandiser's concurrent change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypedDict

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from allocation.channels.models import Channel
from inventory.models import Location, Product
from inventory.outbox import outbox_record
from omni.bulk import bulk_update_fields
from omni.errors import NotFound, ValidationFailed

from . import formulas
from .demand import demand_sums as _demand_sums
from .demand import window as _window
from .models import SafetyStockMethod, SafetyStockModifier, SafetyStockModifierKind, SafetyStockPolicy, SafetyStockScope


@dataclass(frozen=True)
class RecomputeResult:
    policies: int
    changed: int
    product_ids: list[int]


# --------------------------------------------------------------------------------------------
# Demand statistics (set-based)
# --------------------------------------------------------------------------------------------


def _modifiers() -> list[formulas.ModifierView]:
    return [
        formulas.ModifierView(
            id=m.id, name=m.name, kind=m.kind, percent=m.percent, min_quantity=m.min_quantity, product_id=m.product_id,
            season=m.season, starts_on=m.starts_on, ends_on=m.ends_on,
        )
        for m in SafetyStockModifier.objects.filter(is_active=True)
    ]


REFRESH_BATCH = 500  # policies re-read under their row locks and written per short transaction

_DemandSums = dict[tuple, tuple[float, float]]


@dataclass
class _Demand:
    """Daily demand sums (Σq, Σq²) per scope key over the window, for the statistical policies."""

    days: int
    products: frozenset[tuple[str, int]]  # (scope, product id) pairs the sums were loaded for
    by_location: _DemandSums
    by_channel: _DemandSums
    by_pool: _DemandSums

    @classmethod
    def load(cls, *, policies: list[SafetyStockPolicy], today: date, days: int) -> _Demand:
        statistical = [p for p in policies if p.method == SafetyStockMethod.STATISTICAL]
        sums: dict[str, _DemandSums] = {scope: {} for scope in SafetyStockScope.values}
        if statistical:
            start, end = _window(today, days)
            stat_products = sorted({p.product_id for p in statistical})
            keys: dict[str, dict[str, F]] = {
                SafetyStockScope.LOCATION: {"pid": F("stock_level__product_id"), "lid": F("stock_level__location_id")},
                SafetyStockScope.CHANNEL: {"pid": F("stock_level__product_id"), "src": F("source")},
                SafetyStockScope.POOL: {"pid": F("stock_level__product_id")},
            }
            for scope in {p.scope for p in statistical}:
                sums[scope] = _demand_sums(keys=keys[scope], product_ids=stat_products, start=start, end=end)
        return cls(days=days, products=frozenset((p.scope, p.product_id) for p in statistical),
                   by_location=sums[SafetyStockScope.LOCATION], by_channel=sums[SafetyStockScope.CHANNEL],
                   by_pool=sums[SafetyStockScope.POOL])

    def covers(self, policy: SafetyStockPolicy) -> bool:
        return (policy.scope, policy.product_id) in self.products

    def sums(self, policy: SafetyStockPolicy, channel_code: str | None) -> tuple[float, float]:
        if policy.scope == SafetyStockScope.LOCATION:
            return self.by_location.get((policy.product_id, policy.location_id), (0.0, 0.0))
        if policy.scope == SafetyStockScope.CHANNEL:
            return self.by_channel.get((policy.product_id, channel_code), (0.0, 0.0))
        return self.by_pool.get((policy.product_id,), (0.0, 0.0))


class _ProductFacts(TypedDict):
    id: int
    season: str
    launched_on: date | None
    lead_time_days: int


def _recompute(policy: SafetyStockPolicy, *, product: _ProductFacts, demand: _Demand | None, channel_code: str | None,
               modifiers: list[formulas.ModifierView], today: date) -> None:
    """Derive one policy's σ, computed and effective quantity in place (no database)."""
    if policy.method == SafetyStockMethod.STATISTICAL:
        if demand is not None and demand.covers(policy):
            total, squares = demand.sums(policy, channel_code)
            sigma = formulas.daily_sigma(total=total, total_of_squares=squares, days=demand.days)
            lead = policy.lead_time_days if policy.lead_time_days is not None else product["lead_time_days"]
            policy.demand_sigma = round(sigma, 4)
            policy.demand_days = demand.days
            policy.computed_quantity = formulas.statistical_quantity(
                service_level=policy.service_level, sigma=sigma, lead_time_days=lead
            )
            policy.computed_at = timezone.now()
        base = policy.computed_quantity or 0
        label = f"Z({policy.service_level.normalize():f}%)×σ {policy.demand_sigma or 0:g}×√L"
    else:
        base, label = policy.quantity, "static"
    policy.effective_quantity, policy.explanation = formulas.effective_quantity(
        base=base, override=policy.override_quantity, modifiers=modifiers, product_id=policy.product_id,
        season=product["season"], launched_on=product["launched_on"], today=today, base_label=label,
    )


def _refresh(*, policies: list[SafetyStockPolicy], today: date, days: int, with_statistics: bool) -> list[int]:
    """Recompute effective quantities of these policies; write the changed ones and their outbox rows.
    Returns the product ids whose effective safety stock changed.

    Demand is aggregated once, up front (reads only). Then, batch by batch in primary-key order, the
    policies are read again under their row locks and written in the same short transaction: a
    merchandiser's override or change committed while a long recompute runs is read, not overwritten
    (and one arriving during a batch waits for it, then applies on top)."""
    ids = sorted({p.pk for p in policies if p.pk})
    if not ids:
        return []
    demand = _Demand.load(policies=policies, today=today, days=days) if with_statistics else None
    modifiers = _modifiers()
    moved: set[int] = set()
    for start in range(0, len(ids), REFRESH_BATCH):
        with transaction.atomic():
            batch = list(SafetyStockPolicy.objects.select_for_update(of=("self",)).filter(pk__in=ids[start:start + REFRESH_BATCH])
                         .order_by("pk"))
            products = {p["id"]: p for p in Product.objects.filter(id__in={p.product_id for p in batch})
                        .values("id", "season", "launched_on", "lead_time_days")}
            codes = dict(Channel.objects.filter(id__in={p.channel_id for p in batch if p.channel_id}).values_list("id", "code"))
            changed: list[SafetyStockPolicy] = []
            batch_moved: set[int] = set()
            for policy in batch:
                before = (policy.effective_quantity, policy.computed_quantity, policy.demand_sigma, policy.explanation)
                _recompute(policy, product=products[policy.product_id], demand=demand, channel_code=codes.get(policy.channel_id) if policy.channel_id else None,
                           modifiers=modifiers, today=today)
                if (policy.effective_quantity, policy.computed_quantity, policy.demand_sigma, policy.explanation) != before:
                    changed.append(policy)
                    if policy.effective_quantity != before[0]:
                        batch_moved.add(policy.product_id)
            bulk_update_fields(
                SafetyStockPolicy, changed,
                ["effective_quantity", "computed_quantity", "demand_sigma", "demand_days", "explanation", "computed_at"],
            )
            outbox_record(product_ids=sorted(batch_moved), reason="safety_stock")
        moved |= batch_moved
    return sorted(moved)


def safety_stock_recompute(*, today: date | None = None, days: int = formulas.DEFAULT_WINDOW_DAYS,
                           product_ids: Iterable[int] | None = None) -> RecomputeResult:
    """Recompute σ and statistical safety stock from the ledger, and every policy's effective quantity
    (modifiers are dated). Nightly; safe to run twice (a second run changes nothing)."""
    if days < 2:
        raise ValidationFailed("The demand window needs at least 2 days.", code="invalid_window", details={"days": ["At least 2."]})
    today = today or timezone.now().date()
    qs = SafetyStockPolicy.objects.all()
    if product_ids is not None:
        qs = qs.filter(product_id__in=list(product_ids))
    policies = list(qs)
    moved = _refresh(policies=policies, today=today, days=days, with_statistics=True)
    return RecomputeResult(policies=len(policies), changed=len(moved), product_ids=moved)


# --------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------


def _decimal(value: Any, field: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"{field} must be a number, got {value!r}.", code="invalid", details={field: ["Not a number."]}) from None


def _non_negative_int(value: Any, field: str, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationFailed(f"{field} must be a whole number ≥ 0, got {value!r}.", code="invalid_quantity",
                               details={field: ["Must be a whole number ≥ 0."]})
    return value


@dataclass(frozen=True)
class PolicyInput:
    """A validated policy request (what ``safety_stock_policy_validate`` returns)."""

    quantity: int
    override_quantity: int | None
    lead_time_days: int | None
    service_level: Decimal


def safety_stock_policy_validate(
    *, product: Product | None, scope: str, location: Location | None = None, channel: Channel | None = None,
    method: str = SafetyStockMethod.STATIC, quantity: Any = 0, service_level: Any = Decimal("95"),
    lead_time_days: Any = None, override_quantity: Any = None,
) -> PolicyInput:
    """Check a policy request without writing anything (admin forms and imports call this first)."""
    if product is None or getattr(product, "pk", None) is None:
        raise NotFound("Unknown SKU.", code="unknown_sku", details={"product": ["Does not exist."]})
    if scope not in SafetyStockScope.values:
        raise ValidationFailed(f"Unknown scope {scope!r}.", code="invalid_scope", details={"scope": [f"One of {SafetyStockScope.values}."]})
    if method not in SafetyStockMethod.values:
        raise ValidationFailed(f"Unknown method {method!r}.", code="invalid_method", details={"method": [f"One of {SafetyStockMethod.values}."]})
    needs = {"location": (location, channel, "location"), "channel": (channel, location, "channel")}
    if scope in needs:
        required, forbidden, name = needs[scope]
        if required is None:
            raise ValidationFailed(f"A {scope} policy needs a {name}.", code="scope_key_missing", details={name: ["Required."]})
        if forbidden is not None:
            other = "channel" if name == "location" else "location"
            raise ValidationFailed(f"A {scope} policy takes no {other}.", code="scope_key_extra", details={other: ["Must be empty."]})
    elif location is not None or channel is not None:
        raise ValidationFailed("A pool policy takes neither location nor channel.", code="scope_key_extra",
                               details={"location" if location is not None else "channel": ["Must be empty."]})
    quantity = _non_negative_int(quantity, "quantity")
    override_quantity = _non_negative_int(override_quantity, "override_quantity", allow_none=True)
    lead_time_days = _non_negative_int(lead_time_days, "lead_time_days", allow_none=True)
    level = _decimal(service_level, "service_level")
    if not Decimal(50) < level < Decimal(100):
        raise ValidationFailed(f"service_level must be between 50 and 100 (exclusive), got {level}.", code="invalid_service_level",
                               details={"service_level": ["Between 50 and 100, e.g. 95."]})
    return PolicyInput(quantity=quantity, override_quantity=override_quantity, lead_time_days=lead_time_days, service_level=level)


def safety_stock_policy_set(
    *, product: Product, scope: str, location: Location | None = None, channel: Channel | None = None,
    method: str = SafetyStockMethod.STATIC, quantity: int = 0, service_level: Decimal | float | str = Decimal("95"),
    lead_time_days: int | None = None, override_quantity: int | None = None, actor: Any = None, today: date | None = None,
) -> SafetyStockPolicy:
    """Create or replace the policy of one scope key (SKU × location, SKU × channel, or SKU pool)."""
    checked = safety_stock_policy_validate(
        product=product, scope=scope, location=location, channel=channel, method=method, quantity=quantity,
        service_level=service_level, lead_time_days=lead_time_days, override_quantity=override_quantity,
    )
    quantity, override_quantity, lead_time_days, level = (
        checked.quantity, checked.override_quantity, checked.lead_time_days, checked.service_level
    )
    key = {"product": product, "scope": scope, "location": location if scope == "location" else None,
           "channel": channel if scope == "channel" else None}
    with transaction.atomic():
        policy = SafetyStockPolicy.objects.select_for_update(of=("self",)).filter(**key).first() or SafetyStockPolicy(**key)
        policy.method, policy.quantity, policy.service_level = method, quantity, level
        policy.lead_time_days, policy.override_quantity = lead_time_days, override_quantity
        policy.updated_by = actor if getattr(actor, "is_authenticated", False) else None
        if method == SafetyStockMethod.STATIC:
            policy.computed_quantity = policy.demand_sigma = None
        policy.save()
        # _refresh writes the outbox row when the effective quantity moved
        _refresh(policies=[policy], today=today or timezone.now().date(), days=formulas.DEFAULT_WINDOW_DAYS,
                 with_statistics=method == SafetyStockMethod.STATISTICAL)
        policy.refresh_from_db()
    return policy


def safety_stock_policies_set_at_locations(
    *, product: Product, locations: Sequence[Location], quantity: int, actor: Any = None, today: date | None = None,
) -> list[SafetyStockPolicy]:
    """``safety_stock_policy_set(scope="location", method="static", quantity=…)`` for one SKU at
    many locations (a chain-wide floor, the simulation's set-up), in a few queries instead of a
    lock, a save, a recompute and a re-read each: the same policies, the same effective
    quantities; one outbox row for the SKU when any of them moved (channels re-read the SKU)."""
    for location in locations:  # everything checked before anything is written
        checked = safety_stock_policy_validate(product=product, scope=SafetyStockScope.LOCATION, location=location,
                                               method=SafetyStockMethod.STATIC, quantity=quantity)
    if not locations:
        return []
    by_location = {loc.pk: loc for loc in locations}
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        existing = {p.location_id: p for p in SafetyStockPolicy.objects.select_for_update(of=("self",)).filter(
            product=product, scope=SafetyStockScope.LOCATION, location_id__in=list(by_location)).order_by("pk")}
        fields = {"method": SafetyStockMethod.STATIC, "quantity": checked.quantity, "service_level": checked.service_level,
                  "lead_time_days": checked.lead_time_days, "override_quantity": checked.override_quantity,
                  "updated_by": user, "computed_quantity": None, "demand_sigma": None}
        for policy in existing.values():
            for name, value in fields.items():
                setattr(policy, name, value)
            policy.updated_at = timezone.now()
        SafetyStockPolicy.objects.bulk_update(list(existing.values()), [*fields, "updated_at"])
        SafetyStockPolicy.objects.bulk_create([
            SafetyStockPolicy(product=product, scope=SafetyStockScope.LOCATION, location=loc, channel=None, **fields)
            for pk, loc in by_location.items() if pk not in existing])
        policies = list(SafetyStockPolicy.objects.filter(product=product, scope=SafetyStockScope.LOCATION,
                                                         location_id__in=list(by_location)).order_by("pk"))
        _refresh(policies=policies, today=today or timezone.now().date(), days=formulas.DEFAULT_WINDOW_DAYS, with_statistics=False)
        return list(SafetyStockPolicy.objects.filter(pk__in=[p.pk for p in policies]).order_by("pk"))


def safety_stock_override(*, policy: SafetyStockPolicy, quantity: int | None, actor: Any = None,
                          today: date | None = None) -> SafetyStockPolicy:
    """A merchandiser sets (or, with ``None``, clears) the exact quantity a policy keeps back."""
    quantity = _non_negative_int(quantity, "override_quantity", allow_none=True)
    with transaction.atomic():
        policy = SafetyStockPolicy.objects.select_for_update(of=("self",)).get(pk=policy.pk)
        policy.override_quantity = quantity
        policy.updated_by = actor if getattr(actor, "is_authenticated", False) else None
        policy.save(update_fields=["override_quantity", "updated_by", "updated_at"])
        _refresh(policies=[policy], today=today or timezone.now().date(), days=formulas.DEFAULT_WINDOW_DAYS, with_statistics=False)
        policy.refresh_from_db()
    return policy


def safety_stock_policy_delete(*, policy: SafetyStockPolicy) -> None:
    with transaction.atomic():
        product_id, had = policy.product_id, policy.effective_quantity
        SafetyStockPolicy.objects.filter(pk=policy.pk).delete()
        if had:
            outbox_record(product_ids=[product_id], reason="safety_stock")


# --------------------------------------------------------------------------------------------
# Modifiers
# --------------------------------------------------------------------------------------------


def _affected_policies(*, product_id: int | None, season: str) -> list[SafetyStockPolicy]:
    qs = SafetyStockPolicy.objects.all()
    if product_id is not None:
        qs = qs.filter(product_id=product_id)
    if season:
        qs = qs.filter(product__season=season)
    return list(qs)


def safety_stock_modifier_validate(
    *, name: str, kind: str, percent: Any, min_quantity: Any, starts_on: date | None, ends_on: date | None
) -> tuple[Decimal, int]:
    """Check a modifier without writing; returns (percent, min_quantity)."""
    if kind not in SafetyStockModifierKind.values:
        raise ValidationFailed(f"Unknown modifier kind {kind!r}.", code="invalid_kind", details={"kind": [f"One of {SafetyStockModifierKind.values}."]})
    if not (name or "").strip():
        raise ValidationFailed("A modifier needs a name.", code="invalid", details={"name": ["Required."]})
    pct = _decimal(percent, "percent")
    if not Decimal(0) <= pct <= Decimal(1000) or (kind == "end_of_season" and pct > 100):
        raise ValidationFailed(f"percent out of range: {pct}.", code="invalid_percent", details={"percent": ["0–1000 (reductions 0–100)."]})
    min_quantity = _non_negative_int(min_quantity, "min_quantity")
    if starts_on is None:
        raise ValidationFailed("A modifier needs a start date.", code="invalid_dates", details={"starts_on": ["Required."]})
    if ends_on is not None and ends_on < starts_on:
        raise ValidationFailed("ends_on is before starts_on.", code="invalid_dates", details={"ends_on": ["Before starts_on."]})
    return pct, min_quantity


def safety_stock_modifier_set(
    *, name: str, kind: str, starts_on: date, ends_on: date | None = None, percent: Decimal | float | str = 0,
    min_quantity: int = 0, product: Product | None = None, season: str = "", is_active: bool = True,
    modifier: SafetyStockModifier | None = None, today: date | None = None,
) -> SafetyStockModifier:
    """Create (or change, when ``modifier`` is given) a dated modifier, and re-derive the effective
    safety stock of every policy it touches (before and after the change)."""
    pct, min_quantity = safety_stock_modifier_validate(
        name=name, kind=kind, percent=percent, min_quantity=min_quantity, starts_on=starts_on, ends_on=ends_on
    )
    with transaction.atomic():
        before = _affected_policies(product_id=modifier.product_id, season=modifier.season) if modifier and modifier.pk else []
        modifier = modifier or SafetyStockModifier()
        modifier.name, modifier.kind, modifier.percent, modifier.min_quantity = name.strip(), kind, pct, min_quantity
        modifier.product, modifier.season, modifier.starts_on, modifier.ends_on = product, season or "", starts_on, ends_on
        modifier.is_active = is_active
        modifier.save()
        policies = {p.pk: p for p in before + _affected_policies(product_id=product.pk if product else None, season=season)}
        _refresh(policies=list(policies.values()), today=today or timezone.now().date(), days=formulas.DEFAULT_WINDOW_DAYS,
                 with_statistics=False)
    return modifier


def safety_stock_modifier_delete(*, modifier: SafetyStockModifier, today: date | None = None) -> None:
    with transaction.atomic():
        policies = _affected_policies(product_id=modifier.product_id, season=modifier.season)
        SafetyStockModifier.objects.filter(pk=modifier.pk).delete()
        _refresh(policies=policies, today=today or timezone.now().date(), days=formulas.DEFAULT_WINDOW_DAYS, with_statistics=False)


__all__ = [
    "RecomputeResult", "safety_stock_recompute", "safety_stock_policy_set", "safety_stock_override",
    "safety_stock_policy_delete", "safety_stock_modifier_set", "safety_stock_modifier_delete",
]
