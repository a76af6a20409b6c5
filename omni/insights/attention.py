"""What needs attention now, each item with a link to the page where it is fixed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode

from allocation.sync.models import MessageStatus, SyncMessage, SyncState
from fulfillment.models import OPEN_STATUSES, Work, WorkStatus
from inventory.models import Alert
from orders.models import LineStatus, OrderLine, OrderStatus

UNCOLLECTED_AFTER = timedelta(hours=48)
SYNC_WAITING_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Attention:
    what: str
    count: int
    link: str
    level: str  # "bad" | "warn"


def _url(name: str, **params: Any) -> str:
    try:
        url = reverse(name)
    except NoReverseMatch:
        return ""
    return f"{url}?{urlencode(params)}" if params else url


def attention_now(*, now=None) -> list[Attention]:
    now = now or timezone.now()
    items = []
    alerts = Alert.objects.filter(acknowledged_at__isnull=True)
    drift = alerts.filter(kind="ledger_drift").count()
    other = alerts.exclude(kind="ledger_drift").count()
    if drift:
        items.append(Attention("stock rows disagree with their ledger (ledger drift)", drift,
                               _url("admin:inventory_alert_changelist", kind="ledger_drift"), "bad"))
    if other:
        items.append(Attention("alerts not yet acknowledged", other, _url("admin:inventory_alert_changelist"), "warn"))
    backordered = OrderLine.objects.filter(status=LineStatus.BACKORDERED).count()
    if backordered:
        items.append(Attention("order lines backordered, waiting for stock", backordered,
                               _url("admin:orders_order_changelist", status__exact=OrderStatus.BACKORDERED), "warn"))
    dead = SyncMessage.objects.filter(status=MessageStatus.DEAD).count()
    if dead:
        items.append(Attention("sync messages dead-lettered (a channel did not take them)", dead,
                               _url("admin:allocation_syncmessage_changelist", status__exact=MessageStatus.DEAD), "bad"))
    waiting = SyncState.objects.filter(dirty_since__lt=now - SYNC_WAITING_AFTER).count()
    if waiting:
        items.append(Attention("SKUs whose stock change waits more than 5 min to reach a channel (drift)", waiting,
                               _url("admin:allocation_channelsync_changelist"), "warn"))
    late = Work.objects.filter(status__in=list(OPEN_STATUSES), deadline__lt=now).exclude(status=WorkStatus.READY_FOR_PICKUP)
    late_count = late.count()
    if late_count:
        stores = late.values("location_id").distinct().count()
        items.append(Attention(f"shipments or pickups past their deadline at {stores} location(s)", late_count,
                               _url("admin:fulfillment_work_changelist", status__in=",".join(sorted(OPEN_STATUSES))), "bad"))
    uncollected = Work.objects.filter(status=WorkStatus.READY_FOR_PICKUP, ready_at__lt=now - UNCOLLECTED_AFTER).count()
    if uncollected:
        items.append(Attention("pickups ready for more than 48 h, not yet collected", uncollected,
                               _url("admin:fulfillment_work_changelist", status__exact=WorkStatus.READY_FOR_PICKUP), "warn"))
    return items
