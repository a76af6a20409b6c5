"""Admin for imports: django-import-export on locations, products and stock levels, and the
stock-file import pages (upload; job page with a live progress bar; errors as CSV).

Loaded by one line at the end of ``inventory/admin.py``, whose Location, Product and StockLevel
admins carry ``ImportExportMixin`` with the resources of ``inventory/resources.py``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from omni.admin import ModelAdmin

from omni.errors import OmniError
from omni.access.roles import Capability, can, permitted_location_ids, principal_for

from .imports.models import ImportJob, ImportMode
from .imports.selectors import import_errors_csv, import_job_progress
from .imports.services import stock_import_cancel, stock_import_create
from .models import Location


class StockImportForm(forms.Form):
    file = forms.FileField(help_text="CSV (UTF-8, comma or semicolon): sku, location, quantity[, note].")
    mode = forms.ChoiceField(choices=ImportMode.choices, initial=ImportMode.SNAPSHOT, widget=forms.RadioSelect)
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(is_active=True), required=False, to_field_name="code",
        help_text="Optional: every row goes to this location (the file may leave the location column out).",
    )
    apply_valid = forms.BooleanField(
        required=False, label="Apply valid rows",
        help_text="Without it, a file with any error changes nothing. With it, the valid rows are applied and the rest reported.",
    )
    note = forms.CharField(required=False, max_length=255, help_text="Reason recorded on delta adjustments.")


@admin.register(ImportJob)
class ImportJobAdmin(ModelAdmin):
    list_display = ("id", "original_name", "mode", "status_badge", "rows_total", "rows_applied", "rows_skipped",
                    "error_count", "created_by", "created_at")
    list_filter = ("status", "mode")
    search_fields = ("original_name",)
    list_display_links = None

    @admin.display(description="Status")
    def status_badge(self, obj: ImportJob) -> str:
        url = reverse("admin:inventory_importjob_progress", args=[obj.pk])
        return format_html('<a href="{}">{} — open</a>', url, obj.get_status_display())

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def _may_import(self, request: HttpRequest) -> bool:
        return can(principal_for(request.user), Capability.IMPORT_STOCK)

    def has_add_permission(self, request) -> bool:
        return self._may_import(request)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(self.upload_view), name="inventory_importjob_upload"),
            path("<int:pk>/progress/", wrap(self.progress_view), name="inventory_importjob_progress"),
            path("<int:pk>/progress.json", wrap(self.progress_json_view), name="inventory_importjob_progress_json"),
            path("<int:pk>/errors.csv", wrap(self.errors_csv_view), name="inventory_importjob_errors"),
            path("<int:pk>/cancel/", wrap(self.cancel_view), name="inventory_importjob_cancel"),
        ] + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:inventory_importjob_upload"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:inventory_importjob_progress", args=[object_id]))

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self._may_import(request):
            return HttpResponse("You may not import stock.", status=403)
        form = StockImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            location = form.cleaned_data["location"]
            try:
                job = stock_import_create(
                    file=form.cleaned_data["file"], filename=form.cleaned_data["file"].name, mode=form.cleaned_data["mode"],
                    location_code=location.code if location else "", apply_valid=form.cleaned_data["apply_valid"],
                    note=form.cleaned_data["note"], source="admin", actor=request.user,
                    location_ids=permitted_location_ids(principal_for(request.user), Capability.IMPORT_STOCK),
                )
            except OmniError as exc:
                form.add_error(None, exc.message)
            else:
                messages.info(request, f"Import #{job.pk} queued.")
                return HttpResponseRedirect(reverse("admin:inventory_importjob_progress", args=[job.pk]))
        context = {**self.admin_site.each_context(request), "title": "Import a stock file", "form": form,
                   "opts": self.model._meta}
        return TemplateResponse(request, "admin/inventory/importjob/upload.html", context)

    def progress_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(ImportJob.objects.select_related("location", "created_by"), pk=pk)
        context = {
            **self.admin_site.each_context(request), "title": f"Stock import #{job.pk}", "job": job,
            "progress": import_job_progress(job=job, errors_limit=100), "opts": self.model._meta,
            "json_url": reverse("admin:inventory_importjob_progress_json", args=[job.pk]),
            "errors_url": reverse("admin:inventory_importjob_errors", args=[job.pk]),
            "cancel_url": reverse("admin:inventory_importjob_cancel", args=[job.pk]),
        }
        return TemplateResponse(request, "admin/inventory/importjob/progress.html", context)

    def progress_json_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        job = get_object_or_404(ImportJob.objects.select_related("location"), pk=pk)
        return JsonResponse(import_job_progress(job=job, errors_limit=100))

    def errors_csv_view(self, request: HttpRequest, pk: int) -> StreamingHttpResponse:
        job = get_object_or_404(ImportJob, pk=pk)
        response = StreamingHttpResponse(import_errors_csv(job=job), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response

    def cancel_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(ImportJob, pk=pk)
        if not self._may_import(request):
            return HttpResponse("You may not cancel imports.", status=403)
        if request.method == "POST":
            try:
                stock_import_cancel(job=job)
                messages.info(request, f"Import #{job.pk}: cancellation requested; nothing will be applied.")
            except OmniError as exc:
                messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("admin:inventory_importjob_progress", args=[job.pk]))
