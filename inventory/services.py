"""Every write to stock. Each function is atomic, keyword-only, and idempotent by
``(source, external_id)`` when an external id is given.

Rules kept here and nowhere else:
- on-hand never goes below zero, nor below what is reserved (DB constraints back this up);
- every change of a bucket writes a ledger row with the balance after it;
- every change writes an outbox row for the SKU, in the same transaction;
- a stock row is locked (``SELECT … FOR UPDATE``) before a read-then-write; a reservation is a
  conditional ``UPDATE`` (first reserve wins); several rows are taken in primary-key order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from omni.errors import Conflict, IllegalTransition, InsufficientStock, NotFound, ValidationFailed

from .models import (
    Bucket,
    CycleCount,
    Location,
    MovementReason,
    Product,
    Reservation,
    ReservationStatus,
    StockLevel,
    StockMovement,
    Transfer,
    TransferStatus,
)
from .outbox import outbox_kick, outbox_record

User = AbstractBaseUser


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MovementResult:
    stock_level: StockLevel
    movements: list[StockMovement]
    replayed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Change:
    bucket: str
    delta: int
    reason: str


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def validate_quantity(value: Any, *, field_name: str = "quantity", allow_negative: bool = False, allow_zero: bool = False) -> int:
    """Quantities are whole units: an int (not a bool, not 1.5, not "3")."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(
            f"{field_name} must be a whole number of units, got {value!r}.",
            code="invalid_quantity",
            details={field_name: ["Must be an integer."]},
        )
    if value == 0 and not allow_zero:
        raise ValidationFailed(f"{field_name} must not be zero.", code="invalid_quantity", details={field_name: ["Must not be zero."]})
    if value < 0 and not allow_negative:
        raise ValidationFailed(
            f"{field_name} must be positive, got {value}.", code="invalid_quantity", details={field_name: ["Must be positive."]}
        )
    return value


def _require(instance: Any, model: type, what: str) -> None:
    if not isinstance(instance, model) or instance.pk is None:
        raise NotFound(f"Unknown {what}.", code=f"unknown_{what}", details={what: ["Does not exist."]})


def _fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# The one place that changes buckets
# --------------------------------------------------------------------------------------------


def _lock_level(*, product: Product, location: Location) -> StockLevel:
    """The stock row for (product, location), created if missing, locked for this transaction."""
    level = StockLevel.objects.select_for_update().filter(product=product, location=location).first()
    if level is not None:
        return level
    StockLevel.objects.bulk_create(
        [StockLevel(product=product, location=location)], ignore_conflicts=True
    )
    return StockLevel.objects.select_for_update().get(product=product, location=location)


def _replay(*, source: str, external_id: str, fingerprint: str) -> MovementResult | None:
    movements = list(
        StockMovement.objects.filter(source=source, external_id=external_id)
        .select_related("stock_level")
        .order_by("line")
    )
    if not movements:
        return None
    if movements[0].fingerprint != fingerprint:
        raise Conflict(
            f"external_id {external_id!r} from {source!r} was already used for a different movement.",
            code="duplicate_external_id",
            details={"external_id": ["Already used with different content."]},
        )
    level = movements[0].stock_level
    level.refresh_from_db()
    return MovementResult(stock_level=level, movements=movements, replayed=True)


def _apply_changes(
    *,
    level: StockLevel,
    changes: Sequence[_Change],
    source: str,
    actor: User | None,
    external_id: str,
    fingerprint: str,
    reference: str,
    note: str,
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
    for bucket in (Bucket.DAMAGED, Bucket.QUARANTINE):
        if balances[bucket] < 0:
            raise InsufficientStock(
                f"{sku} at {loc}: only {getattr(level, bucket)} units in {bucket}.", details={"sku": sku, "location": loc}
            )

    deltas: dict[str, int] = {}
    for change in changes:
        deltas[change.bucket] = deltas.get(change.bucket, 0) + change.delta
    StockLevel.objects.filter(pk=level.pk).update(**{b: F(b) + d for b, d in deltas.items()}, updated_at=timezone.now())

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
                actor=actor if actor is not None and actor.is_authenticated else None,
                external_id=external_id,
                line=line,
                fingerprint=fingerprint if line == 0 else "",
                reference=reference,
                note=note,
            )
        )
    StockMovement.objects.bulk_create(movements)
    for bucket, value in running.items():
        setattr(level, bucket, value)
    outbox_record(product_ids=[level.product_id], location_id=level.location_id, reason=changes[0].reason)
    return movements


