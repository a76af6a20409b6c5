"""The answer to a new order (``order_out_as_written``), the JSON it is rendered to
(``omni.idempotency._rendered``) and the renderer chosen for it (``omni.api.negotiation``): each
built without DRF's general machinery, each compared here with DRF's own on many inputs."""

from __future__ import annotations

import copy
import datetime
import json
import pickle
import random
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from orders.models import AllocationStatus, LineStatus, OrderStatus

from .factories import receive

render = JSONRenderer().render


def _answers_agree(order) -> None:
    from orders.api.serializers import OrderOutSerializer, order_out_as_written
    from orders.services import order_as_written

    built = order_out_as_written(order)
    expected = OrderOutSerializer(order_as_written(order)).data
    assert render(built) == render(expected)
    assert json.dumps(built, default=repr) == json.dumps(expected, default=repr)  # the same types, not only the same text


@pytest.mark.django_db
def test_the_built_answer_is_the_serializers_on_many_orders_statuses_zones_and_settings(world):
    # Varied orders (splits, a hold, BOPIS and ship-to-store, backorders on the marketplace,
    # Unicode and JSON's awkward characters), then each order's statuses set to every value (and
    # to plain strings), its times moved to other zones, naive and None, under other current time
    # zones and other DRF settings: the bytes (and the value types) always DRF's.
    from orders.services import LineInput, OrderInput, order_create

    rng = random.Random(14)
    for product, location in ((world.shirt, world.ist), (world.shirt, world.ank), (world.mug, world.ank),
                              (world.mug, world.izm), (world.mug, world.ist), (world.cap, world.ist)):
        receive(product, location, 200)
    world.market.scarcity_threshold = 150
    world.market.shortage_policy = "backorder"
    world.market.save()
    texts = ["", "Çağrı ü", "line\u2028sep\u2029", "\"q\" \\ '", "😀 astral", "İstanbul"]
    orders = []
    for i in range(24):
        kind = i % 4
        lines = [LineInput(sku=rng.choice(["SHIRT", "MUG", "CAP"]), quantity=150 if kind == 3 and i % 8 == 3 else rng.randint(1, 3),
                           unit_price=rng.choice([Decimal("0"), Decimal("19.9"), Decimal("0.01"), Decimal("1234.5")]))
                 for _ in range(rng.randint(1, 3))]
        extra = {"delivery_mode": "bopis", "pickup_location": world.izm.code, "ship_to_store": True} if kind == 1 else (
            {"delivery_mode": "bopis", "pickup_location": world.ist.code, "ship_to_store": True} if kind == 2 else {})
        orders.append(order_create(channel=world.market if kind == 3 else world.web, actor=rng.choice(["partner:web", "system"]),
                                   data=OrderInput(external_id=f"A-{i}", lines=lines, customer_ref=rng.choice(texts),
                                                   ship_name=rng.choice(texts), city=rng.choice(texts),
                                                   latitude=None if kind == 1 else 41.0 + i / 7, longitude=None if kind == 1 else 29.0,
                                                   customer_tier=rng.choice(["standard", "gold"]), **extra)))
    assert any(ln.status == LineStatus.BACKORDERED for o in orders for ln in o._as_written[0])
    assert any(len({a.location_id for a in o._as_written[1]}) > 1 for o in orders)
    assert any(a.ship_to_store_id for o in orders for a in o._as_written[1])
    for order in orders:
        _answers_agree(order)

    order = orders[1]
    lines, allocations, events = order._as_written
    for value in [*OrderStatus, *[s.value for s in OrderStatus]]:
        order.status = value
        _answers_agree(order)
    for line_value, alloc_value in zip([*LineStatus, "allocated", "cancelled", *LineStatus],
                                       [*AllocationStatus, "reserved", "fulfilled", *AllocationStatus]):
        for ln in lines:
            ln.status = line_value
        for alloc in allocations:
            alloc.status = alloc_value
        _answers_agree(order)
    order.hold_id = uuid.uuid4()
    aware = datetime.datetime(2026, 3, 29, 0, 30, 5, 123456, tzinfo=datetime.timezone.utc)
    for when in (aware, aware.astimezone(ZoneInfo("Europe/Istanbul")), aware.astimezone(ZoneInfo("America/New_York")),
                 aware.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=-3, minutes=-30))),
                 aware.replace(microsecond=0), datetime.datetime(2026, 10, 25, 1, 30)):  # the last naive
        order.created_at = when
        for ln in lines:
            ln.delivery_chosen_at = when
        for ev in events:
            ev.created_at = when
        for zone in ("UTC", "Europe/Istanbul", "America/New_York", "Asia/Kolkata"):
            with timezone.override(zone):
                _answers_agree(order)
        with override_settings(REST_FRAMEWORK={"DATETIME_FORMAT": "%Y-%m-%d %H:%M:%S%z"}):
            _answers_agree(order)
        with override_settings(REST_FRAMEWORK={"DATETIME_FORMAT": None, "COERCE_BIGINT_TO_STRING": True,
                                               "COERCE_DECIMAL_TO_STRING": False}):
            _answers_agree(order)
    for ln in lines:
        ln.delivery_chosen_at = None
    _answers_agree(order)


