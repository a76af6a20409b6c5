"""The one place that changes a stock row's buckets (on hand, damaged, quarantine): lock the row,
check the stock rules, apply the deltas, write the ledger rows with their balance after, and
the outbox row, in one transaction. Every movement, count and transfer goes through here.

Rules kept here and nowhere else:
- on-hand never goes below zero, nor below what is reserved (DB constraints back this up);
- every change of a bucket writes a ledger row with the balance after it; a ledger row is never
  changed once written (the ledger is append-only);
- every change writes an outbox row for the SKU, in the same transaction;
- a stock row is locked (``SELECT … FOR UPDATE OF`` that row only) before a read-then-write;
- idempotency by ``(source, external_id)``: the same id with the same content replays the first
  answer, with other content it is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.models import User as AuthUser
from django.db import IntegrityError, transaction
from django.db.models import F, Model
from django.utils import timezone

from omni.errors import Conflict, InsufficientStock, NotFound, ValidationFailed
from omni.limits import MAX_QUANTITY, MAX_STOCK

from ..models import Bucket, Location, MovementReason, Product, StockLevel, StockMovement
from ..outbox import outbox_record

# Who acts, as Django hands it over (``request.user``): a user, or anonymous (recorded as no one).
Actor = AuthUser | AnonymousUser
# Movements that bring units to a stock row: they set its ``last_received_at``.
ARRIVALS = frozenset({MovementReason.RECEIPT, MovementReason.TRANSFER_IN})


@dataclass(frozen=True)
class MovementResult:
    """What a movement did: the stock row after it, its ledger rows, and whether it was a replay
    of an earlier request with the same ``(source, external_id)`` (then nothing changed)."""

    stock_level: StockLevel
    movements: list[StockMovement]
    replayed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    bucket: str
    delta: int
    reason: str


def validate_quantity(value: Any, *, field_name: str = "quantity", allow_negative: bool = False, allow_zero: bool = False) -> int:
    """Quantities are whole units: an int (not a bool, not 1.5, not "3"), at most ``MAX_QUANTITY`` in size."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(
            f"{field_name} must be a whole number of units, got {value!r}.",
            code="invalid_quantity",
            details={field_name: ["Must be an integer."]},
        )
    if abs(value) > MAX_QUANTITY:
        raise ValidationFailed(
            f"{field_name} must be at most {MAX_QUANTITY:,} units in size, got {value}.", code="quantity_out_of_range",
            details={field_name: [f"At most {MAX_QUANTITY} in size."]},
        )
    if value == 0 and not allow_zero:
        raise ValidationFailed(f"{field_name} must not be zero.", code="invalid_quantity", details={field_name: ["Must not be zero."]})
    if value < 0 and not allow_negative:
        raise ValidationFailed(
            f"{field_name} must be positive, got {value}.", code="invalid_quantity", details={field_name: ["Must be positive."]}
        )
    return value


def require(instance: Any, model: type[Model], what: str) -> None:
    if not isinstance(instance, model) or instance.pk is None:
        raise NotFound(f"Unknown {what}.", code=f"unknown_{what}", details={what: ["Does not exist."]})


