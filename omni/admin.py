"""Admin building blocks every app may use (imports no app)."""

from __future__ import annotations

from django.contrib import admin, messages

from omni.errors import OmniError


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


def admin_apply_each(model_admin: admin.ModelAdmin, request, objects, act, *, label: str, verb: str) -> int:
    """An admin action's loop: ``act(obj)`` for each object, one error message per refusal
    (``OmniError``: the service's own words), then how many were ``verb``."""
    done = 0
    for obj in objects:
        try:
            act(obj)
            done += 1
        except OmniError as exc:
            model_admin.message_user(request, f"{label} {obj.pk}: {exc.message}", level=messages.ERROR)
    model_admin.message_user(request, f"{done} {label.lower()}(s) {verb}.")
    return done
