"""Models that moved between apps keep their rows: migrate a database back to the state before
the moves, write rows with the models of that state, migrate forward, read them back.

Moves: PartnerToken (allocation → access), StaffAssignment (inventory → access), StockSnapshot,
StockSnapshotLine and Alert (allocation → inventory)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("allocation", "0003_sync"), ("inventory", "0006_fewer_indexes_on_hot_paths"), ("access", None)]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


@pytest.mark.django_db(transaction=True)
def test_moved_models_keep_their_rows_keys_and_links():
    old = _migrate(BEFORE)
    User = old.get_model("auth", "User")
    Location = old.get_model("inventory", "Location")
    Product = old.get_model("inventory", "Product")
    Channel = old.get_model("allocation", "Channel")
    store = Location.objects.create(code="ST-1", name="Store 1", kind="store")
    tee = Product.objects.create(sku="TEE", name="Tee")
    web = Channel.objects.create(code="web", name="Web", kind="webshop")
    token = old.get_model("allocation", "PartnerToken").objects.create(
        name="POS", channel=web, user=User.objects.create(username="partner:pos"), key_hash="h" * 64, prefix="omni_abc",
        scopes=["stock:read"])
    token.locations.add(store)
    old.get_model("inventory", "StaffAssignment").objects.create(user=User.objects.create(username="staff.1"), location=store)
    snapshot = old.get_model("allocation", "StockSnapshot").objects.create(location=store, source="wms", external_id="c-1")
    line = old.get_model("allocation", "StockSnapshotLine").objects.create(
        snapshot=snapshot, product=tee, counted=30, system_quantity=0, variance=30, status="pending")
    alert = old.get_model("allocation", "Alert").objects.create(kind="ledger_drift", message="drift", details=[1])

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    from inventory.models import Alert, StockSnapshot, StockSnapshotLine
    from omni.access.models import PartnerToken, StaffAssignment
    from omni.access.roles import Role, principal_for

    moved = PartnerToken.objects.get()
    assert (moved.pk, moved.name, moved.channel.code, moved.scopes) == (token.pk, "POS", "web", ["stock:read"])
    assert list(moved.locations.values_list("code", flat=True)) == ["ST-1"]
    staff = StaffAssignment.objects.select_related("user", "location").get()
    assert (staff.user.username, staff.location.code) == ("staff.1", "ST-1")
    assert principal_for(staff.user).role is Role.STORE_STAFF
    got = StockSnapshot.objects.get()
    assert (got.pk, got.location.code, got.external_id) == (snapshot.pk, "ST-1", "c-1")
    assert list(got.lines.values_list("pk", "product__sku", "variance", "status")) == [(line.pk, "TEE", 30, "pending")]
    assert StockSnapshotLine.objects.get().snapshot_id == snapshot.pk
    assert list(Alert.objects.values_list("pk", "kind", "details")) == [(alert.pk, "ledger_drift", [1])]