def _operate(
    *,
    kind: str,
    product: Product,
    location: Location,
    changes: Sequence[_Change],
    source: str,
    actor: User | None,
    external_id: str,
    reference: str = "",
    note: str = "",
    payload: dict[str, Any] | None = None,
) -> MovementResult:
    _require(product, Product, "sku")
    _require(location, Location, "location")
    if not location.is_active:
        raise ValidationFailed(f"Location {location.code} is inactive.", code="inactive_location", details={"location": ["Inactive."]})
    source = (source or "omni")[:64]
    external_id = (external_id or "").strip()
    fingerprint = ""
    if external_id:
        fingerprint = _fingerprint(
            {"kind": kind, "sku": product.sku, "location": location.code, "changes": [(c.bucket, c.delta) for c in changes], **(payload or {})}
        )
        replay = _replay(source=source, external_id=external_id, fingerprint=fingerprint)
        if replay is not None:
            return replay
    try:
        with transaction.atomic():
            level = _lock_level(product=product, location=location)
            level.product, level.location = product, location
            movements = _apply_changes(
                level=level,
                changes=changes,
                source=source,
                actor=actor,
                external_id=external_id,
                fingerprint=fingerprint,
                reference=reference,
                note=note,
            )
    except IntegrityError:
        # A concurrent request with the same external id won the race: answer as a replay.
        if external_id:
            replay = _replay(source=source, external_id=external_id, fingerprint=fingerprint)
            if replay is not None:
                return replay
        raise
    return MovementResult(stock_level=level, movements=movements)


# --------------------------------------------------------------------------------------------
# Stock movements
# --------------------------------------------------------------------------------------------


def stock_receive(
    *, product: Product, location: Location, quantity: int, source: str = "omni", actor: User | None = None,
    external_id: str = "", reference: str = "", note: str = "",
) -> MovementResult:
    quantity = validate_quantity(quantity)
    return _operate(
        kind="receipt", product=product, location=location,
        changes=[_Change(Bucket.ON_HAND, quantity, MovementReason.RECEIPT)],
        source=source, actor=actor, external_id=external_id, reference=reference, note=note,
    )


def stock_sell(
    *, product: Product, location: Location, quantity: int, source: str = "omni", actor: User | None = None,
    external_id: str = "", reference: str = "", note: str = "",
) -> MovementResult:
    """A POS sale: takes unreserved units off the shelf."""
    quantity = validate_quantity(quantity)
    return _operate(
        kind="sale", product=product, location=location,
        changes=[_Change(Bucket.ON_HAND, -quantity, MovementReason.SALE)],
        source=source, actor=actor, external_id=external_id, reference=reference, note=note,
    )


def stock_return(
    *, product: Product, location: Location, quantity: int, resellable: bool = True, source: str = "omni",
    actor: User | None = None, external_id: str = "", reference: str = "", note: str = "",
) -> MovementResult:
    """A customer return at any location: resellable units go back on hand, the rest to damaged."""
    quantity = validate_quantity(quantity)
    bucket = Bucket.ON_HAND if resellable else Bucket.DAMAGED
    return _operate(
        kind="return", product=product, location=location,
        changes=[_Change(bucket, quantity, MovementReason.RETURN)],
        source=source, actor=actor, external_id=external_id, reference=reference, note=note,
    )


