"""A worker that dies while sending leaves a message "being sent": the sweep (a beat job) marks it
failed after the timeout, saying so, and sends it again while it has attempts left."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fulfillment.models import Notification, NotificationStatus
from fulfillment.notifications.services import SWEEP_MAX_ATTEMPTS, notifications_sweep
from fulfillment.notifications.sms import LocmemSmsBackend
from fulfillment.services import mark_ready, pick

from .factories import place_bopis, receive

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sms(settings):
    settings.OMNI_SMS_BACKEND = "fulfillment.notifications.sms.LocmemSmsBackend"
    settings.OMNI_NOTIFICATION_SENDING_TIMEOUT_SECONDS = 600
    LocmemSmsBackend.outbox.clear()
    yield LocmemSmsBackend


def _stuck(world, capture, ext="B-1") -> Notification:
    """A ready pickup whose email was claimed by a worker that then died (no outcome recorded)."""
    receive(world.shirt, world.ist, 2)
    work = place_bopis(world, ext, ("SHIRT", 1), customer_email="ayse@example.com", customer_phone="")
    pick(work=work, line=work.lines.get(), qty=1, actor="alice")
    with capture(execute=False):  # the send never ran
        mark_ready(work=work, actor="alice")
    from fulfillment.notifications.services import notify

    with capture(execute=False):
        [email_id, _sms_id] = notify(work=work, kind="ready")
    Notification.objects.filter(pk=email_id).update(status=NotificationStatus.SENDING, claimed_at=timezone.now(), attempts=1)
    return Notification.objects.get(pk=email_id)


def test_a_message_stuck_sending_is_failed_then_sent_again(world, mailoutbox, django_capture_on_commit_callbacks):
    note = _stuck(world, django_capture_on_commit_callbacks)
    assert notifications_sweep(now=timezone.now() + timedelta(minutes=5)) == []  # still within the timeout
    note.refresh_from_db()
    assert note.status == NotificationStatus.SENDING

    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_sweep(now=timezone.now() + timedelta(minutes=11)) == [note.pk]
    note.refresh_from_db()
    assert (note.status, note.attempts) == (NotificationStatus.SENT, 2)
    assert len(mailoutbox) == 1
    assert note.work.events.filter(kind="notified", data__outcome="failed", data__error__icontains="stopped while sending").exists()
    assert notifications_sweep(now=timezone.now() + timedelta(hours=1)) == []  # nothing stuck any more


def test_a_message_out_of_attempts_stays_failed(world, mailoutbox, django_capture_on_commit_callbacks):
    note = _stuck(world, django_capture_on_commit_callbacks)
    Notification.objects.filter(pk=note.pk).update(attempts=SWEEP_MAX_ATTEMPTS)
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_sweep(now=timezone.now() + timedelta(minutes=11)) == [note.pk]
    note.refresh_from_db()
    assert note.status == NotificationStatus.FAILED and "stopped while sending" in note.error
    assert mailoutbox == []
