"""Content negotiation: DRF's, its answer kept per (renderers, format, ``Accept``).

DRF chooses each response's renderer by reading the request's ``Accept`` header through
``request.headers`` (a mapping of every header, built for it) and parsing each media type of the
header and of each renderer on every request: ~80 µs of CPU of every order and availability read
inside a request (thread CPU, 300 orders). The choice depends only on the ``format`` asked for (the
URL suffix or ``?format=``), the header's text and the renderers' media types and formats, so it is
made by DRF once per such combination and kept: the renderer at the same place in this request's
list, the same accepted media type. A refusal (406, or 404 for an unknown format) is not kept: DRF
refuses again, in its words. Only headers up to ``MAX_KEPT_ACCEPT`` characters are kept, and at
most ``MAX_KEPT`` combinations (a client chooses the header's text: past that, DRF negotiates as
before, nothing kept grows).
"""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation

MAX_KEPT = 256
MAX_KEPT_ACCEPT = 256


class ContentNegotiation(DefaultContentNegotiation):
    _kept: dict[tuple[Any, ...], tuple[int, str]] = {}

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        # the header as DRF reads it (``request.headers.get("accept", "*/*")``), without building
        # the mapping of every header for it
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        if not isinstance(accept, str) or len(accept) > MAX_KEPT_ACCEPT:
            return super().select_renderer(request, renderers, format_suffix)
        fmt = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        key = (fmt, accept, *[(r.media_type, r.format) for r in renderers])
        kept = self._kept.get(key)
        if kept is not None:
            return renderers[kept[0]], kept[1]
        renderer, media_type = super().select_renderer(request, renderers, format_suffix)
        for index, candidate in enumerate(renderers):
            if candidate is renderer and len(self._kept) < MAX_KEPT:
                self._kept[key] = (index, media_type)
                break
        return renderer, media_type
