"""A channel with history (orders, holds, sync messages) is never deleted from the admin, only
deactivated; one without history may be deleted, and the SKUs it touched are republished."""

from __future__ import annotations

import pytest

from allocation.channels.services import channel_delete, channel_quota_set
from allocation.models import Channel, ChannelQuota, ChannelVisibility, SyncMessage, SyncMode
from allocation.sync.drain import sync_outbox_drain
from inventory import services as stock
from inventory.models import OutboxEvent
from omni.errors import Conflict
from orders.models import Hold
from orders.services import HoldLineInput, hold_create

from ..inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory
from .factories import ChannelFactory, make_visible

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(MerchandiserFactory())
    return client


@pytest.fixture
def store():
    return LocationFactory(code="ST-01")


def _delete_page(admin_client, channel):
    return admin_client.get(f"/admin/allocation/channel/{channel.pk}/delete/")


def test_a_channel_that_was_synced_or_sold_to_is_kept_and_deactivated_instead(admin_client, store):
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=5)
    synced = ChannelFactory(code="mkt", sync_mode=SyncMode.REALTIME)
    make_visible(synced, store)
    sync_outbox_drain()  # mkt gets its first figure: a sync message
    sold = ChannelFactory(code="web")
    make_visible(sold, store)
    hold_create(channel=sold, lines=[HoldLineInput(sku="TEE", quantity=1)])
    SyncMessage.objects.filter(channel=sold).delete()  # only the hold is left as its history
    assert SyncMessage.objects.filter(channel=synced).exists() and Hold.objects.filter(channel=sold).exists()

    for channel in (synced, sold):
        change = admin_client.get(f"/admin/allocation/channel/{channel.pk}/change/").content.decode()
        assert f"/admin/allocation/channel/{channel.pk}/delete/" not in change
        assert _delete_page(admin_client, channel).status_code == 403
        assert admin_client.post(f"/admin/allocation/channel/{channel.pk}/delete/", {"post": "yes"}).status_code == 403
        with pytest.raises(Conflict) as err:
            channel_delete(channel=channel)
        assert err.value.code == "channel_has_history"
    listing = admin_client.get("/admin/allocation/channel/").content.decode()
    assert 'value="delete_selected"' not in listing and 'value="deactivate"' in listing

    admin_client.post("/admin/allocation/channel/", {"action": "deactivate", "_selected_action": [synced.pk, sold.pk]})

    assert sorted(Channel.objects.values_list("code", "is_active")) == [("mkt", False), ("web", False)]
    assert SyncMessage.objects.filter(channel=synced).count() == 1 and Hold.objects.filter(channel=sold).count() == 1


def test_a_channel_without_history_is_deleted_and_its_skus_republished(admin_client, store):
    tee = ProductFactory(sku="TEE")
    stock.stock_receive(product=tee, location=store, quantity=5)
    sync_outbox_drain()  # no channel yet: nothing is sent to anyone
    new = ChannelFactory(code="new")
    make_visible(new, store)
    channel_quota_set(channel=new, min_share_percent=30)
    OutboxEvent.objects.all().delete()

    assert _delete_page(admin_client, new).status_code == 200
    response = admin_client.post(f"/admin/allocation/channel/{new.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Channel.objects.filter(code="new").exists()
    assert not ChannelVisibility.objects.exists() and not ChannelQuota.objects.exists()
    # its quota no longer protects stock from the other channels: the SKUs are republished
    assert list(OutboxEvent.objects.values_list("product__sku", "reason")) == [("TEE", "channel_settings")]
