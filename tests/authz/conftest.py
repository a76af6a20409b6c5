"""The world of the authorization matrix: two channels (A and B) and a POS channel, two stores (X and
Y) and a DC, an order (with its work) of each channel at each store, a hold and an import of each
channel, and one client per role."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from rest_framework.test import APIClient

from fulfillment.models import Work, WorkLine
from inventory.counting.services import count_task_create
from inventory.imports.models import ImportJob, ImportMode
from inventory.services import transfer_ship
from inventory.models import LocationKind, StockLevel
from omni.access.groups import MERCHANDISER, OPERATIONS, PLANNER, admin_roles_sync
from omni.access.models import PartnerToken, Scope, StaffAssignment, StaffRole
from orders.models import Hold
from orders.services import HoldLineInput, hold_create, order_create
from tests.access.factories import issue_token
from tests.allocation.factories import ChannelFactory, make_visible
from tests.inventory.factories import LocationFactory, ProductFactory, UserFactory
from tests.orders.factories import order_input, receive

# The roles of the matrix, in the order of its columns.
ROLES = ("anon", "partner_a", "partner_b", "pos_x", "assoc_x", "manager_x", "assoc_y", "merch", "planner", "ops")
PASSWORD = "pw-12345-omni"


@dataclass
class AuthzWorld:
    ids: dict[str, Any]
    keys: dict[str, str] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)

    def client(self, role: str) -> APIClient:
        client = APIClient()
        if role in self.keys:
            client.credentials(HTTP_AUTHORIZATION=f"Token {self.keys[role]}")
        elif role in self.users:
            client.force_login(self.users[role])
        return client


def _staff(username: str, location, role: str = StaffRole.ASSOCIATE):
    user = UserFactory(username=username)
    StaffAssignment.objects.create(user=user, location=location, role=role)
    return user


def _head_office(username: str, group: str):
    user = UserFactory(username=username, is_staff=True)
    user.groups.set([Group.objects.get(name=group)])
    return user


@pytest.fixture
def authz(db, settings) -> AuthzWorld:
    settings.OMNI_API_RATE = ""  # the matrix sends many requests as one caller; the throttle has its own tests
    admin_roles_sync(group_model=Group, permission_model=Permission)
    dc = LocationFactory(code="DC", kind=LocationKind.DC, latitude=40.8, longitude=29.4, can_pickup=False)
    x = LocationFactory(code="ST-X", latitude=41.0, longitude=29.0)
    y = LocationFactory(code="ST-Y", latitude=39.9, longitude=32.8)
    a, b = ChannelFactory(code="chan-a"), ChannelFactory(code="chan-b")
    pos = ChannelFactory(code="pos", kind="pos")
    for channel in (a, b):
        make_visible(channel, dc, x, y)
    make_visible(pos, x, y)
    sku_x, sku_y, sku_d = ProductFactory(sku="SKU-X"), ProductFactory(sku="SKU-Y"), ProductFactory(sku="SKU-D")
    receive(sku_x, x, 20)
    receive(sku_y, y, 20)
    receive(sku_d, dc, 100)
    count_x = count_task_create(location=x, products=[sku_x])
    transfer_to_x = transfer_ship(product=sku_d, from_location=dc, to_location=x, quantity=1).transfer
    # Each order's only stock is at one store, so routing puts its work there.
    order_a = order_create(channel=a, data=order_input("EXT-A-ORDER", ("SKU-X", 1)))
    order_b = order_create(channel=b, data=order_input("EXT-B-ORDER", ("SKU-Y", 1)))
    cancel_a = order_create(channel=a, data=order_input("EXT-A-CANCEL", ("SKU-D", 1)))
    cancel_b = order_create(channel=b, data=order_input("EXT-B-CANCEL", ("SKU-D", 1)))
    hold_a = hold_create(channel=a, lines=[HoldLineInput(sku="SKU-D", quantity=1)], ttl_seconds=900)
    hold_b = hold_create(channel=b, lines=[HoldLineInput(sku="SKU-D", quantity=1)], ttl_seconds=900)
    world = AuthzWorld(ids={})
    world.keys = {
        "partner_a": issue_token(a),
        "partner_b": issue_token(b),
        "pos_x": issue_token(pos, Scope.STOCK_READ, Scope.STOCK_WRITE, locations=[x]),
    }
    tokens = {t.channel.code: t for t in PartnerToken.objects.select_related("channel", "user")}
    world.users = {
        "assoc_x": _staff("assoc-x", x), "manager_x": _staff("manager-x", x, StaffRole.MANAGER), "assoc_y": _staff("assoc-y", y),
        "merch": _head_office("merch", MERCHANDISER), "planner": _head_office("plan", PLANNER),
        "ops": _head_office("ops", OPERATIONS),
    }
    imports = {code: ImportJob.objects.create(file=f"imports/{code}.csv", original_name=f"{code}.csv", mode=ImportMode.DELTA,
                                              created_by=tokens[code].user, source="api") for code in ("chan-a", "chan-b")}
    world.ids = {
        "order_a": order_a.pk, "order_b": order_b.pk, "cancel_a": cancel_a.pk, "cancel_b": cancel_b.pk,
        "work_x": Work.objects.get(order=order_a).pk, "work_y": Work.objects.get(order=order_b).pk,
        "hold_a": str(hold_a.pk), "hold_b": str(hold_b.pk),
        "import_a": imports["chan-a"].pk, "import_b": imports["chan-b"].pk,
        "wline_x": WorkLine.objects.get(work__order=order_a).pk, "wline_y": WorkLine.objects.get(work__order=order_b).pk,
        "count_x": count_x.pk, "transfer_to_x": transfer_to_x.pk,
        "level_x": StockLevel.objects.get(product=sku_x, location=x).pk,
        "level_dc": StockLevel.objects.get(product=sku_d, location=dc).pk,
    }
    assert Work.objects.get(pk=world.ids["work_x"]).location_id == x.pk
    assert Work.objects.get(pk=world.ids["work_y"]).location_id == y.pk
    assert Hold.objects.count() == 2
    return world
