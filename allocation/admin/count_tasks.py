"""Admin for count tasks (``inventory.counting``): a merchandiser plans a task (a location and a
list of SKUs), follows it, and approves, sends back or cancels counted tasks. Lines are written
only by the services. It lives with allocation's admin because approving refreshes stock accuracy
(``allocation.accuracy``), which inventory may not import."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count

from allocation.accuracy.services import count_task_approve_scored
from inventory.counting.models import CountTask, CountTaskLine, CountTaskOrigin, CountTaskStatus
from inventory.counting.services import count_task_cancel, count_task_create, count_task_recount
from inventory.models import Product
from omni.admin import ModelAdmin, TabularInline, admin_apply_each


class CountTaskPlanForm(forms.ModelForm):
    skus = forms.CharField(
        label="SKUs", widget=forms.Textarea(attrs={"rows": 6}),
        help_text="The SKUs to count, one per line or separated by commas or spaces.",
    )

    class Meta:
        model = CountTask
        fields = ["location", "skus", "assigned_to", "due_at", "note"]

    def clean_skus(self) -> list[Product]:
        wanted = list(dict.fromkeys(s for s in re.split(r"[\s,;]+", self.cleaned_data["skus"]) if s))
        if not wanted:
            raise forms.ValidationError("Give at least one SKU.")
        found = {p.sku: p for p in Product.objects.filter(sku__in=wanted)}
        unknown = [s for s in wanted if s not in found]
        if unknown:
            raise forms.ValidationError(f"Unknown SKU(s): {', '.join(unknown[:20])}.")
        return [found[s] for s in wanted]


class CountTaskLineInline(TabularInline):
    model = CountTaskLine
    extra = 0
    can_delete = False
    fields = readonly_fields = ("product", "counted", "system_quantity", "variance", "cycle_count")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CountTask)
class CountTaskAdmin(ModelAdmin):
    list_display = ("id", "location", "origin", "status", "sku_count", "assigned_to", "due_at", "created_at", "counted_at")
    list_filter = ("status", "origin", "location__kind")
    search_fields = ("location__code", "location__name", "lines__product__sku", "reference")
    list_select_related = ("location", "assigned_to")
    autocomplete_fields = ("location",)
    actions = ("approve", "recount", "cancel")
    readonly_fields = ("location", "origin", "status", "reference", "note", "due_at", "assigned_to", "created_by", "created_at",
                       "counted_by", "counted_at", "approved_by", "approved_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_lines=Count("lines"))

    @admin.display(description="SKUs", ordering="n_lines")
    def sku_count(self, obj: CountTask) -> int:
        return obj.n_lines  # type: ignore[attr-defined]  # annotated by get_queryset

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = CountTaskPlanForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return CountTaskPlanForm.Meta.fields if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return [CountTaskLineInline] if obj is not None else []

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: CountTask, form: Any, change: bool) -> None:
        task = count_task_create(
            location=form.cleaned_data["location"], products=form.cleaned_data["skus"], origin=CountTaskOrigin.PLAN,
            created_by=request.user, assigned_to=form.cleaned_data.get("assigned_to"),
            due_at=form.cleaned_data.get("due_at"), note=form.cleaned_data.get("note") or "",
        )
        obj.pk = task.pk
        obj._state.adding = False

    def _each(self, request, queryset, service, verb: str, *statuses: str) -> None:
        admin_apply_each(self, request, queryset.filter(status__in=statuses).order_by("id"),
                         lambda task: service(task=task, actor=request.user), label="Count task", verb=verb)

    @admin.action(description="Approve: post the counted variances to the ledger")
    def approve(self, request, queryset):
        self._each(request, queryset, count_task_approve_scored, "approved", CountTaskStatus.COUNTED)

    @admin.action(description="Send back to count again")
    def recount(self, request, queryset):
        self._each(request, queryset, count_task_recount, "sent back", CountTaskStatus.COUNTED)

    @admin.action(description="Cancel open or counted tasks")
    def cancel(self, request, queryset):
        self._each(request, queryset, count_task_cancel, "cancelled", CountTaskStatus.OPEN, CountTaskStatus.COUNTED)
