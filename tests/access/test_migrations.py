"""Models that moved between apps keep their tables and rows: migrate a database back to the
state before the move, write rows with the models of that state, migrate forward, read them back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# The last migrations before the moves (PartnerToken: allocation → access, StaffAssignment:
# inventory → access).
BEFORE = [("allocation", "0003_sync"), ("inventory", "0006_fewer_indexes_on_hot_paths"), ("access", None)]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_partner_tokens_and_staff_assignments_keep_their_rows_through_the_move_to_access():
    old = _migrate(BEFORE)
    User = old.get_model("auth", "User")
    Location = old.get_model("inventory", "Location")
    Channel = old.get_model("allocation", "Channel")
    OldToken = old.get_model("allocation", "PartnerToken")
    OldAssignment = old.get_model("inventory", "StaffAssignment")
    store = Location.objects.create(code="ST-1", name="Store 1", kind="store")
    web = Channel.objects.create(code="web", name="Web", kind="webshop")
    token = OldToken.objects.create(name="POS", channel=web, user=User.objects.create(username="partner:pos"),
                                    key_hash="h" * 64, prefix="omni_abc", scopes=["stock:read"])
    token.locations.add(store)
    OldAssignment.objects.create(user=User.objects.create(username="staff.1"), location=store)

    _migrate(_latest())

    from omni.access.models import PartnerToken, StaffAssignment
    from omni.access.roles import Role, principal_for

    moved = PartnerToken.objects.get()
    assert (moved.pk, moved.name, moved.channel.code, moved.scopes) == (token.pk, "POS", "web", ["stock:read"])
    assert list(moved.locations.values_list("code", flat=True)) == ["ST-1"]
    staff = StaffAssignment.objects.select_related("user", "location").get()
    assert (staff.user.username, staff.location.code) == ("staff.1", "ST-1")
    assert principal_for(staff.user).role is Role.STORE_STAFF
