"""Admin building blocks every app may use (imports no app).

Every admin class derives from these, so that the whole admin wears one theme (django-unfold):
``ModelAdmin``, ``TabularInline``, ``StackedInline`` and ``ImportExportModelAdmin`` are the
themed classes; ``ReadOnlyAdmin`` is for records only services write."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.filters import FieldListFilter
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import FieldDoesNotExist
from django.db import models

from omni.errors import OmniError

from import_export.admin import ImportExportMixin as _ImportExportMixin
from unfold.admin import ModelAdmin as _UnfoldModelAdmin
from unfold.admin import StackedInline as _UnfoldStackedInline
from unfold.admin import TabularInline as _UnfoldTabularInline
from unfold.contrib.import_export.forms import ExportForm, ImportForm


class PlaceholderAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete select, saying what to type while it is empty (Django always blanks
    ``data-placeholder``)."""

    def __init__(self, *args, placeholder: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.placeholder = placeholder

    def build_attrs(self, base_attrs, extra_attrs=None):
        attrs = super().build_attrs(base_attrs, extra_attrs=extra_attrs)
        attrs["data-placeholder"] = self.placeholder
        return attrs


# A list's column and filter headed by a field whose verbose name reads as code ("is active",
# "allows dropship", "bopis hours") gets these words instead; ``ModelAdmin.column_labels`` adds or
# overrides per admin. Only plain fields (no choices, no relations): the column shows the raw value
# the way the admin shows any value (a tick or a cross for a boolean, dates and numbers localized).
COLUMN_LABELS: dict[str, str] = {
    "is_active": "Active",
    "allows_dropship": "Drop-ship",
    "can_ship": "Ships orders",
    "can_pickup": "Pickup",
    "pool_could_cover": "Pool could cover",
    "bopis_hours": "BOPIS hours",
    "ship_to_store_hours": "Ship-to-store hours",
    "external_id": "External ID",
    "order_ref": "Order",
    "last_error": "Last error",
}


def _field_column(name: str, label: str, field: models.Field) -> Any:
    def column(obj: models.Model) -> Any:
        return getattr(obj, name)

    column.__name__ = column.__qualname__ = name
    return admin.display(description=label, boolean=isinstance(field, models.BooleanField), ordering=name)(column)


def _titled_filter(field: models.Field, title: str) -> type[FieldListFilter]:
    """The filter Django would pick for this field, under this title."""
    # the registry Django itself picks from (FieldListFilter.create); the stubs do not declare it
    base = next(cls for test, cls in FieldListFilter._field_list_filters if test(field))  # type: ignore[attr-defined]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        base.__init__(self, *args, **kwargs)
        self.title = title

    return type(f"Titled{base.__name__}", (base,), {"__init__": __init__})


class ModelAdmin(_UnfoldModelAdmin):
    """The project's ModelAdmin: the theme's, with rows per page sized for a working list,
    autocomplete fields that say what to do while empty ("Type to find a location…"), and column
    and filter headings in words (``COLUMN_LABELS``, ``column_labels``)."""

    list_per_page = 50
    warn_unsaved_form = True
    column_labels: dict[str, str] = {}

    def _label_of(self, name: Any) -> tuple[str, models.Field] | None:
        if not isinstance(name, str) or name in self.list_editable or name in (self.list_display_links or ()):
            return None
        label = self.column_labels.get(name) or COLUMN_LABELS.get(name)
        if label is None:
            return None
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        if field.is_relation or field.choices or not isinstance(field, models.Field):
            return None
        return label, field

    def get_list_display(self, request):
        shown = []
        for name in super().get_list_display(request):
            found = self._label_of(name)
            shown.append(_field_column(name, *found) if found else name)
        return shown

    def get_list_filter(self, request):
        shown = []
        for spec in super().get_list_filter(request):
            found = self._label_of(spec)
            shown.append((spec, _titled_filter(found[1], found[0])) if found else spec)
        return shown

    # Why the list may be empty, said on the empty list (None: a sentence built from the model's name
    # and whether it can be added here).
    empty_message: str | None = None

    def get_changelist_instance(self, request):
        cl = super().get_changelist_instance(request)
        for key, value in self._empty_list_context(request).items():  # read by templates/unfold/helpers/empty_results.html
            setattr(cl, key, value)
        return cl

    def _empty_list_context(self, request) -> dict[str, str]:
        """What the empty list says instead of the theme's "This page yielded into no results. Create
        a new item …": why it is empty, and a way out (the filters lifted) where one helps."""
        plural = str(self.model._meta.verbose_name_plural)
        defaults = [f for f in self.list_filter if isinstance(f, type) and issubclass(f, DefaultListFilter)
                    and f.parameter_name not in request.GET]
        query = (request.GET.get("q") or "").strip()
        chosen = [k for k in request.GET if k not in ("o", "p", "q", "e", "_changelist_filters")]
        if query:
            message = f"No {plural} match “{query}”{' with these filters' if chosen or defaults else ''}."
        elif chosen or defaults:
            message = f"No {plural} match these filters."
            if defaults:
                message += f" The list opens on {', '.join(str(f.title) for f in defaults)}: {defaults[0].default_description}."
        elif self.empty_message:
            message = self.empty_message
        elif self.has_add_permission(request):
            message = f"No {plural} yet: add the first one with the + button."
        else:
            message = f"No {plural} yet. Omni records them as the work happens; they are not added by hand."
        show_all = "?" + "&".join(f"{f.parameter_name}={DefaultListFilter.ALL}" for f in defaults) if defaults else ""
        return {"empty_message": message, "empty_show_all": show_all}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            target = db_field.remote_field.model._meta.verbose_name
            kwargs["widget"] = PlaceholderAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"),
                                                             placeholder=f"Type to find a {target}…")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


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


class DefaultListFilter(admin.SimpleListFilter):
    """A list filter with a default choice, applied when the address names none, so that a list of
    thousands opens on the rows a merchandiser looks at first; its "All" choice (``all``) lifts it.
    Subclasses give ``title``, ``parameter_name``, ``default``, ``lookups`` and ``filter``."""

    default: str = ""
    default_description: str = "a default choice"
    ALL = "all"

    def value(self):
        value = super().value()
        return self.default if value is None else value

    def choices(self, changelist):
        for lookup, title in [*self.lookup_choices, (self.ALL, "All")]:
            yield {"selected": self.value() == str(lookup), "display": title,
                   "query_string": changelist.get_query_string({self.parameter_name: lookup})}

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value in (None, "", self.ALL) else self.filter(queryset, value)

    def filter(self, queryset, value: str):  # pragma: no cover - every subclass says how
        raise NotImplementedError


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
