"""Serializers that only describe shared response shapes in the OpenAPI schema."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable, e.g. insufficient_stock, unknown_sku.")
    message = serializers.CharField(help_text="For people: names what is wrong.")
    details = serializers.DictField(help_text="Per-field messages (field name → list of messages) or context.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    texts = {
        400: "Invalid request.", 401: "Not authenticated.", 403: "Not allowed.", 404: "Not found.", 409: "Conflict with current state.",
    }
    return {s: OpenApiResponse(ErrorSerializer, description=texts.get(s, "Error.")) for s in statuses}
