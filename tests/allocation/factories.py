from __future__ import annotations

import factory

from allocation.models import Channel, ChannelKind, ChannelVisibility


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"ch-{n}")
    name = factory.LazyAttribute(lambda o: f"Channel {o.code}")
    kind = ChannelKind.WEBSHOP


def make_visible(channel: Channel, *locations) -> None:
    for location in locations:
        ChannelVisibility.objects.get_or_create(channel=channel, location=location)


# --- allocation issue: stock, policies, quotas -------------------------------------------------


def put_stock(product, location, on_hand: int, reserved: int = 0):
    """Real stock through the inventory services: receive ``on_hand`` and reserve ``reserved``."""
    from inventory import services as inv

    if on_hand:
        inv.stock_receive(product=product, location=location, quantity=on_hand, source="test")
    if reserved:
        inv.reservation_create(product=product, location=location, quantity=reserved, reference=f"test:{product.pk}:{location.pk}")


def location_policy(product, location, quantity: int, **kw):
    from allocation.safety_stock.services import safety_stock_policy_set

    return safety_stock_policy_set(product=product, scope="location", location=location, quantity=quantity, **kw)


def channel_policy(product, channel, quantity: int, **kw):
    from allocation.safety_stock.services import safety_stock_policy_set

    return safety_stock_policy_set(product=product, scope="channel", channel=channel, quantity=quantity, **kw)


def pool_policy(product, quantity: int, **kw):
    from allocation.safety_stock.services import safety_stock_policy_set

    return safety_stock_policy_set(product=product, scope="pool", quantity=quantity, **kw)
