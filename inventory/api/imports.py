"""Stock import API: upload a file (a job is queued, 202), poll the job, download its errors.

- ``POST /api/v1/imports/stock`` multipart: ``file``, ``mode`` (snapshot|delta), ``location``
  (code, optional), ``apply_valid`` (bool), ``note`` (reason for delta).
- ``GET /api/v1/imports/stock/<id>``: progress and result.
- ``GET /api/v1/imports/stock/<id>/errors.csv``: line, column, column_number, value, code, message.
- ``POST /api/v1/imports/stock/<id>/cancel``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.imports.models import ImportJob, ImportMode, ImportStatus
from inventory.imports.selectors import import_errors_csv, import_job_progress
from inventory.imports.services import stock_import_cancel, stock_import_create
from omni.access.permissions import CanImportStock, CanViewImports
from omni.api.errors import first_error
from omni.api.idempotency import IDEMPOTENCY_KEY_OPTIONAL
from omni.errors import NotFound, ValidationFailed
from omni.access.roles import Capability, permitted_location_ids, principal_from_request

from .idempotency import multipart_fingerprint, stock_idempotent


class StockImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    mode = serializers.ChoiceField(choices=ImportMode.choices, default=ImportMode.SNAPSHOT)
    location = serializers.CharField(required=False, allow_blank=True, default="")
    apply_valid = serializers.BooleanField(required=False, default=False)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class ImportRowErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="Line of the file (1 is the header).")
    column = serializers.CharField()
    column_number = serializers.IntegerField(allow_null=True)
    value = serializers.CharField()
    code = serializers.CharField(help_text="Stable, e.g. unknown_sku, quantity_out_of_range.")
    message = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    rows_applied = serializers.IntegerField()
    rows_unchanged = serializers.IntegerField()
    rows_skipped = serializers.IntegerField()
    movements_written = serializers.IntegerField()
    outbox_events = serializers.IntegerField()
    error_count = serializers.IntegerField()


# What ``import_job_progress`` answers, plus the job's URLs (schema only; inline because a
# serializer may not declare a field called ``errors``).
ImportJobOutSerializer = inline_serializer("ImportJobOut", {
    "id": serializers.IntegerField(),
    "status": serializers.ChoiceField(choices=ImportStatus.choices),
    "finished": serializers.BooleanField(),
    "phase": serializers.CharField(),
    "mode": serializers.ChoiceField(choices=ImportMode.choices),
    "file": serializers.CharField(help_text="Name of the uploaded file."),
    "location": serializers.CharField(allow_null=True, help_text="Code of the location every row goes to, if one was named."),
    "apply_valid": serializers.BooleanField(),
    "percent": serializers.FloatField(),
    "rows_done": serializers.IntegerField(),
    "rows_total": serializers.IntegerField(allow_null=True),
    "rows_estimated": serializers.IntegerField(allow_null=True),
    "rows_per_s": serializers.FloatField(),
    "seconds_elapsed": serializers.FloatField(),
    "seconds_left": serializers.FloatField(allow_null=True),
    "created_at": serializers.DateTimeField(),
    "started_at": serializers.DateTimeField(allow_null=True),
    "finished_at": serializers.DateTimeField(allow_null=True),
    "cancel_requested": serializers.BooleanField(),
    "result": ImportResultSerializer(),
    "failure": serializers.CharField(help_text="Why the job failed, when it did."),
    "errors": ImportRowErrorSerializer(many=True, help_text="The first 50 row errors; all of them at errors_url."),
    "errors_truncated": serializers.BooleanField(),
    "url": serializers.URLField(),
    "errors_url": serializers.URLField(),
})


def _invalid(errors: Any) -> ValidationFailed:
    """A serializer's errors as the API answers them anyway (400 ``invalid``), raised as a domain error
    so that an idempotent call stores the answer."""
    return ValidationFailed(str(first_error(errors)), code="invalid", details=dict(errors))


def _visible_job(request: Request, pk: int) -> ImportJob:
    principal = principal_from_request(request)
    jobs = ImportJob.objects.select_related("location")
    if not principal.is_merchandiser:
        user = request.user
        jobs = jobs.filter(created_by=user) if isinstance(user, AbstractBaseUser) else jobs.none()
    job = jobs.filter(pk=pk).first()
    if job is None:
        raise NotFound(f"Import {pk} does not exist.", code="unknown_import")
    return job


def _progress(request: Request, job: ImportJob) -> dict:
    body = import_job_progress(job=job)
    body["url"] = request.build_absolute_uri(reverse("v1:stock-import-detail", args=[job.pk]))
    body["errors_url"] = request.build_absolute_uri(reverse("v1:stock-import-errors", args=[job.pk]))
    return body


class StockImportCreateView(APIView):
    permission_classes = [CanImportStock]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request=StockImportUploadSerializer, responses={202: ImportJobOutSerializer}, summary="Upload a stock CSV (queued job)",
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        description="With an Idempotency-Key, the same upload sent again (same fields, the same file byte for byte) "
        "answers the job it queued the first time (Idempotent-Replayed: true) and queues nothing: a delta file is "
        "applied once.",
    )
    def post(self, request: Request) -> Response:
        return stock_idempotent(request=request, operation="stock_import", body=multipart_fingerprint(request.data),
                                handler=lambda: self._create(request))

    @staticmethod
    def _create(request: Request) -> tuple[int, Any]:
        data = StockImportUploadSerializer(data=request.data)
        if not data.is_valid():
            raise _invalid(data.errors)
        job = stock_import_create(
            file=data.validated_data["file"], filename=data.validated_data["file"].name, mode=data.validated_data["mode"],
            location_code=data.validated_data["location"], apply_valid=data.validated_data["apply_valid"],
            note=data.validated_data["note"], source="api", actor=request.user,
            location_ids=permitted_location_ids(principal_from_request(request), Capability.IMPORT_STOCK),
        )
        return status.HTTP_202_ACCEPTED, _progress(request, job)


class StockImportDetailView(APIView):
    permission_classes = [CanViewImports]

    @extend_schema(responses={200: ImportJobOutSerializer}, summary="Progress and result of a stock import")
    def get(self, request: Request, pk: int) -> Response:
        return Response(_progress(request, _visible_job(request, pk)))


class StockImportCancelView(APIView):
    permission_classes = [CanImportStock]

    @extend_schema(request=None, responses={200: ImportJobOutSerializer}, summary="Cancel a queued or running stock import",
                   parameters=[IDEMPOTENCY_KEY_OPTIONAL])
    def post(self, request: Request, pk: int) -> Response:
        job = _visible_job(request, pk)

        def handler() -> tuple[int, Any]:
            return 200, _progress(request, stock_import_cancel(job=job))

        return stock_idempotent(request=request, operation="stock_import_cancel", body={"import": job.pk}, handler=handler)


class StockImportErrorsView(APIView):
    permission_classes = [CanViewImports]

    @extend_schema(responses={(200, "text/csv"): str}, summary="The errors of a stock import as CSV")
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        job = _visible_job(request, pk)
        response = StreamingHttpResponse(import_errors_csv(job=job), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response
