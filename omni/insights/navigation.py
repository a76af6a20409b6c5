"""The admin's sidebar, built per request from the admin registry and the user's permissions.

Business models come in a merchandiser's groups and words; plumbing (idempotency records, the
outbox, routing decisions, postal centroids) and the operations tools (sync endpoints, dead
letters, partner tokens) sit in an "Operations" group that only users with those permissions see.
A model registered later (e.g. by a new app) still appears, under "More", so nothing is lost."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.urls import NoReverseMatch, reverse

# (group title, [(app_label.model_name, menu title, material icon)])
GROUPS: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("Orders", [
        ("orders.order", "Orders", "shopping_bag"),
        ("orders.hold", "Checkout holds", "timer"),
        ("orders.routingprofile", "Routing profiles", "alt_route"),
        ("orders.lostsale", "Lost sales (refused demand)", "remove_shopping_cart"),
    ]),
    ("Fulfillment", [
        ("fulfillment.work", "Store & warehouse work", "conveyor_belt"),
        ("fulfillment.pickuppolicy", "Pickup policies", "schedule"),
        ("fulfillment.putbacktask", "Put-back tasks", "undo"),
        ("fulfillment.notification", "Customer notifications", "mail"),
    ]),
    ("Stock", [
        ("inventory.stocklevel", "Stock levels", "inventory"),
        ("inventory.stockmovement", "Stock ledger", "receipt_long"),
        ("inventory.reservation", "Reservations", "bookmark"),
        ("inventory.transfer", "Transfers", "local_shipping"),
        ("inventory.cyclecount", "Cycle counts", "fact_check"),
        ("inventory.counttask", "Count tasks", "checklist"),
        ("inventory.importjob", "Stock file imports", "upload_file"),
        ("inventory.stocksnapshot", "Inbound stock snapshots", "photo_camera"),
        ("inventory.alert", "Alerts", "notifications"),
    ]),
    ("Catalogue & network", [
        ("inventory.product", "Products", "sell"),
        ("inventory.location", "Locations", "store"),
        ("allocation.locationgroup", "Location groups", "workspaces"),
    ]),
    ("Channels & availability", [
        ("allocation.channel", "Channels", "storefront"),
        ("allocation.channelvisibility", "Channel visibility", "visibility"),
        ("allocation.safetystockpolicy", "Safety stock", "shield"),
        ("allocation.safetystockmodifier", "Safety-stock modifiers", "tune"),
        ("allocation.locationaccuracystat", "Stock accuracy by location", "target"),
    ]),
    ("Operations", [
        ("allocation.channelsync", "Channel sync endpoints", "sync"),
        ("allocation.syncmessage", "Sync messages & dead letters", "mark_email_unread"),
        ("access.partnertoken", "Partner API tokens", "key"),
        ("access.staffassignment", "Store staff assignments", "badge"),
        ("auth.user", "Users", "person"),
        ("auth.group", "Roles (groups)", "group"),
        ("orders.routingdecision", "Routing decisions", "account_tree"),
        ("orders.idempotencyrecord", "Idempotency records", "fingerprint"),
        ("inventory.outboxevent", "Outbox", "outbox"),
        ("insights.kpifact", "KPI snapshots", "database"),
        ("orders.postalcentroid", "Postal centroids", "pin_drop"),
    ]),
]


def _can_see(request: Any, model: Any, model_admin: Any) -> bool:
    return bool(model_admin.has_view_or_change_permission(request) or model_admin.has_add_permission(request))


def _item(request: Any, model: Any, title: str, icon: str) -> dict[str, Any] | None:
    info = (model._meta.app_label, model._meta.model_name)
    try:
        link = reverse("admin:%s_%s_changelist" % info)
    except NoReverseMatch:  # pragma: no cover - a registered model always has a changelist
        return None
    return {"title": title, "icon": icon, "link": link}


def sidebar(request: Any) -> list[dict[str, Any]]:
    registry = {m._meta.label_lower: (m, ma) for m, ma in admin.site._registry.items()}
    placed: set[str] = set()
    overview = [{"title": "Dashboard", "icon": "monitoring", "link": reverse("admin:index")}]
    if request.user.has_perm("allocation.view_channel"):
        overview.append({"title": "ATP explorer", "icon": "query_stats", "link": reverse("admin:allocation_atp_explorer")})
    groups = [{"title": "Overview", "separator": False, "items": overview}]
    for title, entries in GROUPS:
        items = []
        for label, item_title, icon in entries:
            placed.add(label)
            if label not in registry:
                continue
            model, model_admin = registry[label]
            if _can_see(request, model, model_admin):
                item = _item(request, model, item_title, icon)
                if item:
                    items.append(item)
        if items:
            groups.append({"title": title, "separator": True, "collapsible": title == "Operations", "items": items})
    more = []
    for label, (model, model_admin) in sorted(registry.items()):
        if label not in placed and _can_see(request, model, model_admin):
            item = _item(request, model, str(model._meta.verbose_name_plural).capitalize(), "chevron_right")
            if item:
                more.append(item)
    if more:
        groups.append({"title": "More", "separator": True, "collapsible": True, "items": more})
    return groups
