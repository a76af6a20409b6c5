"""Documents ``Authorization: Token <key>`` (partner systems) in the OpenAPI schema."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "omni.access.auth.PartnerTokenAuthentication"
    name = "partnerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Partner API token: `Token <key>` (or `Bearer <key>`). Issued in the admin; shown once.",
        }