def stock_adjust(
    *, product: Product, location: Location, quantity: int, note: str, source: str = "omni",
    actor: User | None = None, external_id: str = "", reference: str = "",
) -> MovementResult:
    """A signed correction with a stated reason."""
    quantity = validate_quantity(quantity, allow_negative=True)
    if not (note or "").strip():
        raise ValidationFailed("An adjustment needs a reason.", code="reason_required", details={"note": ["Required."]})
    return _operate(
        kind="adjustment", product=product, location=location,
        changes=[_Change(Bucket.ON_HAND, quantity, MovementReason.ADJUSTMENT)],
        source=source, actor=actor, external_id=external_id, reference=reference, note=note.strip(),
    )


def stock_mark_damaged(
    *, product: Product, location: Location, quantity: int, source: str = "omni", actor: User | None = None,
    external_id: str = "", reference: str = "", note: str = "",
) -> MovementResult:
    """Moves units from on-hand to the damaged bucket (two ledger rows, one per bucket)."""
    quantity = validate_quantity(quantity)
    return _operate(
        kind="damage", product=product, location=location,
        changes=[_Change(Bucket.ON_HAND, -quantity, MovementReason.DAMAGE), _Change(Bucket.DAMAGED, quantity, MovementReason.DAMAGE)],
        source=source, actor=actor, external_id=external_id, reference=reference, note=note,
    )


def cycle_count_record(
    *, product: Product, location: Location, counted: int | None = None, variance: int | None = None,
    source: str = "omni", actor: User | None = None, external_id: str = "", note: str = "",
) -> CycleCount:
    """Record a count of sellable units: the variance is posted to the ledger as a count correction.

    Give ``counted`` (the figure on the shelf now), or ``variance``: a difference found by a count
    taken earlier and approved now, applied to today's figure under the row lock (counted = on hand
    now + variance, never below 0), so sales since the count are kept.

    Idempotent by ``(source, external_id)``: the same count reported again returns the first
    ``CycleCount`` (even when it had no variance), the same id with another figure is a conflict.
    """
    if (counted is None) == (variance is None):
        raise ValidationFailed("Give either counted or variance.", code="invalid", details={"counted": ["Counted or variance."]})
    if variance is not None:
        validate_quantity(variance, field_name="variance", allow_negative=True, allow_zero=True)
        if external_id:
            raise ValidationFailed("A late variance is not idempotent by external id; give counted.", code="invalid",
                                   details={"external_id": ["Not with variance."]})
    else:
        counted = validate_quantity(counted, field_name="counted", allow_zero=True)
    _require(product, Product, "sku")
    _require(location, Location, "location")
    source = (source or "omni")[:64]
    external_id = (external_id or "").strip()
    fingerprint = _fingerprint({"kind": "count", "sku": product.sku, "location": location.code, "counted": counted}) if external_id else ""

    def replay() -> CycleCount | None:
        if not external_id:
            return None
        previous = CycleCount.objects.filter(source=source, external_id=external_id).select_related("stock_level").first()
        if previous is None:
            return None
        if (previous.stock_level.product_id, previous.stock_level.location_id, previous.counted) != (product.pk, location.pk, counted):
            raise Conflict(
                f"external_id {external_id!r} from {source!r} was already used for a different count.",
                code="duplicate_external_id",
                details={"external_id": ["Already used with different content."]},
            )
        return previous

    found = replay()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            level = _lock_level(product=product, location=location)
            level.product, level.location = product, location
            if variance is not None:
                counted = max(level.on_hand + variance, 0)
            variance = counted - level.on_hand
            count = CycleCount.objects.create(
                stock_level=level, counted=counted, system_quantity=level.on_hand, variance=variance,
                actor=actor if actor is not None and actor.is_authenticated else None, source=source,
                external_id=external_id,
            )
            if variance:
                if counted < level.reserved:
                    raise InsufficientStock(
                        f"Counted {counted} of {product.sku} at {location.code}, but {level.reserved} are reserved for orders: "
                        "release or re-route those reservations first.",
                        code="count_below_reserved",
                        details={"counted": [f"Below the {level.reserved} reserved units."]},
                    )
                _apply_changes(
                    level=level, changes=[_Change(Bucket.ON_HAND, variance, MovementReason.COUNT)], source=source,
                    actor=actor, external_id=external_id, fingerprint=fingerprint, reference=f"count:{count.pk}", note=note,
                )
    except IntegrityError:
        # A concurrent report of the same count won the race: answer with its result.
        found = replay()
        if found is not None:
            return found
        raise
    return count


