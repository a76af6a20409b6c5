"""Today's work in the demo: open orders in every fulfillment state at several stores, count tasks,
customer notifications, put-back tasks, pickup policies and the channels' sync endpoints.

Unlike the history (``seed.py``, ``console.py``: bulk rows for speed), everything here goes through
the real services — order intake and routing, the store's pick/pack/ship/ready/hand-over, rejection
and re-route, pickup expiry, returns, count tasks — so each admin page and the store app's queue
show what the code itself writes. Only the settings rows that the admin edits and no service
writes (pickup policies, preparation promises) are created directly.

It runs after the history is committed, outside one big transaction, because the services send
their customer messages on commit; the demo's messages go to in-memory backends (nothing is printed
or sent), a phone number that is not in international form makes an SMS fail, as it would for real.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from django.contrib.auth import get_user_model
from django.test.utils import override_settings

from allocation.accuracy.services import count_task_approve_scored, count_task_submit_scored, location_accuracy_refresh
from allocation.models import Channel
from allocation.sync.models import ChannelSync, MessageKind, SyncMessage
from allocation.sync.publish import channel_sync_config, sync_event_publish
from allocation.sync.push import sync_channel_push
from fulfillment.models import LocationSLA, PickupPolicy, RejectReason, Work, WorkStatus
from fulfillment.services import Verification, hand_over, mark_ready, pack, pick, reject, ship, start_picking
from fulfillment.services.pickup import pickup_expire
from fulfillment.services.returns import store_return
from inventory.counting.models import CountTaskOrigin
from inventory.counting.services import count_task_create
from inventory.models import Location, LocationKind, Product, StockLevel
from omni.access.models import StaffAssignment
from omni.errors import OmniError
from orders.models import DeliveryMode
from orders.services import LineInput, OrderInput, ReturnItem, order_create

# Where customers collect and stores ship today: the demo associate's store first.
LIVE_STORES = 4
QUIET_MESSAGES = {
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "OMNI_SMS_BACKEND": "fulfillment.notifications.sms.LocmemSmsBackend",
}
FIRST_NAMES = ["Ayşe", "Mehmet", "Elif", "Can", "Zeynep", "Emre", "Selin", "Burak", "Deniz", "Ece", "Kerem", "Merve"]


@dataclass
class _Store:
    location: Location
    actor: Any
    skus: list[Product]
    store_only: list[Product]
    taken: set[int] = field(default_factory=set)

    def products(self, n: int, *, bopis: bool = True) -> list[Product]:
        """``n`` SKUs this store has plenty of and no order of today's demo uses yet (for a shipment,
        SKUs no warehouse holds, so that routing sends it here)."""
        free = [p for p in (self.skus if bopis else self.store_only) if p.pk not in self.taken][:n]
        self.taken.update(p.pk for p in free)
        return free


def _stores() -> list[_Store]:
    """The associate's store and the next stores that the web shop sells from (pickup needs that)."""
    staff = (StaffAssignment.objects.select_related("user", "location").filter(user__username__startswith="staff.")
             .order_by("id").first())
    candidates = list(Location.objects.filter(kind=LocationKind.STORE, can_pickup=True, can_ship=True, is_active=True).order_by("id"))
    if staff:
        candidates.sort(key=lambda loc: loc.pk != staff.location_id)
    # SKUs that only stores hold: a shipping order for them is routed to a store, not to the DC
    elsewhere = set(StockLevel.objects.filter(on_hand__gt=0, location__kind__in=[LocationKind.DC, LocationKind.WAREHOUSE,
                                                                             LocationKind.SUPPLIER])
                    .values_list("product_id", flat=True))
    stores = []
    for loc in candidates[:LIVE_STORES]:
        levels = list(StockLevel.objects.filter(location=loc, product__velocity_class__in=["B", "C"], reserved=0, on_hand__gte=2)
                      .select_related("product").order_by("-on_hand", "product_id")[:400])
        actor = staff.user if staff and loc.pk == staff.location_id else f"store {loc.code}"
        stores.append(_Store(location=loc, actor=actor, skus=[lv.product for lv in levels if lv.product_id in elsewhere and lv.on_hand >= 4][:40],
                             store_only=[lv.product for lv in levels if lv.product_id not in elsewhere][:12]))
    return stores


