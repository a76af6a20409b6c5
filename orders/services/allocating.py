"""Turning a routing plan into reservations and allocations (all or nothing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from django.db import connection, transaction
from django.db.models import Q

from allocation.selectors import reservable_floor_by_level, reservable_levels
from inventory.models import Location, Product, StockLevel
from inventory.services import ReservationMove, ReservationRequest, capacity_claim, reservations_create, reservations_reassign
from omni.bulk import bulk_insert, keyed_insert_fields, keyed_insert_values
from omni.instances import new
from omni.prepared import execute_prepared, fetch_prepared, read_ahead_prepared
from orders.models import Allocation, AllocationStatus, Order, OrderLine
from orders.models import RoutingDecision as RoutingDecisionRecord
from orders.routing.criteria import LineNeed, ProductFacts
from orders.routing.engine import PlannedAllocation, RoutingDecision

from .events import OrderEventBatch


@dataclass(frozen=True)
class HeldUnits:
    """Units of an order line already held by a checkout hold's reservation."""

    planned: PlannedAllocation
    reservation_id: int


def allocation_reference(allocation: Allocation) -> str:
    """The reference of an allocation's reservation (its owner, for the ledger check)."""
    return f"order-allocation:{allocation.pk}"


def line_needs(lines: Sequence[tuple[int, Product, int]]) -> tuple[list[LineNeed], dict[int, ProductFacts]]:
    """(line number, product, quantity) → engine inputs."""
    needs = [LineNeed(index=i, product_id=p.pk, sku=p.sku, quantity=q) for i, p, q in lines]
    facts = {p.pk: ProductFacts(p.pk, p.sku, p.end_of_season, p.launched_on) for _i, p, _q in lines}
    return needs, facts


def allocations_reserve(
    *, plan: Sequence[PlannedAllocation], lines_by_index: Mapping[int, OrderLine], products: Mapping[int, Product],
    ship_to_store: Location | None = None, held: Sequence[HeldUnits] = (), release_rest_of: Sequence[int] = (),
    new_order: bool = False, stock_rows: Mapping[tuple[int, int], tuple[int, int]] | None = None,
    locations: Mapping[int, Location] | None = None,
) -> list[Allocation]:
    """Create the allocations of ``plan`` and reserve their units, and those of ``held`` whose units
    a hold's reservations hand over (what those reservations, and the ones in ``release_rest_of``,
    hold beyond that is given back). Every one or none: ``InsufficientStock`` rolls all of it back.
    Inventory takes every stock row involved once, in primary-key order.

    The order also claims a day's capacity slot at each location it newly gets units at
    (``capacity_exhausted`` when one has none left: routing then tries again without it), before
    any stock row is taken; a hold's locations are counted but never refused (its units are held).
    ``new_order``: the order has no allocations yet (saves looking). ``stock_rows``: (product id,
    location id) → (stock row id, location safety stock) as routing read them with the availability
    (``RoutingDecision.stock_rows``); when they cover the plan, they are not looked up again.
    ``locations``: id → location row the caller has in hand (intake's, from the process's cache,
    which it keeps with the allocations): a reservation request takes its location from there
    when its code is the plan's, instead of a ``Location(pk=…, code=…)`` built for it (inventory
    reads only the key and, for an error's message, the code; ~20–40 µs an instance in a request).

    Runs in the caller's transaction without a savepoint of its own (two round trips saved per
    order): every caller reserves through ``plan_and_reserve``, whose savepoint rolls a lost race
    back, or lets the error abort its whole transaction."""
    if not plan and not held and not release_rest_of:
        return []
    planned_all = [*(h.planned for h in held), *plan]
    with transaction.atomic(savepoint=False):
        # On PostgreSQL the allocations' keys come first (read ahead with routing's candidates
        # when intake asked for them: ``allocation_keys_read_ahead``), so that each reservation
        # names its allocation from the start and the allocations are written once, reservation
        # ids included, with the transaction's next statement: no insert in a round trip of its
        # own before the reservations, no update after them.
        keys = _allocation_keys(len(planned_all)) if connection.vendor == "postgresql" else None
        capacity_claim_for_order(plan=plan, held=held, lines_by_index=lines_by_index, new_order=new_order)
        allocations = [
            new(Allocation,
                line=lines_by_index[p.line_index], location_id=p.location_id, quantity=p.quantity,
                ship_to_store=ship_to_store if ship_to_store is not None and ship_to_store.pk != p.location_id else None)
            for p in planned_all
        ]
        if keys is None:
            allocations = bulk_insert(Allocation, allocations)
        else:
            for a, key in zip(allocations, keys, strict=True):
                a.pk = key
        held_allocs, planned_allocs = allocations[:len(held)], allocations[len(held):]
        known = locations or {}
        requests = [
            ReservationRequest(
                product=products[p.product_id], location=_location(known.get(p.location_id), p),
                quantity=p.quantity, reference=allocation_reference(a),
            )
            for p, a in zip(plan, planned_allocs, strict=True)
        ]
        if held or release_rest_of:
            moves = [ReservationMove(reservation_id=h.reservation_id, quantity=h.planned.quantity, reference=allocation_reference(a))
                     for h, a in zip(held, held_allocs, strict=True)]
            done = reservations_reassign(moves=moves, release_rest_of=release_rest_of, requests=requests,
                                         floor_by_level=safety_floors(requests))
            reservations = [*done.moved, *done.created]
        else:
            # one query for the floors and the stock row ids; the reservations run in the savepoint
            # of plan_and_reserve (see above), which an InsufficientStock rolls back
            pairs = [(r.product.pk, r.location.pk) for r in requests]
            levels = ({pair: stock_rows[pair] for pair in pairs}
                      if stock_rows is not None and all(pair in stock_rows for pair in pairs)
                      else reservable_levels(pairs=pairs))
            reservations = reservations_create(
                requests=requests, floor_by_level={lid: ss for lid, ss in levels.values() if ss},
                level_ids={pair: lid for pair, (lid, _ss) in levels.items()}, in_callers_savepoint=True)
        for a, r in zip(allocations, reservations, strict=True):
            a.reservation_id = r.pk
        if keys is None:
            _reservation_ids_write(allocations)
        else:
            _allocations_insert_deferred(allocations)
    return allocations


