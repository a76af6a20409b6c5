from __future__ import annotations

import factory

from allocation.models import Channel, ChannelKind, ChannelVisibility
from allocation.services import partner_token_issue


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


def issue_token(channel: Channel, *scopes: str, locations=()) -> str:
    """A partner key for ``channel`` with these scopes (all scopes when none given)."""
    from allocation.models import Scope

    _, key = partner_token_issue(channel=channel, name=f"{channel.code} partner", scopes=scopes or Scope.values, locations=locations)
    return key
