"""Reads of fulfillment work: a location's queue, one work for someone allowed to act on it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from fulfillment.models import OPEN_STATUSES, PutBackTask, StoreSettings, Work, WorkKind, WorkLine
from inventory.models import Location
from omni.access.roles import Capability, Principal, permitted_location_ids, principal_for
from omni.errors import NotFound


def _with_lines(qs: QuerySet[Work]) -> QuerySet[Work]:
    return qs.select_related("order__channel", "location", "pickup_location").prefetch_related(
        Prefetch("lines", queryset=WorkLine.objects.select_related("product", "order_line").order_by("pk")))


def queue(*, location: Location | int, statuses: Iterable[str] | None = None) -> QuerySet[Work]:
    """The location's work, soonest deadline first: open work unless ``statuses`` says which."""
    location_id = location.pk if isinstance(location, Location) else location
    wanted = sorted(OPEN_STATUSES if statuses is None else set(statuses))
    return _with_lines(Work.objects.filter(location_id=location_id, status__in=wanted)).order_by("deadline", "pk")


def _principal(who: Any) -> Principal:
    return who if isinstance(who, Principal) else principal_for(who)


def works_visible(*, who: Principal | Any, capability: Capability = Capability.FULFIL) -> QuerySet[Work]:
    """Work a principal (or a user) may act on (``capability`` ``VIEW_WORK``: may read): at its
    locations (all for head office whose role allows it; a partner token only its channel's orders,
    and only at its locations when it has any)."""
    principal = _principal(who)
    where = permitted_location_ids(principal, capability)
    qs = Work.objects.all()
    if principal.is_partner:
        # A partner system fulfils only at the locations its token is limited to.
        if principal.channel_id is None:
            return qs.none()
        qs = qs.filter(order__channel_id=principal.channel_id)
        where = where or frozenset()
    if where is not None:
        # A pickup store also acts on ship-to-store work travelling to it (it receives and hands over).
        qs = qs.filter(Q(location_id__in=where) | Q(pickup_location_id__in=where, kind=WorkKind.SHIP_TO_STORE))
    return qs


def work_for(*, who: Principal | Any, pk: int, capability: Capability = Capability.FULFIL) -> Work:
    """One work, with its lines, if ``who`` may act on it; otherwise ``not_found`` (another
    location's work is not revealed)."""
    try:
        return _with_lines(works_visible(who=who, capability=capability)).get(pk=pk)
    except (Work.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Work {pk} does not exist or is not at your locations.", code="unknown_work",
                       details={"work": ["Not found at your locations."]}) from None


def find_pickup(*, location: Location | int, query: str) -> QuerySet[Work]:
    """Open pickups collected at ``location`` matching a pickup code, an order number, or the
    customer's name or reference (phone/e-mail as the channel sent it)."""
    from fulfillment.services.codes import pickup_code_normalize

    location_id = location.pk if isinstance(location, Location) else location
    text = (query or "").strip()
    if not text:
        return Work.objects.none()
    code = pickup_code_normalize(text)
    match = (Q(order__external_id__iexact=text) | Q(order__ship_name__icontains=text) | Q(order__customer_ref__iexact=text)
             | Q(order__customer_phone=text.replace(" ", "")))
    if code:
        match |= Q(pickup_code=code)
    return _with_lines(Work.objects.filter(
        match, pickup_location_id=location_id, kind__in=[WorkKind.BOPIS, WorkKind.SHIP_TO_STORE], status__in=sorted(OPEN_STATUSES),
    )).order_by("deadline", "pk")


def uncollected(*, location: Location | int, older_than: Any = None) -> QuerySet[Work]:
    """Pickups ready at ``location`` and not collected (since before ``older_than`` when given), oldest first."""
    from fulfillment.models import WorkStatus

    location_id = location.pk if isinstance(location, Location) else location
    qs = Work.objects.filter(pickup_location_id=location_id, status=WorkStatus.READY_FOR_PICKUP)
    if older_than is not None:
        qs = qs.filter(ready_at__lt=older_than)
    return _with_lines(qs).order_by("ready_at", "pk")


