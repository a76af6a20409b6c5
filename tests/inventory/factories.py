from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from inventory.models import Location, LocationKind, Product, VelocityClass
from omni.access.models import StaffAssignment


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pw-12345-omni")


class MerchandiserFactory(UserFactory):
    is_staff = True
    is_superuser = True


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"LOC-{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Location {o.code}")
    kind = LocationKind.STORE
    latitude = 41.0
    longitude = 29.0
    can_ship = True
    can_pickup = True


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.LazyAttribute(lambda o: f"Product {o.sku}")
    velocity_class = VelocityClass.B
    unit_cost = Decimal("10.00")
    price = Decimal("25.00")
    lead_time_days = 7


class StaffFactory(UserFactory):
    """A store staff user assigned to ``location``."""

    class Params:
        location = None

    @factory.post_generation
    def assigned(obj, create, extracted, **kwargs):
        location = extracted
        if location is not None:
            StaffAssignment.objects.create(user=obj, location=location)
