"""The admin's roles as Django groups with permissions: one table, applied by a migration, by
``python manage.py roles_sync`` (after new models arrive) and by the demo.

- merchandiser: runs the business: locations, products, stock operations, channels and their rules,
  safety stock, imports, orders (cancel, re-route, force allocation) and holds; not the plumbing,
  not the sync endpoints or partner tokens.
- planner: reads everything a merchandiser reads; changes only safety stock and channel quotas.
- operations: sync endpoints, sync messages and dead letters (resend), partner tokens, staff
  assignments, and the technical records (orders' and the stock API's idempotency keys, outbox,
  routing decisions, postal centroids, KPI snapshots), read-only.

Names are strings ("app_label.model"), so this module imports no app."""

from __future__ import annotations

from typing import Any

MERCHANDISER, PLANNER, OPERATIONS = "merchandiser", "planner", "operations"

_BUSINESS_VIEW = [
    "inventory.location", "inventory.product", "inventory.productbarcode", "inventory.stocklevel",
    "inventory.stockmovement", "inventory.reservation", "inventory.transfer", "inventory.cyclecount",
    "inventory.importjob", "inventory.stocksnapshot", "inventory.stocksnapshotline", "inventory.alert",
    "allocation.locationaccuracystat", "allocation.channel", "allocation.channelquota", "allocation.locationgroup",
    "allocation.channelvisibility", "allocation.safetystockpolicy", "allocation.safetystockmodifier",
    "orders.routingprofile", "orders.hold", "orders.holdline", "orders.order", "orders.orderline", "orders.allocation",
    "orders.orderevent", "fulfillment.work", "fulfillment.workline", "fulfillment.workevent",
    "fulfillment.pickupverification", "inventory.counttask", "inventory.counttaskline", "inventory.locationdayload",
    "orders.orderreturn", "orders.orderreturnline", "fulfillment.pickuppolicy", "fulfillment.notification",
    "fulfillment.putbacktask", "fulfillment.putbackline", "fulfillment.storesettings", "fulfillment.locationsla",
    "orders.lostsale",
]
_MERCHANDISER_EDIT = [
    "inventory.location", "inventory.product", "inventory.productbarcode", "inventory.stocklevel", "inventory.transfer",
    "inventory.importjob", "inventory.stocksnapshot", "inventory.alert", "allocation.channel", "allocation.channelquota",
    "allocation.locationgroup", "allocation.channelvisibility", "allocation.safetystockpolicy",
    "allocation.safetystockmodifier", "orders.routingprofile", "orders.order", "orders.hold", "inventory.counttask",
    "fulfillment.pickuppolicy", "fulfillment.storesettings", "fulfillment.work", "fulfillment.locationsla",
]
# Settings, not history: a merchandiser may delete these (each admin still refuses what has history).
_MERCHANDISER_DELETE = [
    "allocation.channelquota", "allocation.channelvisibility", "allocation.safetystockpolicy",
    "allocation.safetystockmodifier", "allocation.locationgroup", "allocation.channel",
]
_PLANNER_EDIT = ["allocation.safetystockpolicy", "allocation.safetystockmodifier", "allocation.channelquota"]
_OPERATIONS_EDIT = ["allocation.channelsync", "access.partnertoken", "access.staffassignment"]
_OPERATIONS_VIEW = [
    "allocation.syncmessage", "allocation.syncstate", "orders.idempotencyrecord", "orders.routingdecision",
    "orders.postalcentroid", "inventory.outboxevent", "insights.kpifact", "auth.user", "auth.group",
    "inventory.stockrequestkey",
]


def _perms(models: list[str], actions: tuple[str, ...]) -> set[str]:
    return {f"{m.split('.')[0]}.{a}_{m.split('.')[1]}" for m in models for a in actions}


ROLE_PERMISSIONS: dict[str, set[str]] = {
    MERCHANDISER: _perms(_BUSINESS_VIEW, ("view",)) | _perms(_MERCHANDISER_EDIT, ("add", "change"))
    | _perms(_MERCHANDISER_DELETE, ("delete",)),
    PLANNER: _perms(_BUSINESS_VIEW, ("view",)) | _perms(_PLANNER_EDIT, ("add", "change", "delete")),
    OPERATIONS: _perms(_BUSINESS_VIEW, ("view",)) | _perms(_OPERATIONS_EDIT, ("view", "add", "change", "delete"))
    | _perms(_OPERATIONS_VIEW, ("view",)) | {"allocation.change_syncmessage"},
}


def admin_roles_sync(*, group_model: Any, permission_model: Any) -> dict[str, int]:
    """Create or update the three groups so that each holds exactly its table's permissions (those
    that exist: a model not installed yet is skipped and picked up by the next sync). Returns the
    number of permissions per group. Takes the models so that a migration can pass its historical ones."""
    result = {}
    for name, wanted in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=name)
        perms = []
        for perm in sorted(wanted):
            app_label, codename = perm.split(".")
            found = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if found is not None:
                perms.append(found)
        group.permissions.set(perms)
        result[name] = len(perms)
    return result