class _Orders:
    """Places today's orders through intake, numbered per seed."""

    def __init__(self, *, seed: int, rng: random.Random) -> None:
        self.seed, self.rng, self.n = seed, rng, 0
        self.web = Channel.objects.get(code="web")
        self.app = Channel.objects.filter(code="app").first() or self.web

    def place(self, store: _Store, products: list[Product], *, bopis: bool, quantities: list[int] | None = None,
              phone: str = "") -> Work | None:
        self.n += 1
        name = self.rng.choice(FIRST_NAMES)
        loc = store.location
        data = OrderInput(
            external_id=f"D{self.seed}-{self.n:04d}", customer_ref=f"C-{self.rng.randint(10000, 99999)}",
            lines=[LineInput(sku=p.sku, quantity=q, unit_price=p.price or Decimal("19.90"))
                   for p, q in zip(products, quantities or [1] * len(products), strict=True)],
            delivery_mode=DeliveryMode.BOPIS if bopis else DeliveryMode.STANDARD,
            pickup_location=loc.code if bopis else "", ship_name=f"{name} Demo",
            customer_email=f"{name.lower().replace('ş', 's').replace('ç', 'c').replace('ü', 'u')}.{self.n}@example.com",
            customer_phone=phone or f"+90 532 {self.rng.randint(100, 999)} {self.rng.randint(10, 99)} {self.rng.randint(10, 99)}",
            customer_language="tr" if loc.country == "TR" else "en",
            address=loc.address, city=loc.city, country=loc.country, latitude=loc.latitude, longitude=loc.longitude,
        )
        try:
            order = order_create(channel=self.web if self.n % 3 else self.app, data=data, actor="demo web shop")
        except OmniError:  # the store cannot promise these (held back for other channels): try other SKUs
            return None
        return Work.objects.filter(order=order, location=loc).order_by("pk").first()


def _pick_all(work: Work, actor: Any) -> Work:
    for line in list(work.lines.order_by("pk")):
        if line.to_pick:
            work = pick(work=work, line=line, qty=line.to_pick, actor=actor)
    return work


def _ready(work: Work, actor: Any) -> Work:
    return mark_ready(work=_pick_all(work, actor), actor=actor)


def _collect(work: Work, actor: Any, *, partial: bool = False) -> Work:
    work = _ready(work, actor)
    lines = list(work.lines.order_by("pk"))
    # partial: the customer takes one unit less of the first line (the rest goes back to sellable stock)
    quantities = {ln.pk: ln.ready_quantity - (1 if partial and i == 0 else 0) for i, ln in enumerate(lines)}
    return hand_over(work=work, quantities=quantities, actor=actor,
                     verification=Verification(collector_name=work.order.ship_name or "Customer", id_kind="national_id",
                                               id_last_digits="4821"))


def live_demo(*, seed: int) -> dict[str, int]:
    """Open and just-closed orders in every state, counts, notifications; see the module docstring."""
    # one line per eager task and per (deliberately) failed SMS: noise in `make run`'s output
    quiet = {name: logging.getLogger(name) for name in ("celery.app.trace", "fulfillment.notifications.services", "kombu.connection")}
    levels = {name: logger.level for name, logger in quiet.items()}
    for logger in quiet.values():
        logger.setLevel(logging.ERROR)
    try:
        with override_settings(**QUIET_MESSAGES):
            return _live_demo(seed=seed)
    finally:
        for name, logger in quiet.items():
            logger.setLevel(levels[name])


def _live_demo(*, seed: int) -> dict[str, int]:
    rng = random.Random(seed * 104_729 + 3)
    stores = [s for s in _stores() if len(s.skus) >= 12]
    if not stores or not Channel.objects.filter(code="web").exists():
        return {"orders": 0}
    _settings(stores)
    orders = _Orders(seed=seed, rng=rng)
    made: dict[str, int] = {}

    def run(state: str, store: _Store, n_products: int, then: Callable[[Work, Any], Any], *, bopis: bool = True,
            quantities: list[int] | None = None, phone: str = "") -> None:
        for _attempt in range(3):
            products = store.products(n_products, bopis=bopis)
            if len(products) < n_products:
                return
            work = orders.place(store, products, bopis=bopis, quantities=quantities, phone=phone)
            if work is not None:
                break
        else:
            return
        then(work, store.actor)
        made[state] = made.get(state, 0) + 1

    ship_stores = [s for s in stores if s.location.can_ship]
    for i, store in enumerate(stores):
        # the associate's store has a full queue; the others a few of each
        repeat = 2 if i == 0 else 1
        for _ in range(repeat):
            run("new", store, 2, lambda w, a: None)
            run("picking", store, 1, lambda w, a: pick(work=w, line=w.lines.earliest("pk"), qty=1, actor=a), quantities=[2])
            run("ready_for_pickup", store, 1, _ready)
        run("picked", store, 1, lambda w, a: _pick_all(w, a))
        run("packed", store, 1, lambda w, a: pack(work=_pick_all(w, a), box_type="bag", actor=a))  # bagged, not yet ready
        run("collected", store, 2, _collect)
        run("partially_collected", store, 1, lambda w, a: _collect(w, a, partial=True), quantities=[2])
        # an SMS that cannot go out: the phone number is not in international form
        run("ready_for_pickup", store, 1, _ready, phone="0532 555 12 34")
        run("expired", store, 1, lambda w, a: pickup_expire(work=_ready(w, a), actor="system"))
        run("returned", store, 1, lambda w, a: _returned(_collect(w, a), a))
    for store in ship_stores:  # ship from store; few SKUs only stores hold, so the likeliest states first
        run("rejected_rerouted", store, 1, lambda w, a: reject(
            work=w, quantities={w.lines.earliest("pk").pk: (1, RejectReason.NOT_FOUND)}, actor=a, note="not on the shelf"), bopis=False)
        run("shipped", store, 1, lambda w, a: ship(work=pack(work=_pick_all(w, a), box_type="S", actor=a),
                                                   tracking_number=f"YK{rng.randint(10**9, 10**10 - 1)}", carrier="Yurtiçi Kargo",
                                                   actor=a), bopis=False)
        run("packed", store, 1, lambda w, a: pack(work=_pick_all(w, a), box_type="M", actor=a), bopis=False)
        run("picking_shipment", store, 1, lambda w, a: start_picking(work=w, actor=a), bopis=False)
        run("new_shipment", store, 1, lambda w, a: None, bopis=False)
    made["count_tasks"] = _count_tasks(stores, rng)
    location_accuracy_refresh()
    made["dead_letters"] = _refused_pushes()
    made["orders"] = orders.n
    return made


