"""The ``Idempotency-Key`` header at the API edge: its schema, and one way to answer with it.

Every state-changing operation takes the header (required on order intake, pin, customer answers
and fulfilment moves; optional elsewhere). With a key, ``omni.idempotency`` runs the work once per
(scope, key) and a repeat with the same body gets the first answer again, with
``Idempotent-Replayed: true``; the same key with another body is ``409 idempotency_key_reused``; an
empty key is ``400 idempotency_key_required``. Without an optional key the work simply runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from omni.api.errors import error_body
from omni.idempotency import KEY_SCHEMA, REPLAYED_HEADER, IdempotencyRecordBase, IdempotentAnswer, idempotent_run

IDEMPOTENCY_KEY = OpenApiParameter("Idempotency-Key", KEY_SCHEMA, OpenApiParameter.HEADER, required=True,
                                   description="Your id of this request: the same key and body get the same answer.")
IDEMPOTENCY_KEY_OPTIONAL = OpenApiParameter(
    "Idempotency-Key", KEY_SCHEMA, OpenApiParameter.HEADER, required=False,
    description="Optional: the same key and body get the same answer (header Idempotent-Replayed: true); the same key "
    "with another body is refused (409 idempotency_key_reused).",
)


class _RenderedResponse(Response):
    """A ``Response`` whose JSON is already rendered (``IdempotentAnswer.rendered``): when the client
    gets JSON as DRF's ``JSONRenderer`` writes it (no indent asked for), the bytes are those, with
    DRF's headers; any other renderer or media type (the browsable API, ``; indent=4``), or a
    ``data`` assigned since, renders ``data`` as usual (a change made inside the decoded body, in
    place, is not seen: nothing does that, and the answer stored for the key is the rendered one).
    ``data`` is the answer's ``body``, read (decoded) only when something asks for it."""

    def __init__(self, answer: IdempotentAnswer) -> None:
        if answer.rendered is None:
            raise ValueError("_RenderedResponse needs an answer with its rendered JSON (IdempotentAnswer.first).")
        super().__init__(None, status=answer.status)
        self._omni_answer: IdempotentAnswer | None = answer

    @property
    def data(self) -> Any:
        answer = self.__dict__.get("_omni_answer")
        return answer.body if answer is not None else self.__dict__.get("_omni_data")

    @data.setter
    def data(self, value: Any) -> None:
        self.__dict__["_omni_answer"] = None  # data changed: rendered as usual
        self.__dict__["_omni_data"] = value

    @property
    def rendered_content(self) -> Any:
        renderer = getattr(self, "accepted_renderer", None)
        media_type = getattr(self, "accepted_media_type", None)
        context = getattr(self, "renderer_context", None)
        answer = self.__dict__.get("_omni_answer")
        if answer is None or type(renderer) is not JSONRenderer or not media_type or context is None \
                or self.content_type is not None:
            return super().rendered_content
        # the indent asked for: none in a bare "application/json" (what "*/*" gets), so only the
        # context's; any other media type's parameters are parsed by the renderer
        indent = context.get("indent") if media_type == renderer.media_type else renderer.get_indent(media_type, context)
        if indent is not None:
            return super().rendered_content
        # DRF's steps (``Response.rendered_content``) for a JSON renderer, which has no charset
        context["response"] = self
        self["Content-Type"] = renderer.media_type
        return answer.rendered


def answer_response(answer: IdempotentAnswer) -> Response:
    if answer.rendered is not None and not answer.replayed:
        return _RenderedResponse(answer)
    response = Response(answer.body, status=answer.status)
    if answer.replayed:
        response[REPLAYED_HEADER] = "true"
    return response


def idempotent_response(
    *, request: Request, model: type[IdempotencyRecordBase], scope: Mapping[str, Any], body: Any, handler: Callable[[], tuple[int, Any]],
) -> Response:
    """Answer ``handler()``, once per key when the request carries an ``Idempotency-Key`` (the key
    is optional here: without one the handler just runs). ``body`` is what makes two requests the
    same: name the operation and its target in it, not only the request body."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        status, answer = handler()
        return Response(answer, status=status)
    return answer_response(idempotent_run(
        model=model, scope=scope, key=key, body=body, handler=handler,
        error_body=lambda exc: error_body(exc.code, exc.message, exc.details),
    ))
