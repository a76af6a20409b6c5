"""Store staff and their stores, for the store app's tests and its browser tests."""

from __future__ import annotations

import pytest

from omni.access.models import StaffAssignment, StaffRole
from tests.inventory.factories import LocationFactory, StaffFactory, UserFactory


@pytest.fixture
def kadikoy(db):
    return LocationFactory(code="ST-KDK", name="Kadıköy", latitude=40.99, longitude=29.03)


@pytest.fixture
def besiktas(db):
    return LocationFactory(code="ST-BSK", name="Beşiktaş", latitude=41.04, longitude=29.01)


@pytest.fixture
def associate(kadikoy):
    return StaffFactory(username="ayse", assigned=kadikoy)


@pytest.fixture
def manager(kadikoy, besiktas):
    user = UserFactory(username="mehmet")
    for loc in (kadikoy, besiktas):
        StaffAssignment.objects.create(user=user, location=loc, role=StaffRole.MANAGER)
    return user