class _Gone(BaseHTTPRequestHandler):
    """A partner endpoint that was retired: every POST answers 410 Gone."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(410)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        return


def _refused_pushes() -> int:
    """The web channel's two latest partner events (shipped, ready for pickup …) sent again to a partner endpoint that answers
    410 Gone (a local one, for the length of the push): the real push dead-letters them and raises
    the alert, so the dashboard's "needs attention" and the dead-letter list have something to show.
    The channel goes back to polling the feed afterwards."""
    channel = Channel.objects.filter(code="web").first()
    events = list(SyncMessage.objects.filter(channel=channel, kind=MessageKind.EVENT).order_by("-id")[:2])
    if channel is None or not events:
        return 0
    server = HTTPServer(("127.0.0.1", 0), _Gone)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        ChannelSync.objects.filter(channel=channel).update(url=f"http://127.0.0.1:{server.server_port}/omni/stock-events")
        for event in reversed(events):
            sync_event_publish(channel=channel, kind=event.event, payload=event.payload)
        return sync_channel_push(channel_id=channel.pk, ignore_backoff=True).dead
    finally:
        ChannelSync.objects.filter(channel=channel).update(url="")
        server.shutdown()
        server.server_close()


def _returned(work: Work, actor: Any) -> None:
    line = work.order.lines.earliest("line_no")
    store_return(location=work.pickup_location or work.location, query=work.order.external_id, actor=actor,
                 items=[ReturnItem(line_no=line.line_no, quantity=1, resellable=True)], reason="wrong size",
                 external_id=f"RET-{work.order.external_id}")


def _count_tasks(stores: list[_Store], rng: random.Random) -> int:
    """At each store: one count to do (the merchandiser's plan) and one counted and approved."""
    User = get_user_model()
    planner = User.objects.filter(username="merchandiser").first()
    made = 0
    for store in stores:
        levels = list(StockLevel.objects.filter(location=store.location, on_hand__gt=0).exclude(product_id__in=store.taken)
                      .select_related("product").order_by("product_id")[:8])
        if len(levels) < 8:
            continue
        count_task_create(location=store.location, products=[lv.product for lv in levels[:4]], origin=CountTaskOrigin.PLAN,
                          created_by=planner, note="Weekly A-class count")
        done = count_task_create(location=store.location, products=[lv.product for lv in levels[4:]], origin=CountTaskOrigin.AD_HOC,
                                 created_by=planner, note="Shelf check after the weekend")
        counts = {lv.product.sku: max(lv.on_hand - (1 if rng.random() < 0.3 else 0), 0) for lv in levels[4:]}
        done = count_task_submit_scored(task=done, counts=counts, actor=store.actor if not isinstance(store.actor, str) else None)
        if done.status == "counted":
            count_task_approve_scored(task=done, actor=planner)
        made += 2
    return made


def _settings(stores: list[_Store]) -> None:
    """Each live store's pickup policy and preparation promise; a sync endpoint for every channel
    (no webhook: the channels poll the delta feed)."""
    for i, store in enumerate(stores):
        PickupPolicy.objects.update_or_create(location=store.location, defaults={
            "reminder_after_hours": (24, 12, 48, 24)[i % 4], "expire_after_days": (7, 5, 10, 7)[i % 4]})
        LocationSLA.objects.update_or_create(location=store.location, defaults={
            "bopis_hours": Decimal("2"), "ship_hours": Decimal("24"), "opens_at": time(10), "closes_at": time(22)})
    for channel in Channel.objects.order_by("pk"):
        channel_sync_config(channel=channel)
