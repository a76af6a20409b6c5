"""Reminders and expiry of ready pickups, with time passed in (``now=``): a reminder after the
store's hours, expiry after its days — units released to sellable stock through the orders
services, the line cancelled, the customer told, a put-back task for the store; reruns change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from fulfillment.models import Notification, PickupPolicy, PutBackTask, WorkStatus
from fulfillment.notifications.sms import LocmemSmsBackend
from fulfillment.selectors import put_back_tasks
from fulfillment.services import Verification, hand_over, mark_ready, pick
from fulfillment.services.pickup import pickup_reminders_send, pickups_expire, put_back_done
from inventory.models import StockMovement
from inventory.services import ledger_check
from omni.errors import IllegalTransition
from orders.models import LineStatus, OrderStatus
from tests.inventory.factories import StaffFactory

from .factories import place_bopis, receive, stock

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sms(settings):
    settings.OMNI_SMS_BACKEND = "fulfillment.notifications.sms.LocmemSmsBackend"
    settings.OMNI_PICKUP_REMINDER_HOURS, settings.OMNI_PICKUP_EXPIRY_DAYS = 24, 7
    LocmemSmsBackend.outbox.clear()
    yield LocmemSmsBackend


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run a job as beat would: its after-commit sends happen."""
    def call(fn, **kw):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kw)
    return call


def ready(world, run, external_id, *lines, store=None):
    for sku, qty in lines:
        receive({"SHIRT": world.shirt, "MUG": world.mug}[sku], store or world.ist, 5)
    work = place_bopis(world, external_id, *lines, store=store, customer_email="c@example.com", customer_phone="+905321234567")
    for line in work.lines.all():
        pick(work=work, line=line, qty=line.quantity, actor="alice")
    return run(mark_ready, work=work, actor="alice")


def kinds(work) -> list[tuple[str, str]]:
    return sorted(Notification.objects.filter(work=work).values_list("kind", "channel"))


def test_reminder_after_the_default_hours_once(world, run):
    work = ready(world, run, "B-1", ("SHIRT", 2))
    at = work.ready_at
    assert run(pickup_reminders_send, now=at + timedelta(hours=23)) == []
    assert run(pickup_reminders_send, now=at + timedelta(hours=24)) == [work.pk]
    assert run(pickup_reminders_send, now=at + timedelta(hours=30)) == []      # once
    assert kinds(work) == [("ready", "email"), ("ready", "sms"), ("reminder", "email"), ("reminder", "sms")]
    assert mail.outbox[-1].subject == "Reminder: your order B-1 is waiting for you"
    assert work.pickup_code in mail.outbox[-1].body


def test_a_store_policy_sets_its_own_reminder_and_expiry(world, run):
    PickupPolicy.objects.create(location=world.izm, reminder_after_hours=2, expire_after_days=1)
    quick = ready(world, run, "B-2", ("SHIRT", 1), store=world.izm)
    slow = ready(world, run, "B-3", ("SHIRT", 1))
    later = max(quick.ready_at, slow.ready_at)
    assert run(pickup_reminders_send, now=later + timedelta(hours=3)) == [quick.pk]
    assert run(pickups_expire, now=later + timedelta(days=1, minutes=1)) == [quick.pk]
    slow.refresh_from_db()
    assert slow.status == WorkStatus.READY_FOR_PICKUP


def test_uncollected_pickup_expires_back_to_sellable_with_a_put_back_task(world, run, sms):
    work = ready(world, run, "B-4", ("SHIRT", 2), ("MUG", 1))
    assert (stock(world.shirt, world.ist), stock(world.mug, world.ist)) == ((5, 2, 0), (5, 1, 0))
    movements = StockMovement.objects.count()
    at = work.ready_at
    assert run(pickups_expire, now=at + timedelta(days=6, hours=23)) == []
    assert run(pickups_expire, now=at + timedelta(days=7)) == [work.pk]
    work.refresh_from_db()
    assert work.status == WorkStatus.EXPIRED and work.closed_at is not None
    # the reservation is released: every unit sellable again, still on the shelf (no ledger movement)
    assert (stock(world.shirt, world.ist), stock(world.mug, world.ist)) == ((5, 0, 0), (5, 0, 0))
    assert StockMovement.objects.count() == movements
    order = work.order
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert set(order.lines.values_list("status", flat=True)) == {LineStatus.CANCELLED}
    assert sorted((ln.product.sku, ln.cancelled) for ln in work.lines.all()) == [("MUG", 1), ("SHIRT", 2)]
    # the customer is told
    assert ("expired", "email") in kinds(work) and ("expired", "sms") in kinds(work)
    assert mail.outbox[-1].subject == "Your order B-4 was not collected and has been cancelled"
    assert "1 × Product MUG" in mail.outbox[-1].body and "2 × Product SHIRT" in mail.outbox[-1].body
    # the store puts the goods back
    task = PutBackTask.objects.get(work=work)
    assert [t.pk for t in put_back_tasks(location=world.ist)] == [task.pk]
    assert sorted(task.lines.values_list("product__sku", "quantity")) == [("MUG", 1), ("SHIRT", 2)]
    # a rerun changes nothing and tells nobody twice
    sent = (len(mail.outbox), len(sms.outbox))
    assert run(pickups_expire, now=at + timedelta(days=9)) == []
    assert run(pickup_reminders_send, now=at + timedelta(days=9)) == []
    assert (len(mail.outbox), len(sms.outbox)) == sent and PutBackTask.objects.count() == 1
    staff = StaffFactory(username="bob", assigned=world.ist)
    task = put_back_done(task=task, actor=staff)
    assert (task.status, task.done_by) == ("done", staff) and list(put_back_tasks(location=world.ist)) == []
    with pytest.raises(IllegalTransition):
        put_back_done(task=task, actor=staff)
    assert ledger_check() == []


def test_a_collected_pickup_is_neither_reminded_nor_expired(world, run):
    work = ready(world, run, "B-5", ("SHIRT", 1))
    hand_over(work=work, verification=Verification(collector_name="Ayşe"), actor="bob")
    assert run(pickup_reminders_send, now=work.ready_at + timedelta(days=2)) == []
    assert run(pickups_expire, now=work.ready_at + timedelta(days=30)) == []
    assert stock(world.shirt, world.ist) == (4, 0, 0) and not PutBackTask.objects.exists()
    assert ledger_check() == []


def test_the_beat_jobs_are_scheduled():
    from fulfillment.schedules import BEAT_SCHEDULE
    from omni.celery import app

    tasks = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert tasks == {"fulfillment.tasks.pickup_reminders_send", "fulfillment.tasks.pickups_expire",
                     "fulfillment.tasks.choices_expire", "fulfillment.tasks.notifications_sweep"}
    assert tasks <= set(app.tasks.keys())
