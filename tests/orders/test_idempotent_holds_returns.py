"""An ``Idempotency-Key`` on holds (create, release) and returns: a resend after a lost answer
changes nothing more and answers the first answer (``Idempotent-Replayed: true``); the same key
with another body is refused (409 ``idempotency_key_reused``) and changes nothing; an empty key is
refused (400 ``idempotency_key_required``) and changes nothing."""

from __future__ import annotations

import pytest

from inventory.models import StockLevel
from orders.models import Allocation, Hold, OrderReturn
from orders.services import allocation_fulfil

from .factories import issue_token, receive

pytestmark = pytest.mark.django_db

HOLDS = "/api/v1/holds"


@pytest.fixture
def web_client(world, api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.web)}")
    return api_client


def reserved(world) -> int:
    return StockLevel.objects.get(product=world.shirt, location=world.ist).reserved


def hold_body(quantity=2):
    return {"lines": [{"sku": "SHIRT", "quantity": quantity}], "ttl_seconds": 300}


def test_a_resent_hold_holds_the_units_once_and_replays_the_answer(world, web_client):
    receive(world.shirt, world.ist, 5)
    first = web_client.post(HOLDS, hold_body(), format="json", HTTP_IDEMPOTENCY_KEY="cart-1")
    again = web_client.post(HOLDS, hold_body(), format="json", HTTP_IDEMPOTENCY_KEY="cart-1")
    assert first.status_code == again.status_code == 201, first.json()
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Hold.objects.count() == 1 and reserved(world) == 2


def test_the_same_hold_key_with_another_cart_is_refused_and_holds_nothing_more(world, web_client):
    receive(world.shirt, world.ist, 5)
    web_client.post(HOLDS, hold_body(2), format="json", HTTP_IDEMPOTENCY_KEY="cart-1")
    other = web_client.post(HOLDS, hold_body(3), format="json", HTTP_IDEMPOTENCY_KEY="cart-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert Hold.objects.count() == 1 and reserved(world) == 2


def test_an_empty_key_is_refused_and_holds_nothing(world, web_client):
    receive(world.shirt, world.ist, 5)
    res = web_client.post(HOLDS, hold_body(), format="json", HTTP_IDEMPOTENCY_KEY="  ")
    assert res.status_code == 400 and res.json()["error"]["code"] == "idempotency_key_required"
    assert Hold.objects.count() == 0 and reserved(world) == 0


def test_a_refused_hold_is_refused_again_on_resend_even_once_stock_arrived(world, web_client):
    receive(world.shirt, world.ist, 1)
    first = web_client.post(HOLDS, hold_body(2), format="json", HTTP_IDEMPOTENCY_KEY="cart-2")
    assert first.status_code == 409 and first.json()["error"]["code"] == "insufficient_stock"
    receive(world.shirt, world.ist, 5)
    again = web_client.post(HOLDS, hold_body(2), format="json", HTTP_IDEMPOTENCY_KEY="cart-2")
    assert again.status_code == 409 and again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Hold.objects.count() == 0 and reserved(world) == 0


def test_releasing_with_a_key_replays_and_the_key_cannot_release_another_hold(world, web_client):
    receive(world.shirt, world.ist, 5)
    one = web_client.post(HOLDS, hold_body(2), format="json").json()
    two = web_client.post(HOLDS, hold_body(1), format="json").json()
    first = web_client.delete(f"{HOLDS}/{one['id']}", HTTP_IDEMPOTENCY_KEY="release-1")
    again = web_client.delete(f"{HOLDS}/{one['id']}", HTTP_IDEMPOTENCY_KEY="release-1")
    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == "released" and again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    other = web_client.delete(f"{HOLDS}/{two['id']}", HTTP_IDEMPOTENCY_KEY="release-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert Hold.objects.get(pk=two["id"]).status == "active" and reserved(world) == 1


def test_hold_keys_are_the_channels_own(world, web_client, api_client):
    """Another channel's partner may use the same key for its own cart."""
    from rest_framework.test import APIClient

    receive(world.shirt, world.ist, 5)
    market = APIClient()
    market.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.market)}")
    web_client.post(HOLDS, hold_body(2), format="json", HTTP_IDEMPOTENCY_KEY="cart-1")
    res = market.post(HOLDS, hold_body(1), format="json", HTTP_IDEMPOTENCY_KEY="cart-1")
    assert res.status_code == 201 and "Idempotent-Replayed" not in res
    assert Hold.objects.count() == 2 and reserved(world) == 3