def fingerprint_of(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def actor_or_none(actor: Actor | None) -> AuthUser | None:
    return actor if isinstance(actor, AbstractBaseUser) and actor.is_authenticated else None


def duplicate_external_id(*, source: str, external_id: str, what: str = "movement") -> Conflict:
    return Conflict(
        f"external_id {external_id!r} from {source!r} was already used for a different {what}.",
        code="duplicate_external_id",
        details={"external_id": ["Already used with different content."]},
    )


def lock_level(*, product: Product, location: Location) -> StockLevel:
    """The stock row for (product, location), created if missing, locked for this transaction
    (the row only: never its product or location)."""
    rows = StockLevel.objects.select_for_update(of=("self",))
    level = rows.filter(product=product, location=location).first()
    if level is not None:
        return level
    StockLevel.objects.bulk_create([StockLevel(product=product, location=location)], ignore_conflicts=True)
    return rows.get(product=product, location=location)


def replay(*, source: str, external_id: str, fingerprint: str) -> MovementResult | None:
    """The first answer to this ``(source, external_id)``, or None when it is new."""
    movements = list(
        StockMovement.objects.filter(source=source, external_id=external_id).select_related("stock_level").order_by("line")
    )
    if not movements:
        return None
    if movements[0].fingerprint != fingerprint:
        raise duplicate_external_id(source=source, external_id=external_id)
    level = movements[0].stock_level
    level.refresh_from_db()
    return MovementResult(stock_level=level, movements=movements, replayed=True)


def apply_changes(
    *, level: StockLevel, changes: Sequence[Change], source: str, actor: Actor | None, external_id: str, fingerprint: str,
    reference: str, note: str,
) -> list[StockMovement]:
    """Apply bucket deltas to a locked stock row, write the ledger and the outbox."""
    balances = {b: getattr(level, b) for b in Bucket.values}
    for change in changes:
        balances[change.bucket] += change.delta
    sku, loc = level.product.sku, level.location.code
    if balances[Bucket.ON_HAND] < 0:
        raise InsufficientStock(
            f"Not enough stock of {sku} at {loc}: {level.on_hand} on hand, "
            f"{-sum(c.delta for c in changes if c.bucket == Bucket.ON_HAND)} requested.",
            details={"sku": sku, "location": loc, "on_hand": level.on_hand},
        )
    if balances[Bucket.ON_HAND] < level.reserved:
        raise InsufficientStock(
            f"{sku} at {loc}: only {level.on_hand - level.reserved} of {level.on_hand} units are unreserved; "
            f"{level.reserved} are held for orders.",
            code="stock_reserved",
            details={"sku": sku, "location": loc, "on_hand": level.on_hand, "reserved": level.reserved},
        )
    for bucket, balance in balances.items():
        if balance > MAX_STOCK:
            raise ValidationFailed(
                f"{sku} at {loc}: {bucket} would reach {balance} units, above the limit of {MAX_STOCK:,}; nothing was changed.",
                code="stock_out_of_range", details={"quantity": [f"{bucket} may hold at most {MAX_STOCK} units."]},
            )
    for bucket in (Bucket.DAMAGED, Bucket.QUARANTINE):
        if balances[bucket] < 0:
            raise InsufficientStock(
                f"{sku} at {loc}: only {getattr(level, bucket)} units in {bucket}.", details={"sku": sku, "location": loc}
            )

    deltas: dict[str, int] = {}
    for change in changes:
        deltas[change.bucket] = deltas.get(change.bucket, 0) + change.delta
    now = timezone.now()
    arrived: dict[str, Any] = {}
    if any(c.bucket == Bucket.ON_HAND and c.delta > 0 and c.reason in ARRIVALS for c in changes):
        arrived["last_received_at"] = now  # the time of the ledger row written below (the stock's age)
    StockLevel.objects.filter(pk=level.pk).update(**{b: F(b) + d for b, d in deltas.items()}, updated_at=now, **arrived)
    if arrived:
        level.last_received_at = now

    running = {b: getattr(level, b) for b in Bucket.values}
    movements = []
    for line, change in enumerate(changes):
        running[change.bucket] += change.delta
        movements.append(
            StockMovement(
                stock_level=level,
                bucket=change.bucket,
                reason=change.reason,
                quantity=change.delta,
                balance_after=running[change.bucket],
                source=source,
                actor=actor_or_none(actor),
                external_id=external_id,
                line=line,
                fingerprint=fingerprint if line == 0 else "",
                reference=reference,
                note=note,
            )
        )
    StockMovement.objects.bulk_create(movements)
    for name, value in running.items():
        setattr(level, name, value)
    outbox_record(product_ids=[level.product_id], location_id=level.location_id, reason=changes[0].reason)
    return movements


@dataclass(frozen=True)
class Operation:
    """A checked movement request, ready to apply (``operation_prepare``)."""

    product: Product
    location: Location
    changes: Sequence[Change]
    source: str
    actor: Actor | None
    external_id: str
    fingerprint: str
    reference: str
    note: str


def operation_prepare(
    *, kind: str, product: Product, location: Location, changes: Sequence[Change], source: str, actor: Actor | None,
    external_id: str, reference: str = "", note: str = "", payload: dict[str, Any] | None = None,
) -> Operation | MovementResult:
    """Check a movement request; a ``MovementResult`` (a replay) when its external id was applied before."""
    require(product, Product, "sku")
    require(location, Location, "location")
    if not location.is_active:
        raise ValidationFailed(f"Location {location.code} is inactive.", code="inactive_location", details={"location": ["Inactive."]})
    source = (source or "omni")[:64]
    external_id = (external_id or "").strip()
    fingerprint = ""
    if external_id:
        fingerprint = fingerprint_of(
            {"kind": kind, "sku": product.sku, "location": location.code, "changes": [(c.bucket, c.delta) for c in changes],
             **(payload or {})}
        )
        found = replay(source=source, external_id=external_id, fingerprint=fingerprint)
        if found is not None:
            return found
    return Operation(product, location, changes, source, actor, external_id, fingerprint, reference, note)


def operation_apply(op: Operation, *, reference: str | None = None) -> MovementResult:
    """Apply a prepared movement. Must run inside ``transaction.atomic()``."""
    level = lock_level(product=op.product, location=op.location)
    level.product, level.location = op.product, op.location
    movements = apply_changes(
        level=level, changes=op.changes, source=op.source, actor=op.actor, external_id=op.external_id,
        fingerprint=op.fingerprint, reference=op.reference if reference is None else reference, note=op.note,
    )
    return MovementResult(stock_level=level, movements=movements)


def replay_after_race(op: Operation) -> MovementResult | None:
    """After an ``IntegrityError``: a concurrent request with the same external id won; its answer."""
    if not op.external_id:
        return None
    return replay(source=op.source, external_id=op.external_id, fingerprint=op.fingerprint)


def operate(
    *, kind: str, product: Product, location: Location, changes: Sequence[Change], source: str, actor: Actor | None,
    external_id: str, reference: str = "", note: str = "", payload: dict[str, Any] | None = None,
) -> MovementResult:
    """Prepare and apply one movement in its own transaction; idempotent by external id."""
    op = operation_prepare(kind=kind, product=product, location=location, changes=changes, source=source, actor=actor,
                           external_id=external_id, reference=reference, note=note, payload=payload)
    if isinstance(op, MovementResult):
        return op
    try:
        with transaction.atomic():
            return operation_apply(op)
    except IntegrityError:
        found = replay_after_race(op)
        if found is not None:
            return found
        raise
