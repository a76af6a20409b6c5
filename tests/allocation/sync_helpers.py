"""Shared set-up for the channel sync tests."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from allocation.models import ChannelSync, SyncMessage, SyncMode
from allocation.selectors import atp_for_channel
from inventory.models import Product

from .factories import ChannelFactory, make_visible


def sync_channel(*, code: str, locations, mode: str = SyncMode.REALTIME, window: int = 0, url: str = "", secret: str = "s3cret",
                 endpoint_mode: str = "delta", **cfg):
    channel = ChannelFactory(code=code, sync_mode=mode, sync_window_seconds=window)
    make_visible(channel, *locations)
    ChannelSync.objects.update_or_create(channel=channel, defaults={"url": url, "secret": secret, "mode": endpoint_mode, **cfg})
    return channel


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def messages(channel, **filters) -> list[tuple]:
    return list(
        SyncMessage.objects.filter(channel=channel, kind="availability", **filters).order_by("id")
        .values_list("product__sku", "sequence", "available", "delta", "status")
    )


def omni_figures(channel) -> dict[str, int]:
    products = dict(Product.objects.values_list("id", "sku"))
    return {products[pid]: atp for pid, atp in atp_for_channel(channel=channel, product_ids=list(products)).items()}
