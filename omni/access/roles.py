"""Who may see or do what: the one place where permissions are decided.

Three kinds of principal:
- head office (``Role.MERCHANDISER``): active staff users of the Django admin, not limited by channel or
  location; through the API they may do what their admin role allows (``_ADMIN_CAPABILITY``: a
  superuser or a merchandiser everything, a planner or operations user read-only), read from the
  database on every request, so that a role taken away is refused at the next request;
- store staff: users bound to one or more locations (``StaffAssignment``); may read
  stock anywhere, and move stock or work orders only at their own locations; a store
  manager (``StaffRole.MANAGER`` at that store) may also manage the store (``MANAGE_STORE``);
- partner systems: a ``PartnerToken`` of one channel, limited to its scopes, its own channel
  and, for stock writes, to its locations when it has any.

Every entry point (API permission classes, staff pages, admin) asks ``can`` / ``require``; a
service below this app gets what it needs as plain values (``permitted_location_ids``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from allocation.models import Channel
from allocation.selectors import channel_location_ids
from omni.errors import Forbidden

from .models import PartnerToken, StaffAssignment, StaffRole


class Role(enum.StrEnum):
    MERCHANDISER = "merchandiser"
    STORE_STAFF = "store_staff"
    PARTNER = "partner"
    NONE = "none"


class Capability(enum.StrEnum):
    VIEW_STOCK = "view_stock"
    MOVE_STOCK = "move_stock"
    MANAGE_CATALOG = "manage_catalog"
    VIEW_AVAILABILITY = "view_availability"
    VIEW_ORDERS = "view_orders"
    PLACE_ORDERS = "place_orders"
    VIEW_WORK = "view_work"
    FULFIL = "fulfil"
    VIEW_IMPORTS = "view_imports"
    IMPORT_STOCK = "import_stock"
    MANAGE_STORE = "manage_store"  # reject whole orders, set capacity, pause new work, approve counts
    ADMIN = "admin"


# Partner scopes (``Scope`` values) that grant each capability.
_PARTNER_SCOPE = {
    Capability.VIEW_STOCK: "stock:read",
    Capability.MOVE_STOCK: "stock:write",
    Capability.VIEW_AVAILABILITY: "availability:read",
    Capability.VIEW_ORDERS: "orders:write",
    Capability.PLACE_ORDERS: "orders:write",
    Capability.VIEW_IMPORTS: "imports:write",
    Capability.IMPORT_STOCK: "imports:write",
    Capability.VIEW_WORK: "fulfillment:write",
    Capability.FULFIL: "fulfillment:write",
}
_STAFF_CAPABILITIES = {Capability.VIEW_STOCK, Capability.MOVE_STOCK, Capability.FULFIL, Capability.VIEW_WORK,
                       Capability.VIEW_AVAILABILITY}
# Capabilities that are bound to a location for the roles that have location limits.
_LOCATION_BOUND = {Capability.MOVE_STOCK, Capability.FULFIL, Capability.VIEW_WORK, Capability.IMPORT_STOCK,
                   Capability.MANAGE_STORE}
# Head office through the API: each capability is what this admin permission allows in the admin
# (``omni.access.groups``: a merchandiser changes stock, orders and work; a planner and operations
# only view them). One table, so the API never lets an admin role do what its admin pages refuse.
_ADMIN_CAPABILITY = {
    Capability.VIEW_STOCK: "inventory.view_stocklevel",
    Capability.MOVE_STOCK: "inventory.change_stocklevel",
    Capability.MANAGE_CATALOG: "inventory.change_product",
    Capability.VIEW_AVAILABILITY: "allocation.view_channel",
    Capability.VIEW_ORDERS: "orders.view_order",
    Capability.PLACE_ORDERS: "orders.change_order",
    Capability.VIEW_WORK: "fulfillment.view_work",
    Capability.FULFIL: "fulfillment.change_work",
    Capability.VIEW_IMPORTS: "inventory.view_importjob",
    Capability.IMPORT_STOCK: "inventory.add_importjob",
    Capability.MANAGE_STORE: "fulfillment.change_storesettings",
    Capability.ADMIN: "inventory.change_stocklevel",  # the ledger check: those who correct stock
}


@dataclass(frozen=True)
class Principal:
    role: Role
    user: Any = None
    channel_id: int | None = None
    location_ids: frozenset[int] | None = None  # None: not limited by location
    scopes: frozenset[str] = frozenset()
    token: Any = None
    managed_location_ids: frozenset[int] = frozenset()  # store staff: where they are the store manager
    capabilities: frozenset[Capability] = frozenset()  # head office: what their admin role allows

    @property
    def is_merchandiser(self) -> bool:
        return self.role is Role.MERCHANDISER

    @property
    def is_partner(self) -> bool:
        return self.role is Role.PARTNER


def principal_for(user: Any, auth: Any = None) -> Principal:
    """Build the principal from an authenticated user (and the token DRF put in ``request.auth``)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Principal(role=Role.NONE)
    token = auth if isinstance(auth, PartnerToken) else None
    if token is None and hasattr(user, "partner_token"):
        try:
            token = user.partner_token
        except PartnerToken.DoesNotExist:
            token = None
    if token is not None:
        if not token.is_active:
            return Principal(role=Role.NONE)
        loaded = getattr(token, "location_id_list", None)  # loaded with the token (omni.access.auth)
        locs = frozenset(loaded if loaded is not None else token.locations.values_list("id", flat=True))
        return Principal(
            role=Role.PARTNER, user=user, channel_id=token.channel_id, location_ids=locs or None,
            scopes=frozenset(token.scopes or []), token=token,
        )
    if user.is_staff:
        capabilities = _admin_capabilities(user)
        if capabilities:
            return Principal(role=Role.MERCHANDISER, user=user, capabilities=capabilities)
    assignments = list(StaffAssignment.objects.filter(user=user).values_list("location_id", "role"))
    if assignments:
        return Principal(
            role=Role.STORE_STAFF, user=user, location_ids=frozenset(loc for loc, _ in assignments),
            managed_location_ids=frozenset(loc for loc, role in assignments if role == StaffRole.MANAGER),
        )
    return Principal(role=Role.NONE, user=user)