# --------------------------------------------------------------------------------------------
# Transfers: out → in transit → in
# --------------------------------------------------------------------------------------------


def transfer_ship(
    *, product: Product, from_location: Location, to_location: Location, quantity: int, source: str = "omni",
    actor: User | None = None, external_id: str = "", reference: str = "",
) -> Transfer:
    quantity = validate_quantity(quantity)
    _require(to_location, Location, "location")
    if from_location.pk == to_location.pk:
        raise ValidationFailed("A transfer needs two different locations.", code="same_location",
                               details={"to_location": ["Same as from_location."]})
    with transaction.atomic():
        result = _operate(
            kind="transfer_out", product=product, location=from_location,
            changes=[_Change(Bucket.ON_HAND, -quantity, MovementReason.TRANSFER_OUT)],
            source=source, actor=actor, external_id=external_id, reference=reference,
            payload={"to": to_location.code},
        )
        movement = result.movements[0]
        if result.replayed:
            return Transfer.objects.get(pk=int(movement.reference.split(":", 1)[1]))
        transfer = Transfer.objects.create(
            product=product, from_location=from_location, to_location=to_location, quantity=quantity,
            reference=reference, created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        StockMovement.objects.filter(pk=movement.pk).update(reference=f"transfer:{transfer.pk}")
    return transfer


def transfer_receive(
    *, transfer: Transfer, quantity: int | None = None, source: str = "omni", actor: User | None = None,
    external_id: str = "",
) -> Transfer:
    """Book the units in at the destination. Fewer than shipped: the rest is recorded as lost in transit."""
    source = (source or "omni")[:64]
    external_id = (external_id or "").strip()
    with transaction.atomic():
        try:
            transfer = Transfer.objects.select_for_update().select_related("product", "to_location").get(pk=getattr(transfer, "pk", transfer))
        except Transfer.DoesNotExist:
            raise NotFound("Unknown transfer.", code="unknown_transfer", details={"transfer": ["Does not exist."]}) from None
        if external_id:
            previous = StockMovement.objects.filter(source=source, external_id=external_id, line=0).first()
            if previous is not None:
                if previous.reference != f"transfer:{transfer.pk}" or (quantity is not None and previous.quantity != quantity):
                    raise Conflict(
                        f"external_id {external_id!r} from {source!r} was already used for a different movement.",
                        code="duplicate_external_id",
                        details={"external_id": ["Already used with different content."]},
                    )
                return transfer
        if transfer.status != TransferStatus.IN_TRANSIT:
            raise IllegalTransition(f"Transfer #{transfer.pk} is {transfer.status}, not in transit.")
        received = transfer.quantity if quantity is None else validate_quantity(quantity, allow_zero=True)
        if received > transfer.quantity:
            raise ValidationFailed(
                f"Received {received} but only {transfer.quantity} were shipped.", code="invalid_quantity",
                details={"quantity": [f"At most {transfer.quantity}."]},
            )
        if received:
            _operate(
                kind="transfer_in", product=transfer.product, location=transfer.to_location,
                changes=[_Change(Bucket.ON_HAND, received, MovementReason.TRANSFER_IN)],
                source=source, actor=actor, external_id=external_id, reference=f"transfer:{transfer.pk}",
            )
        transfer.received_quantity = received
        transfer.status = TransferStatus.RECEIVED
        transfer.received_at = timezone.now()
        transfer.save(update_fields=["received_quantity", "status", "received_at"])
    return transfer


# --------------------------------------------------------------------------------------------
# Reservations: conditional updates, first reserve wins
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReservationRequest:
    product: Product
    location: Location
    quantity: int
    reference: str
    expires_at: datetime | None = None


def reservations_create(*, requests: Sequence[ReservationRequest], floor_by_level: dict[int, int] | None = None) -> list[Reservation]:
    """Reserve every request or none ("first reserve wins": a unit is never held twice).

    Each line is one conditional reservation: the stock row's ``reserved`` grows only while
    ``on_hand − reserved − floor`` covers it, and the reservation and outbox rows are written with
    it (on PostgreSQL in ONE statement). Several lines take their rows in primary-key order, so two
    multi-line orders cannot deadlock, inside one transaction. A single request made outside any
    transaction is committed at once, so a hot SKU's row lock is held for one round trip only.

    ``floor_by_level`` keeps that many units of a stock row unreservable (safety stock).
    Returned reservations carry their id, stock row, quantity, reference and expiry.
    """
    if not requests:
        return []
    for req in requests:
        validate_quantity(req.quantity)
        _require(req.product, Product, "sku")
        _require(req.location, Location, "location")
    floor_by_level = floor_by_level or {}
    if len(requests) == 1 and not floor_by_level and _on_postgres() and not transaction.get_connection().in_atomic_block:
        req = requests[0]
        found = _reserve_pg(product_id=req.product.pk, location_id=req.location.pk, quantity=req.quantity, floor=0,
                            reference=req.reference, expires_at=req.expires_at)
        if found is None:
            raise _not_reservable(req, floor=0)
        transaction.on_commit(outbox_kick)  # autocommit: runs now
        return [_reservation(req, *found)]
    with transaction.atomic():
        keys = {(r.product.pk, r.location.pk) for r in requests}
        levels = {
            (lv.product_id, lv.location_id): lv.pk
            for lv in StockLevel.objects.filter(
                Q(*[Q(product_id=p, location_id=loc) for p, loc in keys], _connector=Q.OR)
            ).only("id", "product_id", "location_id")
        }
        ordered = sorted(requests, key=lambda r: levels.get((r.product.pk, r.location.pk), 0))
        created = []
        for req in ordered:
            level_id = levels.get((req.product.pk, req.location.pk))
            floor = floor_by_level.get(level_id, 0) if level_id else 0
            if _on_postgres():
                found = _reserve_pg(product_id=req.product.pk, location_id=req.location.pk, quantity=req.quantity,
                                    floor=floor, reference=req.reference, expires_at=req.expires_at)
            else:
                found = _reserve_orm(level_id=level_id, req=req, floor=floor)
            if found is None:
                raise _not_reservable(req, floor=floor)
            created.append(_reservation(req, *found))
        if _on_postgres():
            transaction.on_commit(outbox_kick)  # the statement wrote the outbox rows
        else:
            outbox_record(product_ids=[r.product.pk for r in requests], reason="reservation")
    return created


RESERVE_SQL = """
WITH upd AS (
    UPDATE inventory_stocklevel SET reserved = reserved + %(qty)s::integer, updated_at = now()
    WHERE product_id = %(product)s::bigint AND location_id = %(location)s::bigint
      AND on_hand - reserved - %(floor)s::integer >= %(qty)s::integer
    RETURNING id, product_id, location_id
), res AS (
    INSERT INTO inventory_reservation (stock_level_id, quantity, reference, status, expires_at, created_at, closed_at)
    SELECT id, %(qty)s::integer, %(ref)s::varchar, 'open', %(expires)s::timestamptz, now(), NULL FROM upd
    RETURNING id, stock_level_id
), outbox AS (
    INSERT INTO inventory_outboxevent (product_id, location_id, reason, created_at, processed_at)
    SELECT product_id, location_id, 'reservation', now(), NULL FROM upd
)
SELECT id, stock_level_id FROM res
"""


def _on_postgres() -> bool:
    return transaction.get_connection().vendor == "postgresql"


def _reserve_pg(*, product_id: int, location_id: int, quantity: int, floor: int, reference: str,
                expires_at: datetime | None) -> tuple[int, int] | None:
    """The conditional update, the reservation row and the outbox row in one prepared statement.
    Returns (reservation id, stock row id), or None when the units are not there."""
    import psycopg

    connection = transaction.get_connection()
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cur:  # server-side binding: planned once per connection
        cur.execute(RESERVE_SQL, {"qty": quantity, "product": product_id, "location": location_id, "floor": floor,
                                   "ref": reference[:128], "expires": expires_at}, prepare=True)
        row = cur.fetchone()
    return (row[0], row[1]) if row else None


def _reserve_orm(*, level_id: int | None, req: ReservationRequest, floor: int) -> tuple[int, int] | None:
    if not level_id or not StockLevel.objects.filter(
        pk=level_id, on_hand__gte=F("reserved") + req.quantity + floor
    ).update(reserved=F("reserved") + req.quantity):
        return None
    res = Reservation.objects.create(stock_level_id=level_id, quantity=req.quantity, reference=req.reference[:128],
                                     expires_at=req.expires_at)
    return res.pk, level_id


def _reservation(req: ReservationRequest, reservation_id: int, level_id: int) -> Reservation:
    return Reservation(pk=reservation_id, stock_level_id=level_id, quantity=req.quantity, reference=req.reference[:128],
                       expires_at=req.expires_at, status=ReservationStatus.OPEN)


def _not_reservable(req: ReservationRequest, *, floor: int) -> InsufficientStock:
    level = StockLevel.objects.filter(product=req.product, location=req.location).only("on_hand", "reserved").first()
    available = max(level.on_hand - level.reserved - floor, 0) if level else 0
    return InsufficientStock(
        f"Only {available} of {req.product.sku} can be reserved at {req.location.code}; {req.quantity} requested.",
        details={"sku": req.product.sku, "location": req.location.code, "available": available, "requested": req.quantity},
    )


def reservation_create(
    *, product: Product, location: Location, quantity: int, reference: str, expires_at: datetime | None = None, floor: int = 0,
) -> Reservation:
    req = ReservationRequest(product=product, location=location, quantity=quantity, reference=reference, expires_at=expires_at)
    floors = {}
    if floor:
        level_id = StockLevel.objects.filter(product=product, location=location).values_list("id", flat=True).first()
        floors = {level_id: floor} if level_id else {}
    return reservations_create(requests=[req], floor_by_level=floors)[0]


def _lock_open_reservation(reservation: Reservation | int) -> Reservation:
    pk = reservation.pk if isinstance(reservation, Reservation) else reservation
    try:
        res = Reservation.objects.select_for_update().select_related("stock_level__product", "stock_level__location").get(pk=pk)
    except Reservation.DoesNotExist as exc:
        raise NotFound(f"Reservation {pk} does not exist.", code="unknown_reservation") from exc
    if res.status != ReservationStatus.OPEN:
        raise IllegalTransition(f"Reservation {pk} is {res.status}, not open.", code="reservation_closed")
    return res


def _close_part(res: Reservation, quantity: int, status: str) -> None:
    if quantity == res.quantity:
        res.status, res.closed_at = status, timezone.now()
        res.save(update_fields=["status", "closed_at"])
    else:
        res.quantity -= quantity
        res.save(update_fields=["quantity"])


def reservation_release(*, reservation: Reservation | int, quantity: int | None = None, expired: bool = False) -> Reservation:
    """Give held units back (whole reservation, or part of it)."""
    with transaction.atomic():
        res = _lock_open_reservation(reservation)
        qty = res.quantity if quantity is None else validate_quantity(quantity)
        if qty > res.quantity:
            raise ValidationFailed(f"Only {res.quantity} units are held.", code="invalid_quantity")
        StockLevel.objects.filter(pk=res.stock_level_id).update(reserved=F("reserved") - qty, updated_at=timezone.now())
        _close_part(res, qty, ReservationStatus.EXPIRED if expired else ReservationStatus.RELEASED)
        outbox_record(product_ids=[res.stock_level.product_id], location_id=res.stock_level.location_id, reason="release")
    return res


def reservation_consume(
    *, reservation: Reservation | int, quantity: int | None = None, source: str = "omni", actor: User | None = None,
    reference: str = "", external_id: str = "",
) -> MovementResult:
    """The held units leave the building (shipped or collected): on-hand and reserved both drop."""
    with transaction.atomic():
        res = _lock_open_reservation(reservation)
        qty = res.quantity if quantity is None else validate_quantity(quantity)
        if qty > res.quantity:
            raise ValidationFailed(f"Only {res.quantity} units are held.", code="invalid_quantity")
        level = StockLevel.objects.select_for_update().select_related("product", "location").get(pk=res.stock_level_id)
        StockLevel.objects.filter(pk=level.pk).update(reserved=F("reserved") - qty)
        level.reserved -= qty
        movements = _apply_changes(
            level=level, changes=[_Change(Bucket.ON_HAND, -qty, MovementReason.FULFILMENT)], source=source or "omni",
            actor=actor, external_id=external_id, fingerprint="", reference=reference or res.reference, note="",
        )
        _close_part(res, qty, ReservationStatus.CONSUMED)
    return MovementResult(stock_level=level, movements=movements)


def reservations_expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Release every open reservation whose time is up. Safe to run twice or concurrently."""
    now = now or timezone.now()
    done = 0
    ids = list(
        Reservation.objects.filter(status=ReservationStatus.OPEN, expires_at__lt=now).order_by("id").values_list("id", flat=True)[:limit]
    )
    for pk in ids:
        try:
            reservation_release(reservation=pk, expired=True)
            done += 1
        except (IllegalTransition, NotFound):
            continue  # consumed or released meanwhile
    return done


# --------------------------------------------------------------------------------------------
# Reconciliation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerDiscrepancy:
    stock_level_id: int
    sku: str
    location: str
    field: str
    recorded: int
    expected: int

    def __str__(self) -> str:
        return f"{self.sku} @ {self.location}: {self.field} is {self.recorded}, ledger says {self.expected}"


def ledger_check() -> list[LedgerDiscrepancy]:
    """Every stock row whose buckets disagree with the ledger, or whose ``reserved`` disagrees
    with its open reservations. One query."""

    def movement_sum(bucket: str) -> Coalesce:
        sub = (
            StockMovement.objects.filter(stock_level=OuterRef("pk"), bucket=bucket)
            .order_by().values("stock_level").annotate(s=Sum("quantity")).values("s")
        )
        return Coalesce(Subquery(sub), Value(0))

    open_sum = (
        Reservation.objects.filter(stock_level=OuterRef("pk"), status=ReservationStatus.OPEN)
        .order_by().values("stock_level").annotate(s=Sum("quantity")).values("s")
    )
    rows = (
        StockLevel.objects.annotate(
            l_on_hand=movement_sum(Bucket.ON_HAND),
            l_damaged=movement_sum(Bucket.DAMAGED),
            l_quarantine=movement_sum(Bucket.QUARANTINE),
            l_reserved=Coalesce(Subquery(open_sum), Value(0)),
        )
        .filter(
            ~Q(on_hand=F("l_on_hand")) | ~Q(damaged=F("l_damaged")) | ~Q(quarantine=F("l_quarantine")) | ~Q(reserved=F("l_reserved"))
        )
        .values_list("pk", "product__sku", "location__code", "on_hand", "l_on_hand", "damaged", "l_damaged",
                     "quarantine", "l_quarantine", "reserved", "l_reserved")
    )
    out = []
    for pk, sku, loc, *pairs in rows:
        for name, (recorded, expected) in zip(("on_hand", "damaged", "quarantine", "reserved"), zip(pairs[::2], pairs[1::2])):
            if recorded != expected:
                out.append(LedgerDiscrepancy(pk, sku, loc, name, recorded, expected))
    return out