def test_the_answer_is_rendered_as_drfs_json_renderer_renders_it():
    # ``_rendered`` is JSONRenderer.render with its encoder kept: the same bytes for every value,
    # None where the renderer refuses (a float that is not finite, a lone surrogate).
    from omni.idempotency import _rendered

    rng = random.Random(7)
    alphabet = ["a", "ü", "İ", "\u2028", "\u2029", "\"", "\\", "/", "\n", "\t", "\x00", "\x1f", "😀", "\ud800", "<", "&"]

    def value(depth: int):
        pick = rng.randrange(13 if depth < 3 else 9)
        if pick == 0:
            return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
        if pick == 1:
            return rng.choice([0, -1, 2**63, -(2**70), True, False, None])
        if pick == 2:
            return rng.choice([0.1, -0.0, 1e300, 5e-324, 1.5, float("nan"), float("inf")])
        if pick == 3:
            return rng.choice([Decimal("19.90"), Decimal("-0.001"), Decimal("1E+3")])
        if pick == 4:
            return datetime.datetime(2026, 12, 1, 22, 58, rng.randrange(60), rng.choice([0, 123456]),
                                     tzinfo=rng.choice([datetime.timezone.utc, ZoneInfo("Europe/Istanbul"), None]))
        if pick == 5:
            return rng.choice([datetime.date(2026, 1, 2), datetime.time(1, 2, 3), datetime.timedelta(seconds=90)])
        if pick == 6:
            return uuid.UUID(int=rng.getrandbits(128))
        if pick in (7, 8):
            return rng.choice(["plain", "", "İstanbul"])
        if pick in (9, 10):
            return {rng.choice(["a", "ü", "\u2028", "k"]) if rng.random() < 0.9 else rng.choice([1, None, 2.5]): value(depth + 1)
                    for _ in range(rng.randrange(4))}
        return [value(depth + 1) for _ in range(rng.randrange(4))] if pick == 11 else tuple(value(depth + 1) for _ in range(2))

    refused = 0
    for _ in range(3000):
        data = value(0)
        try:
            expected = render(data)
        except ValueError:
            expected = None
            refused += 1
        assert _rendered(data) == (expected or None), data
        if expected:  # a first answer known by its rendering: the body it decodes when read is the old one
            _a_first_answer_is_the_decoded_one(expected)
    assert 100 < refused < 2500  # both kinds of answer were compared


def _a_first_answer_is_the_decoded_one(rendered: bytes) -> None:
    from dataclasses import FrozenInstanceError

    from omni.idempotency import IdempotentAnswer

    first, decoded = IdempotentAnswer.first(201, rendered), IdempotentAnswer(201, json.loads(rendered.decode()), False, rendered)
    assert first == decoded and repr(first) == repr(decoded) and first.body is first.body
    assert (first.status, first.replayed, first.rendered) == (201, False, rendered)
    assert first != IdempotentAnswer(201, first.body, True) and first != IdempotentAnswer(200, first.body, False)
    try:
        hashed: object = hash(decoded)
    except TypeError as exc:
        hashed = type(exc)
    try:
        assert hash(first) == hashed
    except TypeError as exc:
        assert type(exc) is hashed
    with pytest.raises(FrozenInstanceError):
        first.status = 200  # type: ignore[misc]
    for copied in (copy.copy(first), copy.deepcopy(first), pickle.loads(pickle.dumps(first))):
        assert copied == decoded and copied.rendered == rendered


