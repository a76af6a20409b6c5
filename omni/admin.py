"""Admin building blocks every app may use (imports no app).

Every admin class derives from these, so that the whole admin wears one theme (django-unfold):
``ModelAdmin``, ``TabularInline``, ``StackedInline`` and ``ImportExportModelAdmin`` are the
themed classes; ``ReadOnlyAdmin`` is for records only services write."""

from __future__ import annotations

from django.contrib import admin, messages

from omni.errors import OmniError

from import_export.admin import ImportExportMixin as _ImportExportMixin
from unfold.admin import ModelAdmin as _UnfoldModelAdmin
from unfold.admin import StackedInline as _UnfoldStackedInline
from unfold.admin import TabularInline as _UnfoldTabularInline
from unfold.contrib.import_export.forms import ExportForm, ImportForm


class ModelAdmin(_UnfoldModelAdmin):
    """The project's ModelAdmin: the theme's, with rows per page sized for a working list."""

    list_per_page = 50
    warn_unsaved_form = True


class TabularInline(_UnfoldTabularInline):
    """A table of rows: the theme's row title (each row's ``str()``, e.g. "155/1: 2 × 214") is hidden,
    the columns say what the row is."""

    hide_title = True


class StackedInline(_UnfoldStackedInline):
    pass


class ImportExportMixin(_ImportExportMixin):
    """django-import-export in the theme's forms."""

    import_form_class = ImportForm
    export_form_class = ExportForm


class ImportExportModelAdmin(ImportExportMixin, ModelAdmin):
    pass


class ReadOnlyAdmin(ModelAdmin):
    """Records written only by services (the ledger, reservations, orders, holds …): viewed in the
    admin, never added, edited or deleted there. The change page is view-only (no Save buttons),
    and the bulk delete action is gone with the delete permission."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class PlumbingAdmin(ReadOnlyAdmin):
    """Technical records (idempotency records, the outbox, routing decisions, postal centroids):
    read-only, and left out of the merchandiser's menu; the operations role and superusers see
    them (the role's permissions decide who may view them)."""


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
