"""What a merchandiser does in the sync admin: resend dead letters, download the availability CSV."""

from __future__ import annotations

import pytest

from allocation.models import SyncMessage
from allocation.sync.drain import sync_outbox_drain
from inventory import services as stock

from ..inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory
from .sync_helpers import messages, sync_channel

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(MerchandiserFactory())
    return client


def test_dead_letter_list_resend_action_queues_them_again(admin_client):
    store = LocationFactory(code="ST-01")
    web = sync_channel(code="web", locations=[store], url="http://127.0.0.1:9/hook")
    stock.stock_receive(product=ProductFactory(sku="TEE"), location=store, quantity=2)
    sync_outbox_drain()
    SyncMessage.objects.update(status="dead", attempts=8, last_error="HTTP 503")

    listing = admin_client.get("/admin/allocation/syncmessage/?status__exact=dead")
    response = admin_client.post("/admin/allocation/syncmessage/", {
        "action": "resend", "_selected_action": list(SyncMessage.objects.values_list("id", flat=True)),
    })

    assert listing.status_code == 200 and b"HTTP 503" in listing.content
    assert response.status_code == 302
    assert messages(web) == [("TEE", 1, 2, 2, "pending")]
    assert SyncMessage.objects.get().attempts == 0


def test_channel_sync_csv_download_action(admin_client):
    store = LocationFactory(code="ST-01")
    web = sync_channel(code="web", locations=[store])
    stock.stock_receive(product=ProductFactory(sku="TEE", name="Tee"), location=store, quantity=3)
    response = admin_client.post("/admin/allocation/channelsync/", {
        "action": "download_csv", "_selected_action": [web.sync_config.pk],
    })
    assert b"".join(response.streaming_content).decode().splitlines() == ["sku,name,available", "TEE,Tee,3"]