@dataclass(frozen=True)
class PreparationTime:
    """One work item's times for the KPI dashboard (seconds; None where it has not happened)."""

    work_id: int
    location_id: int
    kind: str
    placed_to_ready: float | None  # order placed → ready for pickup (pickups) or shipped (shipments)
    ready_to_collected: float | None  # ready → collected (pickups)
    deadline: Any
    on_time: bool | None


def preparation_times(*, since: Any, until: Any, location: Location | int | None = None) -> list[PreparationTime]:
    """Work that became ready or shipped between ``since`` and ``until`` (optionally at one
    location): how long it took from the order to ready/shipped, ready to collected, and on-time
    against its deadline. Computed from the work rows (no hand-kept counters)."""
    from django.db.models import Q

    qs = Work.objects.filter(Q(ready_at__gte=since, ready_at__lt=until) | Q(ready_at__isnull=True, shipped_at__gte=since,
                                                                             shipped_at__lt=until))
    if location is not None:
        qs = qs.filter(location_id=location.pk if isinstance(location, Location) else location)
    out = []
    for w in qs.select_related("order").order_by("pk"):
        done = w.ready_at or w.shipped_at
        collected = w.closed_at if w.status == "collected" and w.ready_at else None
        out.append(PreparationTime(
            work_id=w.pk, location_id=w.location_id, kind=w.kind,
            placed_to_ready=(done - w.order.created_at).total_seconds() if done else None,
            ready_to_collected=(collected - w.ready_at).total_seconds() if collected and w.ready_at else None,
            deadline=w.deadline, on_time=w.on_time,
        ))
    return out


def put_back_tasks(*, location: Location | int, statuses: Iterable[str] = ("open",)) -> QuerySet[PutBackTask]:
    """The store's put-back tasks (expired pickups whose goods wait at the counter), oldest first."""
    location_id = location.pk if isinstance(location, Location) else location
    return (PutBackTask.objects.filter(location_id=location_id, status__in=list(statuses))
            .select_related("work__order").prefetch_related("lines__product").order_by("created_at", "pk"))


def store_settings_get(*, location: Location | int) -> StoreSettings:
    """The store's settings (the defaults, unsaved, when it has none)."""
    location_id = location.pk if isinstance(location, Location) else location
    return StoreSettings.objects.filter(location_id=location_id).first() or StoreSettings(location_id=location_id)


@dataclass(frozen=True)
class QueueRow:
    """One line of a store's queue: what the queue page shows, read in one query for every work."""

    pk: int
    order_number: str
    kind: str
    status: str
    deadline: Any
    picked: int  # units picked and still wanted
    wanted: int  # units not rejected nor cancelled


def queue_rows(*, location: Location | int, statuses: Iterable[str] | None = None) -> list[QueueRow]:
    """The location's work as queue rows, soonest deadline first (open work unless ``statuses`` says
    which), with the units picked and wanted summed in SQL: one query, no model instances."""
    from django.db.models import Count, F, Sum
    from django.db.models.functions import Coalesce, Least

    location_id = location.pk if isinstance(location, Location) else location
    wanted = sorted(OPEN_STATUSES if statuses is None else set(statuses))
    still_wanted = F("lines__quantity") - F("lines__rejected") - F("lines__cancelled")
    rows = (Work.objects.filter(location_id=location_id, status__in=wanted)
            .values("pk", "order__external_id", "kind", "status", "deadline")
            .annotate(units_wanted=Coalesce(Sum(still_wanted), 0), units_picked=Coalesce(Sum(Least("lines__picked", still_wanted)), 0),
                      n=Count("lines"))
            .order_by("deadline", "pk"))
    return [QueueRow(pk=r["pk"], order_number=r["order__external_id"], kind=r["kind"], status=r["status"],
                     deadline=r["deadline"], picked=r["units_picked"], wanted=r["units_wanted"]) for r in rows]
