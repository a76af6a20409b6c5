"""omni.transitions: the one checked transition function every status goes through."""

from __future__ import annotations

import pytest
from django.db import models

from inventory.models import Transfer, TransferStatus
from inventory.imports.services import IMPORT_TRANSITIONS
from inventory.services import TRANSFER_TRANSITIONS
from omni.errors import IllegalTransition
from omni.transitions import TransitionTable, transition_apply, transition_check, transition_update
from orders.services import ALLOCATION_TRANSITIONS, HOLD_TRANSITIONS, LINE_TRANSITIONS, ORDER_TRANSITIONS


class Light(models.TextChoices):
    RED = "red", "Red"
    GREEN = "green", "Green"
    AMBER = "amber", "Amber"


LIGHT = TransitionTable(Light, {Light.RED: {Light.GREEN}, Light.GREEN: {Light.AMBER}, Light.AMBER: {Light.RED}})


def test_a_legal_move_is_allowed_and_an_illegal_one_names_the_object_and_both_statuses():
    assert transition_check(table=LIGHT, current="red", to="green", what="Light 7") is True
    with pytest.raises(IllegalTransition) as err:
        transition_check(table=LIGHT, current="red", to="amber", what="Light 7")
    assert err.value.code == "illegal_transition"
    assert err.value.message == "Light 7 is red; it cannot become amber."
    assert err.value.details == {"status": ["red → amber is not allowed."]}


def test_staying_put_is_refused_unless_the_table_is_idempotent():
    with pytest.raises(IllegalTransition):
        transition_check(table=LIGHT, current="red", to="red", what="Light 7")
    idempotent = TransitionTable(Light, LIGHT.moves, idempotent=True)
    assert transition_check(table=idempotent, current="red", to="red", what="Light 7") is False


def test_a_table_must_name_every_status_and_only_known_ones():
    with pytest.raises(ValueError, match="list every status"):
        TransitionTable(Light, {Light.RED: {Light.GREEN}})
    with pytest.raises(ValueError, match="no status blue"):
        TransitionTable(Light, {Light.RED: {"blue"}, Light.GREEN: set(), Light.AMBER: set()})


def test_sources_and_final_statuses():
    assert LIGHT.sources("red") == {"amber"}
    assert ORDER_TRANSITIONS.is_final("cancelled") and not ORDER_TRANSITIONS.is_final("allocated")


@pytest.mark.parametrize("table", [ORDER_TRANSITIONS, LINE_TRANSITIONS, ALLOCATION_TRANSITIONS, HOLD_TRANSITIONS,
                                   TRANSFER_TRANSITIONS, IMPORT_TRANSITIONS])
def test_every_app_table_covers_its_choices(table):
    assert set(table.moves) == set(table.choices.values)


@pytest.mark.django_db
def test_apply_saves_and_a_refused_move_changes_nothing():
    from tests.inventory.factories import LocationFactory, ProductFactory

    transfer = Transfer.objects.create(product=ProductFactory(), from_location=LocationFactory(code="T-A"),
                                       to_location=LocationFactory(code="T-B"), quantity=2)
    assert transition_apply(obj=transfer, table=TRANSFER_TRANSITIONS, to=TransferStatus.CANCELLED, what=f"Transfer #{transfer.pk}")
    transfer.refresh_from_db()
    assert transfer.status == "cancelled"
    with pytest.raises(IllegalTransition, match=r"Transfer #\d+ is cancelled; it cannot become received\."):
        transition_apply(obj=transfer, table=TRANSFER_TRANSITIONS, to=TransferStatus.RECEIVED, what=f"Transfer #{transfer.pk}")
    transfer.refresh_from_db()
    assert transfer.status == "cancelled"


@pytest.mark.django_db
def test_update_moves_only_rows_whose_status_allows_it():
    from tests.inventory.factories import LocationFactory, ProductFactory

    a, b, p = LocationFactory(code="U-A"), LocationFactory(code="U-B"), ProductFactory()
    moving = Transfer.objects.create(product=p, from_location=a, to_location=b, quantity=1)
    done = Transfer.objects.create(product=p, from_location=a, to_location=b, quantity=1, status=TransferStatus.RECEIVED)
    moved = transition_update(queryset=Transfer.objects.filter(pk__in=[moving.pk, done.pk]), table=TRANSFER_TRANSITIONS,
                              to=TransferStatus.CANCELLED)
    assert moved == 1
    assert dict(Transfer.objects.values_list("pk", "status")) == {moving.pk: "cancelled", done.pk: "received"}
