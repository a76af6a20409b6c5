"""The store app's language: LocaleMiddleware (Accept-Language, the language cookie set by
Django's ``set_language``), but only outside the admin and the API, which stay in LANGUAGE_CODE
(a partner's error messages and the merchandiser's pages do not change with a browser setting)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

UNTRANSLATED_PREFIXES = ("/admin/", "/api/")


class StoreLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if request.path_info.startswith(UNTRANSLATED_PREFIXES):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = translation.get_language()
            return
        super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if request.path_info.startswith(UNTRANSLATED_PREFIXES):
            return response
        return super().process_response(request, response)
