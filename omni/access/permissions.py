"""DRF permission classes over ``omni.access.roles``: one class per capability."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from .roles import Capability, can, principal_from_request


def capability(cap: Capability) -> type[BasePermission]:
    class _HasCapability(BasePermission):
        message = f"You may not {cap.value.replace('_', ' ')}."

        def has_permission(self, request, view) -> bool:
            return can(principal_from_request(request), cap)

    _HasCapability.__name__ = f"Can{''.join(p.title() for p in cap.value.split('_'))}"
    return _HasCapability


CanViewStock = capability(Capability.VIEW_STOCK)
CanMoveStock = capability(Capability.MOVE_STOCK)
CanManageCatalog = capability(Capability.MANAGE_CATALOG)
CanViewAvailability = capability(Capability.VIEW_AVAILABILITY)
CanPlaceOrders = capability(Capability.PLACE_ORDERS)
CanImportStock = capability(Capability.IMPORT_STOCK)
CanFulfil = capability(Capability.FULFIL)
IsMerchandiser = capability(Capability.ADMIN)