def test_a_first_answers_response_decodes_its_body_only_when_something_reads_it():
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView

    from omni.api.idempotency import answer_response
    from omni.idempotency import _UNDECODED, IdempotentAnswer, _rendered

    body = {"id": 7, "lines": [{"sku": "İ\u2028", "price": "19.90"}], "events": [], "latitude": None}
    rendered = _rendered(body)
    assert rendered is not None
    answers: list[IdempotentAnswer] = []

    class View(APIView):
        permission_classes: list = []
        authentication_classes: list = []

        def get(self, request: Request):
            answers.append(IdempotentAnswer.first(201, rendered))
            response = answer_response(answers[-1])
            if request.query_params.get("read"):
                assert response.data == body
            if request.query_params.get("change"):
                response.data = {"a": 2}
            return response

    def get(accept: str, query: str = ""):
        response = View.as_view()(APIRequestFactory().get("/x" + query, HTTP_ACCEPT=accept)).render()
        return response, answers[-1]._body is _UNDECODED

    for accept in ("application/json", "*/*"):
        response, undecoded = get(accept)
        assert (response.status_code, response.content, response["Content-Type"], undecoded) == (201, rendered, "application/json", True)
        assert response.data == body and response.data is response.data is answers[-1].body
        assert get(accept, "?read=1")[0].content == rendered
        assert get(accept, "?change=1")[0].content == b'{"a":2}'
    response, undecoded = get("application/json; indent=4")
    assert response.content == json.dumps(body, indent=4, ensure_ascii=False).replace("\u2028", "\\u2028").encode()
    assert not undecoded
    assert get("text/html")[0]["Content-Type"].startswith("text/html")


def test_a_requests_fingerprint_is_the_one_stored_keys_were_made_with():
    # request_fingerprint keeps its encoder: the hash must stay json.dumps(sort_keys, compact,
    # default=str)'s, or a retry after a deploy would be refused as another request.
    import hashlib

    from omni.idempotency import request_fingerprint

    rng = random.Random(3)
    for _ in range(2000):
        body = {rng.choice(["lines", "ü", "b", "a", "\u2028"]): rng.choice(
            [None, 1, -2.5, float("nan"), "x\"y", [1, {"q": Decimal("1.10")}], {"z": 1, "a": [True, uuid.UUID(int=5)]},
             datetime.date(2026, 12, 1), "İstanbul 😀"]) for _ in range(rng.randrange(5))}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        assert request_fingerprint(body) == hashlib.sha256(text.encode()).hexdigest()
    assert request_fingerprint({"b": 1, "a": [1, 2]}) == hashlib.sha256(b'{"a":[1,2],"b":1}').hexdigest()


@pytest.mark.parametrize("order", ["json first", "browsable first"])
def test_the_kept_negotiation_chooses_as_drf_does(order):
    # The same renderer (by place in the list) and media type as DRF's negotiation, or the same
    # refusal, for many Accept headers and formats, asked twice (the second from what was kept).
    from django.http import Http404
    from rest_framework.exceptions import NotAcceptable
    from rest_framework.negotiation import DefaultContentNegotiation
    from rest_framework.renderers import BrowsableAPIRenderer, StaticHTMLRenderer
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from omni.api.negotiation import ContentNegotiation

    factory = APIRequestFactory()
    classes = [JSONRenderer, BrowsableAPIRenderer] if order == "json first" else [BrowsableAPIRenderer, JSONRenderer]
    headers = [None, "*/*", "application/json", "application/json; indent=4", "text/html", "text/html;q=0.9, */*;q=0.1",
               "application/*", "text/*", "image/png", "application/xml, text/html; q=0.5", "application/json;q=0, */*",
               "*/*; indent=2", "application/json, text/html", "text/html, application/json", " ,, ", "",
               "application/json; charset=utf-8", "TEXT/HTML", "a" * 300 + ", application/json", "application/json; indent=x"]
    for header in headers:
        for fmt_query, suffix in ((None, None), ("json", None), ("api", None), ("xml", None), (None, "json"), (None, "api")):
            for renderers in ([c() for c in classes], [*[c() for c in classes], StaticHTMLRenderer()]):
                query = f"?format={fmt_query}" if fmt_query else ""
                extra = {} if header is None else {"HTTP_ACCEPT": header}
                outcomes = []
                for negotiation in (DefaultContentNegotiation(), ContentNegotiation(), ContentNegotiation()):
                    request = Request(factory.get("/x" + query, **extra))
                    try:
                        renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
                        outcomes.append((renderers.index(renderer), media_type))
                    except (NotAcceptable, Http404) as exc:
                        outcomes.append(type(exc))
                assert outcomes[0] == outcomes[1] == outcomes[2], (header, fmt_query, suffix)
