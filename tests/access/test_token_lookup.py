"""The partner token lookup every API request makes (one prepared statement on PostgreSQL): it loads
what the ORM would, and a change to the token, its user or its locations is seen at the very next
lookup (nothing is cached but the statement's plan)."""

from __future__ import annotations

import pytest
from django.db import transaction

from omni.access.auth import _tokens, token_for_hash
from omni.access.models import PartnerToken

from ..allocation.factories import ChannelFactory
from ..inventory.factories import LocationFactory
from .factories import issue_token

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_the_lookup_loads_the_token_its_user_channel_and_locations_as_the_orm_does():
    stores = [LocationFactory(code="ST-2"), LocationFactory(code="ST-1")]
    key = issue_token(ChannelFactory(code="web"), "stock:read", "orders:write", locations=stores)
    key_hash = PartnerToken.hash_key(key)
    PartnerToken.objects.filter(key_hash=key_hash).update(last_used_at="2026-01-02T03:04:05Z")

    token = token_for_hash(key_hash)
    orm = _tokens().get(key_hash=key_hash)
    assert token is not None
    assert _fields(token) == _fields(orm)
    assert token.scopes == ["stock:read", "orders:write"] and token.last_used_at == orm.last_used_at
    assert _fields(token.channel) == _fields(orm.channel) and token.channel.code == "web"
    assert _fields(token.user) == _fields(orm.user) and token.user.partner_token is token
    assert token.location_id_list == sorted(loc.pk for loc in stores)  # type: ignore[attr-defined]
    assert token_for_hash(PartnerToken.hash_key(key + "x")) is None


def test_every_change_is_seen_at_the_next_lookup_even_after_a_rolled_back_transaction():
    key = issue_token(ChannelFactory(code="web"))
    key_hash = PartnerToken.hash_key(key)
    assert token_for_hash(key_hash).location_id_list == []  # type: ignore[union-attr]

    store = LocationFactory(code="ST-X")
    PartnerToken.objects.get(key_hash=key_hash).locations.add(store)
    assert token_for_hash(key_hash).location_id_list == [store.pk]  # type: ignore[union-attr]

    with pytest.raises(RuntimeError), transaction.atomic():
        PartnerToken.objects.filter(key_hash=key_hash).update(is_active=False)
        assert token_for_hash(key_hash).is_active is False  # type: ignore[union-attr]
        raise RuntimeError("rolled back")
    assert token_for_hash(key_hash).is_active is True  # type: ignore[union-attr]

    token = PartnerToken.objects.get(key_hash=key_hash)
    token.user.is_active = False
    token.user.save(update_fields=["is_active"])
    assert token_for_hash(key_hash).user.is_active is False  # type: ignore[union-attr]