def _location(known: Location | None, p: PlannedAllocation) -> Location:
    """The planned allocation's location for its reservation request: the row in hand when it has
    the plan's key and code (routing read the code in this transaction), else one with just those."""
    if known is not None and known.pk == p.location_id and known.code == p.location_code:
        return known
    return Location(pk=p.location_id, code=p.location_code)


# The next ``count`` keys of the allocations' sequence, ascending (as an insert of that many rows
# takes them). The sequence is named as a constant: ``nextval(pg_get_serial_sequence(…))`` looked
# it up in the catalogue on every call (0.06 ms of the backend's CPU per order).
_ALLOCATION_KEYS_SQL = "SELECT nextval('{sequence}'::regclass) FROM generate_series(1, %s::integer) ORDER BY 1"


@cache
def _allocation_keys_sql() -> str:
    """The statement with this database's sequence (looked up once per process)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [Allocation._meta.db_table, Allocation._meta.pk.column])
        (sequence,) = cursor.fetchone()
    return _ALLOCATION_KEYS_SQL.format(sequence=sequence.replace("'", "''"))


def allocation_keys_read_ahead(*, count: int) -> None:
    """Send the read of ``count`` allocation keys in front of the connection's next statement (as
    ``read_ahead_prepared`` does): ``allocations_reserve`` of a plan of ``count`` allocations then
    takes them without a round trip. A plan of another size reads its own (these few keys of the
    sequence then stay unused, as a rolled-back insert leaves its keys). PostgreSQL only."""
    if count > 0 and connection.vendor == "postgresql":
        read_ahead_prepared(_allocation_keys_sql(), [count], prefix="omni_alloc_")


def _allocation_keys(count: int) -> list[int]:
    """``count`` new allocation keys, ascending: read ahead (``allocation_keys_read_ahead``) or now."""
    if not count:
        return []
    return sorted(int(k) for (k,) in fetch_prepared(_allocation_keys_sql(), [count], prefix="omni_alloc_"))


def _allocations_insert_deferred(allocations: Sequence[Allocation]) -> None:
    """Insert the allocations (keys and reservation ids set) in one statement sent with the
    transaction's next one (``execute_deferred``: nothing reads them before it), a prepared
    statement per number of rows once this process has run that shape (as ``omni.bulk``); every
    value prepared as a save prepares it (``omni.bulk.keyed_insert_values``). The instances are
    marked saved, as ``bulk_insert`` leaves them."""
    params = keyed_insert_values(Allocation, allocations, connection.alias)
    sql = _ALLOCATION_INSERT_SQL + ", ".join([_ALLOCATION_ROW] * len(allocations))
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params, prefix="omni_alloc_", repeated_only=True, deferred=True)
    for a in allocations:
        a._state.adding = False
        a._state.db = connection.alias


# the columns ``keyed_insert_values`` gives values for, in its order
_ALLOCATION_FIELDS = keyed_insert_fields(Allocation)
_ALLOCATION_INSERT_SQL = f"INSERT INTO {Allocation._meta.db_table} ({', '.join(str(f.column) for f in _ALLOCATION_FIELDS)}) VALUES "
_ALLOCATION_ROW = f"({', '.join(['%s'] * len(_ALLOCATION_FIELDS))})"


def _reservation_ids_write(allocations: Sequence[Allocation]) -> None:
    """Each allocation's ``reservation_id`` (elsewhere than on PostgreSQL, where the allocations
    are inserted after their reservations, ids included: ``_allocations_insert_deferred``)."""
    if allocations:
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {Allocation._meta.db_table} SET reservation_id = %s WHERE id = %s",
                               [(a.reservation_id, a.pk) for a in allocations])


def capacity_claim_for_order(
    *, plan: Sequence[PlannedAllocation], held: Sequence[HeldUnits], lines_by_index: Mapping[int, OrderLine], new_order: bool,
) -> None:
    planned = {p.location_id for p in plan}
    holding = {h.planned.location_id for h in held}
    already: set[int] = set()
    if not new_order and lines_by_index and (planned or holding):
        order_id = next(iter(lines_by_index.values())).order_id
        already = set(Allocation.objects.filter(
            line__order_id=order_id, location_id__in=planned | holding,
            status__in=[AllocationStatus.RESERVED, AllocationStatus.FULFILLED],
        ).values_list("location_id", flat=True))
    capacity_claim(location_ids=planned - holding - already, force_ids=holding - already)


def safety_floors(requests: Sequence[ReservationRequest]) -> dict[int, int]:
    """Location safety stock of the stock rows these reservations take from: a reservation never
    eats into it (``reservations_create(floor_by_level=…)``)."""
    if not requests:
        return {}
    pairs = Q(*[Q(product_id=r.product.pk, location_id=r.location.pk) for r in requests], _connector=Q.OR)
    return reservable_floor_by_level(level_ids=StockLevel.objects.filter(pairs).values_list("id", flat=True))


def decision_record(*, order: Order, decision: RoutingDecision, kind: str,
                    batch: OrderEventBatch | None = None) -> RoutingDecisionRecord | None:
    """Store the routing decision. With ``batch`` (the service's timeline, its order ``order``) the
    record is written with the batch's events at its ``flush``, in the same insert, as a row
    (``omni.bulk.Row``: no instance is built; None is returned): a round trip less per routed order."""
    # The order by its key once it has one (every caller's has): no caller reads the record's
    # order, and a related instance costs a descriptor here and a check in the insert.
    row = {
        "order_id" if order.pk is not None else "order": order.pk if order.pk is not None else order,
        "kind": kind, "profile_name": decision.profile.name, "profile_version": decision.profile.version,
        "candidates": decision.stored_candidates(), "candidate_count": decision.candidate_count,
        "plan": [{"line": p.line_index, "location": p.location_code, "quantity": p.quantity} for p in decision.plan],
        "reason": decision.reason,
    }
    if batch is not None:
        batch.add_decision(row)
        return None
    [record] = bulk_insert(RoutingDecisionRecord, [RoutingDecisionRecord(**row)])
    return record
