"""The merchandiser's admin for pickups: a store's policy, failed messages sent again, put-back tasks done."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from fulfillment.models import Notification, PickupPolicy, PutBackTask
from fulfillment.notifications.sms import LocmemSmsBackend
from fulfillment.services import mark_ready, pick
from fulfillment.services.pickup import pickups_expire
from tests.inventory.factories import MerchandiserFactory

from .factories import place_bopis, receive

pytestmark = pytest.mark.django_db


def test_policy_resend_and_put_back_through_the_admin(world, client, settings, django_capture_on_commit_callbacks):
    settings.OMNI_SMS_BACKEND = "fulfillment.notifications.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    LocmemSmsBackend.failing = {"+905321234567"}
    merch = MerchandiserFactory(username="merch")
    client.force_login(merch)
    res = client.post(reverse("admin:fulfillment_pickuppolicy_add"),
                      {"location": world.ist.pk, "reminder_after_hours": 3, "expire_after_days": 2})
    assert res.status_code == 302 and PickupPolicy.objects.get().expire_after_days == 2

    receive(world.shirt, world.ist, 3)
    work = place_bopis(world, "B-1", ("SHIRT", 1), customer_phone="+905321234567")
    pick(work=work, line=work.lines.get(), qty=1, actor="alice")
    with django_capture_on_commit_callbacks(execute=True):
        work = mark_ready(work=work, actor="alice")
    failed = Notification.objects.get(channel="sms")
    assert failed.status == "failed"
    LocmemSmsBackend.failing = set()
    client.post(reverse("admin:fulfillment_notification_changelist"), {"action": "resend", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.status == "sent" and len(LocmemSmsBackend.outbox) == 1

    with django_capture_on_commit_callbacks(execute=True):
        assert pickups_expire(now=work.ready_at + timedelta(days=2)) == [work.pk]
    task = PutBackTask.objects.get()
    assert client.get(reverse("admin:fulfillment_putbacktask_change", args=[task.pk])).status_code == 200
    client.post(reverse("admin:fulfillment_putbacktask_changelist"), {"action": "mark_done", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert (task.status, task.done_by) == ("done", merch)
