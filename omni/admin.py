"""Admin building blocks every app may use (imports no app)."""

from __future__ import annotations

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by services (the ledger, reservations, orders, holds …): viewed in the
    admin, never added, edited or deleted there. The change page is view-only (no Save buttons),
    and the bulk delete action is gone with the delete permission."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
