"""Reconciliation: every stock row against its ledger and its open reservations, and every open
reservation against its owner (``inventory.owners``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from ..models import Bucket, Reservation, ReservationStatus, StockLevel, StockMovement
from ..owners import reservation_owners

ORPHAN = "orphan_reservation"
_CHUNK = 2000


@dataclass(frozen=True)
class LedgerDiscrepancy:
    """A stock row whose ``field`` (a bucket, or ``reserved``) is ``recorded`` while the ledger
    (or its open reservations) says ``expected``; or, with ``field == "orphan_reservation"``, an
    open reservation holding ``recorded`` units for an owner that no longer exists."""

    stock_level_id: int
    sku: str
    location: str
    field: str
    recorded: int
    expected: int
    reservation_id: int | None = None
    reference: str = ""

    @property
    def is_orphan(self) -> bool:
        return self.field == ORPHAN

    def __str__(self) -> str:
        if self.is_orphan:
            return (f"{self.sku} @ {self.location}: open reservation {self.reservation_id} for {self.reference} holds "
                    f"{self.recorded} units, but its owner is gone or closed")
        return f"{self.sku} @ {self.location}: {self.field} is {self.recorded}, ledger says {self.expected}"


def ledger_check() -> list[LedgerDiscrepancy]:
    """Every stock row whose buckets disagree with the ledger, or whose ``reserved`` disagrees
    with its open reservations (one query); then every open reservation whose owner is gone."""

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
    return out + orphan_reservations()


def orphan_reservations() -> list[LedgerDiscrepancy]:
    """Open reservations whose owner (per the registered reference prefixes) is gone or closed."""
    owners = reservation_owners()
    if not owners:
        return []
    open_rows = (
        Reservation.objects.filter(status=ReservationStatus.OPEN)
        .filter(Q(*[Q(reference__startswith=prefix) for prefix in owners], _connector=Q.OR))
        .order_by("pk")
        .values_list("pk", "reference", "quantity", "stock_level_id", "stock_level__product__sku", "stock_level__location__code")
    )
    out: list[LedgerDiscrepancy] = []
    last = 0
    while True:
        chunk = list(open_rows.filter(pk__gt=last)[:_CHUNK])
        if not chunk:
            return out
        last = chunk[-1][0]
        for prefix, live in owners.items():
            refs = [r[1] for r in chunk if r[1].startswith(prefix)]
            alive = live(refs) if refs else set()
            out.extend(
                LedgerDiscrepancy(level_id, sku, loc, ORPHAN, qty, 0, reservation_id=pk, reference=ref)
                for pk, ref, qty, level_id, sku, loc in chunk if ref.startswith(prefix) and ref not in alive
            )


def stock_arrivals_refresh(*, level_ids: list[int] | None = None) -> int:
    """Set ``last_received_at`` of stock rows (all, or ``level_ids``) from their ledger: the time of
    their latest receipt or transfer in. For history written in bulk (the demo seed, benchmarks),
    which bypasses the services that keep it; one statement. Returns the rows updated."""
    from django.db import connection

    from ._buckets import ARRIVALS

    sl, mv = StockLevel._meta.db_table, StockMovement._meta.db_table
    reasons = ", ".join(f"'{r.value}'" for r in sorted(ARRIVALS))
    sql = (f"UPDATE {sl} SET last_received_at = (SELECT MAX(m.created_at) FROM {mv} m WHERE m.stock_level_id = {sl}.id "
           f"AND m.bucket = 'on_hand' AND m.quantity > 0 AND m.reason IN ({reasons}))")
    params: list[int] = []
    if level_ids is not None:
        if not level_ids:
            return 0
        sql += f" WHERE id IN ({', '.join(['%s'] * len(level_ids))})"
        params = list(level_ids)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.rowcount