def _admin_capabilities(user: Any) -> frozenset[Capability]:
    """What a staff user's admin role allows through the API (every capability for a superuser)."""
    if user.is_superuser:
        return frozenset(Capability)
    granted = user.get_all_permissions()  # from the database: this request's user object, no cache across requests
    return frozenset(cap for cap, perm in _ADMIN_CAPABILITY.items() if perm in granted)


def principal_from_request(request: Any) -> Principal:
    cached = getattr(request, "_omni_principal", None)
    if cached is None:
        cached = principal_for(getattr(request, "user", None), getattr(request, "auth", None))
        try:
            request._omni_principal = cached
        except AttributeError:
            pass
    return cached


def can(principal: Principal, capability: Capability, *, location_id: int | None = None, channel_id: int | None = None) -> bool:
    """May this principal do this (at this location, for this channel)?"""
    role = principal.role
    if role is Role.MERCHANDISER:
        return capability in principal.capabilities
    if role is Role.STORE_STAFF:
        if capability is Capability.MANAGE_STORE:
            # Only at a store they manage; without a location: do they manage any store?
            return location_id in principal.managed_location_ids if location_id is not None else bool(principal.managed_location_ids)
        if capability not in _STAFF_CAPABILITIES:
            return False
        if capability in _LOCATION_BOUND and location_id is not None:
            return location_id in (principal.location_ids or ())
        if capability in _LOCATION_BOUND:
            return True  # the caller checks each location it acts at
        return True
    if role is Role.PARTNER:
        scope = _PARTNER_SCOPE.get(capability)
        if scope is None or scope not in principal.scopes:
            return False
        if channel_id is not None and channel_id != principal.channel_id:
            return False
        if capability in _LOCATION_BOUND and location_id is not None and principal.location_ids is not None:
            return location_id in principal.location_ids
        return True
    return False


def require(principal: Principal, capability: Capability, *, location_id: int | None = None, channel_id: int | None = None,
            what: str = "") -> None:
    if not can(principal, capability, location_id=location_id, channel_id=channel_id):
        target = f" {what}" if what else ""
        raise Forbidden(f"You may not {capability.value.replace('_', ' ')}{target}.", code="permission_denied")


def permitted_location_ids(principal: Principal, capability: Capability) -> frozenset[int] | None:
    """Where this principal may do a location-bound ``capability`` (move stock, import stock, fulfil):
    ``None`` means at any location, an empty set nowhere. What a service below this app takes
    instead of a principal (``stock_movements_apply(location_ids=)``, ``stock_import_create(location_ids=)``)."""
    if not can(principal, capability):
        return frozenset()
    if principal.role is Role.MERCHANDISER:
        return None
    return principal.location_ids


def readable_location_ids(principal: Principal) -> frozenset[int] | None:
    """Locations whose stock this principal may read; ``None`` means every location.

    Merchandisers and store staff read stock everywhere (staff look up a neighbour store for a
    customer). A partner token reads the locations it is limited to, else the locations its
    channel may sell from (the channel's visibility rules); nothing without ``stock:read``.
    """
    if principal.role in (Role.MERCHANDISER, Role.STORE_STAFF):
        return None
    if principal.role is Role.PARTNER and can(principal, Capability.VIEW_STOCK):
        if principal.location_ids is not None:
            return principal.location_ids
        if principal.channel_id is None:
            return frozenset()
        channel = Channel.objects.filter(pk=principal.channel_id).first()
        return frozenset(channel_location_ids(channel=channel)) if channel is not None else frozenset()
    return frozenset()


def movement_source_for(principal: Principal, requested: str | None) -> str:
    """The ``source`` (idempotency namespace) a principal's stock movements are recorded under.

    A partner token always posts as its channel code. Merchandisers name any source (an ERP
    backfill posts as ``erp``). Store staff may name a source, but not a channel's code: they
    cannot post into a partner's external-id namespace (and so block or replay its ids).
    """
    requested = (requested or "").strip()[:64]
    if principal.is_partner:
        own = principal.token.channel.code
        if requested and requested != own:
            raise Forbidden(f"This token posts as {own!r}; it cannot post as {requested!r}.", code="source_mismatch",
                            details={"source": [f"Must be {own!r} or omitted."]})
        return own
    if principal.role is Role.STORE_STAFF and requested and Channel.objects.filter(code=requested).exists():
        raise Forbidden(f"{requested!r} is a sales channel's source; store staff cannot post as a channel.",
                        code="source_forbidden", details={"source": ["A channel's code."]})
    return requested or "omni"
