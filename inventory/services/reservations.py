"""Reservations: units of a stock row held for something (an order allocation, a checkout hold).

- Reserving is a conditional update ("first reserve wins"): ``reserved`` grows only while
  ``on_hand − reserved − floor`` covers it; on PostgreSQL the update, the reservation row and the
  outbox row are ONE prepared statement (``RESERVE_SQL``).
- ``reserved == sum(open reservations)`` for every stock row: each function changes both in one
  transaction.
- Locks: the reservation rows first (primary-key order, the rows only), then the stock rows in
  primary-key order. Every function here keeps that order, so two transactions that share stock
  rows (two multi-line cancels, an order consuming a hold) wait for each other, never deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from omni.errors import IllegalTransition, InsufficientStock, NotFound, ValidationFailed
from omni.instances import new
from omni.prepared import execute_prepared, prepared_name

from ..models import Bucket, Location, MovementReason, Product, Reservation, ReservationStatus, StockLevel
from ..outbox import outbox_kick, outbox_record
from ._buckets import Change, MovementResult, Actor, apply_changes, require, validate_quantity


@dataclass(frozen=True)
class ReservationRequest:
    product: Product
    location: Location
    quantity: int
    reference: str
    expires_at: datetime | None = None


@dataclass(frozen=True)
class ReservationMove:
    """Hand ``quantity`` units of the open reservation ``reservation_id`` to a new open
    reservation for ``reference`` on the same stock row (the units stay reserved throughout)."""

    reservation_id: int
    quantity: int
    reference: str
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Reassignment:
    moved: list[Reservation]  # one new reservation per move, in the order of the moves
    created: list[Reservation]  # one per request, in the order of the requests
    released: int  # units given back (``release_rest``)


# The conditional reservation, the reservation row and the outbox row in one statement.
# Parameters: qty, product, location, floor, ref, expires. Returns (reservation id, stock row id),
# or no row when the units are not there.
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


_RESERVE_ARGS = ("qty", "product", "location", "floor", "ref", "expires")
# ``RESERVE_SQL`` with ``$n`` placeholders, as PostgreSQL prepares it
_RESERVE_BODY = RESERVE_SQL
for _n, _arg in enumerate(_RESERVE_ARGS, start=1):
    _RESERVE_BODY = _RESERVE_BODY.replace(f"%({_arg})s", f"${_n}")


def _reserve_pg(*, product_id: int, location_id: int, quantity: int, floor: int, reference: str,
                expires_at: datetime | None) -> tuple[int, int] | None:
    """``RESERVE_SQL`` as a named prepared statement of the connection (``omni.prepared``: parsed and
    planned once per connection, not per reservation). Returns (reservation id, stock row id), or None.

    (It ran on a psycopg cursor with ``prepare=True``, which did nothing: Django turns psycopg's
    preparation off, ``prepare_threshold=None``, and PostgreSQL planned it on every call.)"""
    with connection.cursor() as cursor:
        execute_prepared(cursor, RESERVE_SQL, [quantity, product_id, location_id, floor, reference[:128], expires_at],
                         prefix="omni_reserve_", body=_RESERVE_BODY)
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def _reserve_pg_many(items: Sequence[tuple[ReservationRequest, int]]) -> list[tuple[int, int] | None]:
    """``_reserve_pg`` for several (request, floor) pairs in ONE message (one ``EXECUTE`` each, run
    in this order by the server, as if sent one by one): (reservation id, stock row id), or None
    for each. Inside a transaction only — the caller rolls all of it back when one finds too few."""
    with connection.cursor() as cursor:
        name = prepared_name(cursor, RESERVE_SQL, prefix="omni_reserve_", body=_RESERVE_BODY)
        cursor.execute("; ".join(
            cursor.mogrify(f"EXECUTE {name}(%s, %s, %s, %s, %s, %s)",
                           [req.quantity, req.product.pk, req.location.pk, floor, req.reference[:128], req.expires_at])
            for req, floor in items))
        found: list[tuple[int, int] | None] = []
        for n in range(len(items)):
            if n:
                cursor.nextset()
            row = cursor.fetchone()
            found.append((row[0], row[1]) if row else None)
    return found


def _reserve_orm(*, level_id: int | None, req: ReservationRequest, floor: int) -> tuple[int, int] | None:
    if not level_id or not StockLevel.objects.filter(
        pk=level_id, on_hand__gte=F("reserved") + req.quantity + floor
    ).update(reserved=F("reserved") + req.quantity):
        return None
    res = Reservation.objects.create(stock_level_id=level_id, quantity=req.quantity, reference=req.reference[:128],
                                     expires_at=req.expires_at)
    return res.pk, level_id


def _reservation(req: ReservationRequest, reservation_id: int, level_id: int) -> Reservation:
    """The new reservation as ``Reservation(pk=…, …)`` builds it (``omni.instances.new``: without
    ``Model.__init__``'s walk over every field, ~10 µs a reservation)."""
    return new(Reservation, id=reservation_id, stock_level_id=level_id, quantity=req.quantity, reference=req.reference[:128],
               expires_at=req.expires_at, status=ReservationStatus.OPEN)


def _not_reservable(req: ReservationRequest, *, floor: int) -> InsufficientStock:
    level = StockLevel.objects.filter(product=req.product, location=req.location).only("on_hand", "reserved").first()
    available = max(level.on_hand - level.reserved - floor, 0) if level else 0
    return InsufficientStock(
        f"Only {available} of {req.product.sku} can be reserved at {req.location.code}; {req.quantity} requested.",
        details={"sku": req.product.sku, "location": req.location.code, "available": available, "requested": req.quantity},
    )


def _check_requests(requests: Sequence[ReservationRequest]) -> None:
    for req in requests:
        validate_quantity(req.quantity)
        require(req.product, Product, "sku")
        require(req.location, Location, "location")


def _level_ids(requests: Sequence[ReservationRequest]) -> dict[tuple[int, int], int]:
    keys = {(r.product.pk, r.location.pk) for r in requests}
    if not keys:
        return {}
    return {
        (lv.product_id, lv.location_id): lv.pk
        for lv in StockLevel.objects.filter(
            Q(*[Q(product_id=p, location_id=loc) for p, loc in keys], _connector=Q.OR)
        ).only("id", "product_id", "location_id")
    }


def _stock_pass(
    *, releases: dict[int, int], requests: Sequence[ReservationRequest], floor_by_level: dict[int, int],
    level_ids: Mapping[tuple[int, int], int] | None = None,
) -> list[Reservation]:
    """Give back ``releases`` (stock row id → units) and reserve ``requests``, touching every stock
    row once in primary-key order (a row's release before its reservations). Inside a transaction.
    Raises ``InsufficientStock`` (the caller's transaction rolls it all back) when a request finds
    too few units. Returns the new reservations in the order of ``requests``."""
    levels = _level_ids(requests) if level_ids is None else level_ids
    steps: list[tuple[int, int, int]] = [(lid, 0, -1) for lid in releases]  # (row, 0 = release first, request index)
    steps += [(levels.get((r.product.pk, r.location.pk), 0), 1, i) for i, r in enumerate(requests)]
    created: list[Reservation | None] = [None] * len(requests)
    pg = _on_postgres()
    released_levels = []
    if pg and not releases and len(requests) > 1:
        # every reservation in one message, in primary-key order as below (one round trip, not one each)
        ordered = sorted(steps)
        floors = [floor_by_level.get(level_id, 0) if level_id else 0 for level_id, _kind, _i in ordered]
        outcomes = _reserve_pg_many([(requests[index], floor) for (_l, _k, index), floor in zip(ordered, floors, strict=True)])
        for (_level_id, _kind, index), floor, found in zip(ordered, floors, outcomes, strict=True):
            if found is None:
                raise _not_reservable(requests[index], floor=floor)
            created[index] = _reservation(requests[index], *found)
        steps = []
    for level_id, kind, index in sorted(steps):
        if kind == 0:
            StockLevel.objects.filter(pk=level_id).update(reserved=F("reserved") - releases[level_id], updated_at=timezone.now())
            released_levels.append(level_id)
            continue
        req = requests[index]
        floor = floor_by_level.get(level_id, 0) if level_id else 0
        if pg:
            found = _reserve_pg(product_id=req.product.pk, location_id=req.location.pk, quantity=req.quantity,
                                floor=floor, reference=req.reference, expires_at=req.expires_at)
        else:
            found = _reserve_orm(level_id=level_id or None, req=req, floor=floor)
        if found is None:
            raise _not_reservable(req, floor=floor)
        created[index] = _reservation(req, *found)
    # (only when something was released: building even an empty query cost reserving 0.25 ms of CPU)
    for level in StockLevel.objects.filter(pk__in=released_levels).only("product_id", "location_id") if released_levels else ():
        outbox_record(product_ids=[level.product_id], location_id=level.location_id, reason="release")
    if requests:
        if pg:
            transaction.on_commit(outbox_kick)  # the statement wrote the outbox rows
        else:
            outbox_record(product_ids=[r.product.pk for r in requests], reason="reservation")
    return [r for r in created if r is not None]


def reservations_create(
    *, requests: Sequence[ReservationRequest], floor_by_level: dict[int, int] | None = None,
    level_ids: Mapping[tuple[int, int], int] | None = None, in_callers_savepoint: bool = False,
) -> list[Reservation]:
    """Reserve every request or none ("first reserve wins": a unit is never held twice).

    Each line is one conditional reservation: the stock row's ``reserved`` grows only while
    ``on_hand − reserved − floor`` covers it, and the reservation and outbox rows are written with
    it (on PostgreSQL in ONE statement). Several lines take their rows in primary-key order, so two
    multi-line orders cannot deadlock, inside one transaction. A single request made outside any
    transaction is committed at once, so a hot SKU's row lock is held for one round trip only.

    ``floor_by_level`` keeps that many units of a stock row unreservable (safety stock).
    Returned reservations (in the order of ``requests``) carry their id, stock row, quantity,
    reference and expiry.

    ``level_ids``: {(product id, location id): stock row id} of every request's pair that has a
    row, when the caller has read them already (with the floors): one query less. A pair missing
    from it is treated as having no stock row (nothing to reserve there).
    ``in_callers_savepoint``: the caller runs this inside a savepoint of its own that an
    ``InsufficientStock`` rolls back (the order path's ``plan_and_reserve``): no second one, two
    round trips less.
    """
    if not requests:
        return []
    _check_requests(requests)
    floor_by_level = floor_by_level or {}
    if len(requests) == 1 and not floor_by_level and _on_postgres() and not transaction.get_connection().in_atomic_block:
        req = requests[0]
        found = _reserve_pg(product_id=req.product.pk, location_id=req.location.pk, quantity=req.quantity, floor=0,
                            reference=req.reference, expires_at=req.expires_at)
        if found is None:
            raise _not_reservable(req, floor=0)
        transaction.on_commit(outbox_kick)  # autocommit: runs now
        return [_reservation(req, *found)]
    with transaction.atomic(savepoint=not in_callers_savepoint):
        return _stock_pass(releases={}, requests=requests, floor_by_level=floor_by_level, level_ids=level_ids)


def reservation_create(
    *, product: Product, location: Location, quantity: int, reference: str, expires_at: datetime | None = None, floor: int = 0,
) -> Reservation:
    req = ReservationRequest(product=product, location=location, quantity=quantity, reference=reference, expires_at=expires_at)
    floors = {}
    if floor:
        level_id = StockLevel.objects.filter(product=product, location=location).values_list("id", flat=True).first()
        floors = {level_id: floor} if level_id else {}
    return reservations_create(requests=[req], floor_by_level=floors)[0]


def _pk(reservation: Reservation | int) -> int:
    return reservation.pk if isinstance(reservation, Reservation) else reservation


def _lock_reservations(pks: Iterable[int], *, skip_closed: bool = False) -> dict[int, Reservation]:
    """Lock these reservation rows (only them), in primary-key order; each must be open unless
    ``skip_closed`` (then closed ones are left out)."""
    wanted = sorted(set(pks))
    found = {r.pk: r for r in Reservation.objects.select_for_update(of=("self",)).filter(pk__in=wanted).order_by("pk")}
    for pk in wanted:
        res = found.get(pk)
        if res is None:
            if skip_closed:
                continue
            raise NotFound(f"Reservation {pk} does not exist.", code="unknown_reservation")
        if res.status != ReservationStatus.OPEN:
            if skip_closed:
                del found[pk]
                continue
            raise IllegalTransition(f"Reservation {pk} is {res.status}, not open.", code="reservation_closed")
    return found


def _close_part(res: Reservation, quantity: int, status: str, now: datetime) -> None:
    if quantity == res.quantity:
        res.status, res.closed_at = status, now
        Reservation.objects.filter(pk=res.pk).update(status=status, closed_at=now)
    else:
        res.quantity -= quantity
        Reservation.objects.filter(pk=res.pk).update(quantity=res.quantity)


def reservations_release(
    *, reservations: Sequence[Reservation | int], expired: bool = False, skip_closed: bool = False,
) -> list[Reservation]:
    """Give every unit of these reservations back, in one transaction: the reservation rows are
    locked in primary-key order, then the stock rows in primary-key order (an order cancelling
    several lines, a hold let go). ``skip_closed``: reservations already closed (released by the
    expiry job meanwhile) are left out instead of refused. Returns the released reservations."""
    if not reservations:
        return []
    with transaction.atomic():
        locked = _lock_reservations([_pk(r) for r in reservations], skip_closed=skip_closed)
        releases: dict[int, int] = {}
        for res in locked.values():
            releases[res.stock_level_id] = releases.get(res.stock_level_id, 0) + res.quantity
        _stock_pass(releases=releases, requests=(), floor_by_level={})
        now = timezone.now()
        status = ReservationStatus.EXPIRED if expired else ReservationStatus.RELEASED
        Reservation.objects.filter(pk__in=list(locked)).update(status=status, closed_at=now)
        for res in locked.values():
            res.status, res.closed_at = status, now
    return list(locked.values())


def reservation_release(*, reservation: Reservation | int, quantity: int | None = None, expired: bool = False) -> Reservation:
    """Give held units back (whole reservation, or part of it)."""
    with transaction.atomic():
        res = _lock_reservations([_pk(reservation)])[_pk(reservation)]
        qty = res.quantity if quantity is None else validate_quantity(quantity)
        if qty > res.quantity:
            raise ValidationFailed(f"Only {res.quantity} units are held.", code="invalid_quantity")
        _stock_pass(releases={res.stock_level_id: qty}, requests=(), floor_by_level={})
        _close_part(res, qty, ReservationStatus.EXPIRED if expired else ReservationStatus.RELEASED, timezone.now())
    return res


def reservation_consume(
    *, reservation: Reservation | int, quantity: int | None = None, source: str = "omni", actor: Actor | None = None,
    reference: str = "", external_id: str = "",
) -> MovementResult:
    """The held units leave the building (shipped or collected): on-hand and reserved both drop."""
    with transaction.atomic():
        res = _lock_reservations([_pk(reservation)])[_pk(reservation)]
        qty = res.quantity if quantity is None else validate_quantity(quantity)
        if qty > res.quantity:
            raise ValidationFailed(f"Only {res.quantity} units are held.", code="invalid_quantity")
        level = StockLevel.objects.select_for_update(of=("self",)).select_related("product", "location").get(pk=res.stock_level_id)
        StockLevel.objects.filter(pk=level.pk).update(reserved=F("reserved") - qty)
        level.reserved -= qty
        movements = apply_changes(
            level=level, changes=[Change(Bucket.ON_HAND, -qty, MovementReason.FULFILMENT)], source=source or "omni",
            actor=actor, external_id=external_id, fingerprint="", reference=reference or res.reference, note="",
        )
        _close_part(res, qty, ReservationStatus.CONSUMED, timezone.now())
    return MovementResult(stock_level=level, movements=movements)


def reservations_reassign(
    *, moves: Sequence[ReservationMove], release_rest_of: Sequence[int] = (), requests: Sequence[ReservationRequest] = (),
    floor_by_level: dict[int, int] | None = None,
) -> Reassignment:
    """Hand open reservations (whole or in part) to new references — a checkout hold's units to
    the order that consumes it — without the units ever becoming free in between.

    Each move takes units of one open reservation into a new open reservation on the same stock
    row; a reservation that gave all its units is closed as consumed. Then whatever the
    reservations named in ``release_rest_of`` still hold is given back. ``requests`` are reserved
    as by ``reservations_create``, in the SAME pass: every stock row this touches is taken once, in
    primary-key order, after the reservation rows (also in primary-key order), so two orders
    consuming holds cannot deadlock. ``reserved == sum(open reservations)`` holds throughout. All of
    it or nothing: ``InsufficientStock`` (a request), ``IllegalTransition`` ``reservation_closed`` (a
    reservation closed meanwhile, e.g. expired) roll everything back."""
    _check_requests(requests)
    for move in moves:
        validate_quantity(move.quantity)
    with transaction.atomic():
        sources = _lock_reservations([*(m.reservation_id for m in moves), *release_rest_of])
        left = {pk: res.quantity for pk, res in sources.items()}
        for move in moves:
            if move.quantity > left[move.reservation_id]:
                held = sources[move.reservation_id].quantity
                raise ValidationFailed(f"Reservation {move.reservation_id} holds {held} units; more cannot be handed over.",
                                       code="invalid_quantity", details={"quantity": [f"At most {held} in all."]})
            left[move.reservation_id] -= move.quantity
        to_release = {pk for pk in release_rest_of if left[pk]}
        releases: dict[int, int] = {}
        for pk in to_release:
            level_id = sources[pk].stock_level_id
            releases[level_id] = releases.get(level_id, 0) + left[pk]
        created = _stock_pass(releases=releases, requests=requests, floor_by_level=floor_by_level or {})
        moved = Reservation.objects.bulk_create([
            Reservation(stock_level_id=sources[m.reservation_id].stock_level_id, quantity=m.quantity, reference=m.reference[:128],
                        expires_at=m.expires_at, status=ReservationStatus.OPEN)
            for m in moves
        ])
        now = timezone.now()
        for pk, res in sources.items():
            if pk in to_release:  # what is left was given back
                Reservation.objects.filter(pk=pk).update(quantity=left[pk], status=ReservationStatus.RELEASED, closed_at=now)
            elif left[pk] == 0:  # every unit went to a new owner
                Reservation.objects.filter(pk=pk).update(status=ReservationStatus.CONSUMED, closed_at=now)
            elif left[pk] != res.quantity:  # part went to a new owner, the rest stays held
                Reservation.objects.filter(pk=pk).update(quantity=left[pk])
    return Reassignment(moved=moved, created=created, released=sum(releases.values()))


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