@pytest.fixture
def delivered(world, web_client):
    receive(world.shirt, world.ist, 5)
    order = web_client.post("/api/v1/orders", {"external_id": "RET-1", "latitude": 41.0, "longitude": 29.0, "lines": [
        {"sku": "SHIRT", "quantity": 2, "unit_price": "10.00"}]}, format="json", HTTP_IDEMPOTENCY_KEY="order-1").json()
    allocation_fulfil(allocation=Allocation.objects.get(line__order_id=order["id"]))
    return order["id"]


def on_hand_izm(world) -> int:
    level = StockLevel.objects.filter(product=world.shirt, location=world.izm).first()
    return level.on_hand if level else 0


def test_a_resent_return_without_external_id_books_the_units_once(world, web_client, delivered):
    """Without an external_id a resent return would book the units twice; the key stops that."""
    body = {"location": "ST-IZM", "items": [{"line": 1, "quantity": 1}]}
    url = f"/api/v1/orders/{delivered}/returns"
    first = web_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="rma-key-1")
    again = web_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="rma-key-1")
    assert first.status_code == again.status_code == 200, first.json()
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert OrderReturn.objects.count() == 1 and on_hand_izm(world) == 1
    assert first.json()["lines"][0]["quantity_returned"] == 1


def test_a_return_key_must_agree_with_its_external_id(world, web_client, delivered):
    url = f"/api/v1/orders/{delivered}/returns"
    item = {"location": "ST-IZM", "items": [{"line": 1, "quantity": 1}]}
    first = web_client.post(url, {**item, "external_id": "RMA-1"}, format="json", HTTP_IDEMPOTENCY_KEY="rma-key-1")
    assert first.status_code == 200
    # the same key for another return (another external_id) is refused and books nothing
    other = web_client.post(url, {**item, "external_id": "RMA-2"}, format="json", HTTP_IDEMPOTENCY_KEY="rma-key-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    # the same external_id under a new key is the same return: it confirms and books nothing either
    same = web_client.post(url, {**item, "external_id": "RMA-1"}, format="json", HTTP_IDEMPOTENCY_KEY="rma-key-2")
    assert same.status_code == 200 and "Idempotent-Replayed" not in same
    assert OrderReturn.objects.count() == 1 and on_hand_izm(world) == 1


def test_keys_past_their_keeping_time_are_forgotten_and_recent_ones_still_replay(world, web_client, settings):
    """The nightly prune (``OMNI_IDEMPOTENCY_KEEP_DAYS``): an old key no longer replays — its resend
    runs again — while a recent one still answers its first answer; the task is on beat."""
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import IdempotencyRecord
    from orders.schedules import BEAT_SCHEDULE
    from orders.tasks import idempotency_keys_prune_task

    settings.OMNI_IDEMPOTENCY_KEEP_DAYS = 7
    receive(world.shirt, world.ist, 5)
    web_client.post(HOLDS, hold_body(1), format="json", HTTP_IDEMPOTENCY_KEY="cart-old")
    web_client.post(HOLDS, hold_body(1), format="json", HTTP_IDEMPOTENCY_KEY="cart-new")
    IdempotencyRecord.objects.filter(key__endswith="cart-old").update(created_at=timezone.now() - timedelta(days=8))
    IdempotencyRecord.objects.filter(key__endswith="cart-new").update(created_at=timezone.now() - timedelta(days=6))

    assert idempotency_keys_prune_task() == 1
    assert any(e["task"] == "orders.tasks.idempotency_keys_prune" for e in BEAT_SCHEDULE.values())
    recent = web_client.post(HOLDS, hold_body(1), format="json", HTTP_IDEMPOTENCY_KEY="cart-new")
    assert recent["Idempotent-Replayed"] == "true" and Hold.objects.count() == 2
    old = web_client.post(HOLDS, hold_body(1), format="json", HTTP_IDEMPOTENCY_KEY="cart-old")
    assert old.status_code == 201 and "Idempotent-Replayed" not in old  # ran again: a third hold
    assert Hold.objects.count() == 3 and reserved(world) == 3
