"""The admin's sidebar, built per request from the admin registry and the user's permissions.

Business models come in a merchandiser's groups and words; plumbing (idempotency records, the
outbox, routing decisions, postal centroids) and the operations tools (sync endpoints, dead
letters, partner tokens) sit in an "Operations" group that only users with those permissions see.
A model registered later (e.g. by a new app) still appears, under "More", so nothing is lost."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst

# (group title, [(app_label.model_name, material icon)]); each entry is titled by its model's
# verbose_name_plural, so that the menu and the page it opens say the same thing.
GROUPS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Orders", [
        ("orders.order", "shopping_bag"),
        ("orders.hold", "timer"),
        ("orders.routingprofile", "alt_route"),
        ("orders.lostsale", "remove_shopping_cart"),
    ]),
    ("Fulfillment", [
        ("fulfillment.work", "conveyor_belt"),
        ("fulfillment.pickuppolicy", "schedule"),
        ("fulfillment.locationsla", "timer_10_alt_1"),
        ("fulfillment.putbacktask", "undo"),
        ("fulfillment.notification", "mail"),
    ]),
    ("Stock", [
        ("inventory.stocklevel", "inventory"),
        ("inventory.stockmovement", "receipt_long"),
        ("inventory.reservation", "bookmark"),
        ("inventory.transfer", "local_shipping"),
        ("inventory.cyclecount", "fact_check"),
        ("inventory.counttask", "checklist"),
        ("inventory.importjob", "upload_file"),
        ("inventory.stocksnapshot", "photo_camera"),
        ("inventory.alert", "notifications"),
    ]),
    ("Catalogue & network", [
        ("inventory.product", "sell"),
        ("inventory.location", "store"),
        ("allocation.locationgroup", "workspaces"),
    ]),
    ("Channels & availability", [
        ("allocation.channel", "storefront"),
        ("allocation.channelvisibility", "visibility"),
        ("allocation.safetystockpolicy", "shield"),
        ("allocation.safetystockmodifier", "tune"),
        ("allocation.locationaccuracystat", "target"),
    ]),
    ("Operations", [
        ("allocation.channelsync", "sync"),
        ("allocation.syncmessage", "mark_email_unread"),
        ("access.partnertoken", "key"),
        ("access.staffassignment", "badge"),
        ("auth.user", "person"),
        ("auth.group", "group"),
        ("orders.routingdecision", "account_tree"),
        ("orders.idempotencyrecord", "fingerprint"),
        ("inventory.stockrequestkey", "key_vertical"),
        ("inventory.outboxevent", "outbox"),
        ("insights.kpifact", "database"),
        ("orders.postalcentroid", "pin_drop"),
    ]),
]


def _can_see(request: Any, model: Any, model_admin: Any) -> bool:
    return bool(model_admin.has_view_or_change_permission(request) or model_admin.has_add_permission(request))


def model_title(model: Any) -> str:
    """The menu title of a model: its plural name, first letter capitalised ("KPI snapshots" stays so)."""
    return capfirst(str(model._meta.verbose_name_plural))


def _item(request: Any, model: Any, icon: str) -> dict[str, Any] | None:
    info = (model._meta.app_label, model._meta.model_name)
    try:
        link = reverse("admin:%s_%s_changelist" % info)
    except NoReverseMatch:  # pragma: no cover - a registered model always has a changelist
        return None
    return {"title": model_title(model), "icon": icon, "link": link}


def sidebar(request: Any) -> list[dict[str, Any]]:
    registry = {m._meta.label_lower: (m, ma) for m, ma in admin.site._registry.items()}
    placed: set[str] = set()
    overview = [{"title": "Dashboard", "icon": "monitoring", "link": reverse("admin:index")}]
    if request.user.has_perm("allocation.view_channel"):
        overview.append({"title": "ATP explorer", "icon": "query_stats", "link": reverse("admin:allocation_atp_explorer")})
    groups = [{"title": "Overview", "separator": False, "items": overview}]
    for title, entries in GROUPS:
        items = []
        for label, icon in entries:
            placed.add(label)
            if label not in registry:
                continue
            model, model_admin = registry[label]
            if _can_see(request, model, model_admin):
                item = _item(request, model, icon)
                if item:
                    items.append(item)
        if items:
            groups.append({"title": title, "separator": True, "collapsible": title == "Operations", "items": items})
    more = []
    for label, (model, model_admin) in sorted(registry.items()):
        if label not in placed and _can_see(request, model, model_admin):
            item = _item(request, model, "chevron_right")
            if item:
                more.append(item)
    if more:
        groups.append({"title": "More", "separator": True, "collapsible": True, "items": more})
    return groups
