"""Per-location SLA: the preparation promise counted in opening hours, in the location's time zone;
each work's deadline follows from it and on-time / late is recorded when it is ready or shipped."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from fulfillment.models import LocationSLA, WorkKind
from fulfillment.services import mark_ready, pick
from fulfillment.services.sla import work_deadline

from .factories import place_bopis, receive

pytestmark = pytest.mark.django_db

IST = ZoneInfo("Europe/Istanbul")


def _sla(location, **kw) -> LocationSLA:
    location.timezone = "Europe/Istanbul"
    location.save(update_fields=["timezone"])
    return LocationSLA.objects.create(location=location, **kw)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=IST)


def test_without_sla_the_fixed_default_runs_around_the_clock(world):
    assert work_deadline(kind=WorkKind.BOPIS, location=world.ist, start=at(2025, 3, 3, 23, 0)) == at(2025, 3, 4, 1, 0)


def test_promise_is_counted_in_opening_hours_of_the_local_day(world):
    _sla(world.ist, bopis_hours=Decimal("2"), ship_hours=Decimal("8"), opens_at=time(10), closes_at=time(20), open_days="012345")
    due = lambda kind, start: work_deadline(kind=kind, location=world.ist, start=start)  # noqa: E731
    assert due(WorkKind.BOPIS, at(2025, 3, 3, 11, 0)) == at(2025, 3, 3, 13, 0)  # Monday, inside opening hours
    assert due(WorkKind.BOPIS, at(2025, 3, 3, 7, 30)) == at(2025, 3, 3, 12, 0)  # before opening: starts at 10:00
    assert due(WorkKind.BOPIS, at(2025, 3, 3, 19, 0)) == at(2025, 3, 4, 11, 0)  # one hour today, one tomorrow
    assert due(WorkKind.BOPIS, at(2025, 3, 3, 22, 0)) == at(2025, 3, 4, 12, 0)  # after closing: next opening
    assert due(WorkKind.BOPIS, at(2025, 3, 8, 19, 30)) == at(2025, 3, 10, 11, 30)  # Saturday evening → Monday (closed Sunday)
    assert due(WorkKind.SHIP_FROM_STORE, at(2025, 3, 3, 16, 0)) == at(2025, 3, 4, 14, 0)
    # the time zone is the location's: 07:00 UTC is 10:00 in Istanbul
    assert due(WorkKind.BOPIS, datetime(2025, 3, 3, 7, 0, tzinfo=ZoneInfo("UTC"))) == at(2025, 3, 3, 12, 0)


def test_bad_opening_hours_are_refused_in_the_admin_form(world):
    sla = LocationSLA(location=world.ist, opens_at=time(20), closes_at=time(10), open_days="09")
    with pytest.raises(ValidationError) as exc:
        sla.full_clean()
    assert set(exc.value.message_dict) >= {"open_days", "closes_at"}


def test_work_gets_its_deadline_and_is_marked_late_or_on_time(world):
    _sla(world.ist, bopis_hours=Decimal("2"), opens_at=time(10), closes_at=time(20))
    receive(world.shirt, world.ist, 5)
    with time_machine.travel(at(2025, 3, 3, 21, 30), tick=False):  # placed after closing
        late = place_bopis(world, "SLA-1", ("SHIRT", 1))
        on_time = place_bopis(world, "SLA-2", ("SHIRT", 1))
    assert late.deadline == at(2025, 3, 4, 12, 0)
    for work in (late, on_time):
        pick(work=work, line=work.lines.get(), qty=1, actor="alice")
    with time_machine.travel(at(2025, 3, 4, 11, 0), tick=False):
        assert mark_ready(work=on_time, actor="alice").on_time is True
    with time_machine.travel(at(2025, 3, 4, 12, 30), tick=False):
        assert mark_ready(work=late, actor="alice").on_time is False
