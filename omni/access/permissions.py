"""DRF permission classes over ``omni.access.roles``: one class per capability."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .roles import Capability, can, principal_from_request


def capability(cap: Capability, *alternatives: Capability) -> type[BasePermission]:
    """A permission class granted by ``cap`` (or any of ``alternatives``)."""
    caps = (cap, *alternatives)

    class _HasCapability(BasePermission):
        message = f"You may not {cap.value.replace('_', ' ')}."

        def has_permission(self, request, view) -> bool:
            principal = principal_from_request(request)
            return any(can(principal, c) for c in caps)

    _HasCapability.__name__ = "Or".join(f"Can{''.join(p.title() for p in c.value.split('_'))}" for c in caps)
    return _HasCapability


CanViewStock = capability(Capability.VIEW_STOCK)
CanMoveStock = capability(Capability.MOVE_STOCK)
CanManageCatalog = capability(Capability.MANAGE_CATALOG)
CanViewAvailability = capability(Capability.VIEW_AVAILABILITY)
CanViewOrders = capability(Capability.VIEW_ORDERS)
CanPlaceOrders = capability(Capability.PLACE_ORDERS)
CanViewImports = capability(Capability.VIEW_IMPORTS)
CanImportStock = capability(Capability.IMPORT_STOCK)
CanViewWork = capability(Capability.VIEW_WORK)
CanFulfil = capability(Capability.FULFIL)
CanViewOrdersOrWork = capability(Capability.VIEW_ORDERS, Capability.VIEW_WORK)
IsMerchandiser = capability(Capability.ADMIN)


def by_method(*, read: type[BasePermission], write: type[BasePermission]) -> type[BasePermission]:
    """``read`` for GET/HEAD/OPTIONS, ``write`` for the rest: one view that lists and creates (or reads
    and releases) answers a read-only role's read and refuses its write."""

    class _ByMethod(BasePermission):
        def has_permission(self, request, view) -> bool:
            chosen = read if request.method in SAFE_METHODS else write
            self.message = chosen.message  # type: ignore[attr-defined]  # DRF reads the refusal's text here
            return chosen().has_permission(request, view)

    _ByMethod.__name__ = f"{read.__name__}Then{write.__name__}"
    return _ByMethod
