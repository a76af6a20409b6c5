"""Customer notifications: the ready message with the pickup code (and its QR code inline in the
email), by email and SMS, in the customer's language, each recorded with its outcome; a failure is
recorded with its error and can be sent again; nothing is ever sent twice."""

from __future__ import annotations

import pytest
from django.core import mail

from fulfillment.models import Notification, NotificationStatus, WorkEvent
from fulfillment.notifications.messages import pickup_qr_png
from fulfillment.notifications.services import notification_send, notify
from fulfillment.notifications.sms import LocmemSmsBackend, SmsError, phone_normalize
from fulfillment.services import mark_ready, pick
from orders.models import Order

from .factories import place_bopis, receive

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sms(settings):
    settings.OMNI_SMS_BACKEND = "fulfillment.notifications.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    LocmemSmsBackend.failing.clear()
    yield LocmemSmsBackend


def ready_work(world, external_id="B-1", *, email="ayse@example.com", phone="+90 532 123 45 67", language="",
               capture=None):
    receive(world.shirt, world.ist, 5)
    work = place_bopis(world, external_id, ("SHIRT", 2), customer_email=email, customer_phone=phone,
                       customer_language=language, ship_name="Ayşe Yılmaz")
    for line in work.lines.all():
        pick(work=work, line=line, qty=line.quantity, actor="alice")
    with capture(execute=True):
        return mark_ready(work=work, actor="alice")


def test_ready_sends_the_pickup_code_by_email_with_its_qr_code_and_by_sms(world, sms, django_capture_on_commit_callbacks):
    work = ready_work(world, capture=django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ayse@example.com"]
    assert email.subject == f"Your order B-1 is ready for pickup at {world.ist.name}"
    assert work.pickup_code in email.body and "Hello Ayşe Yılmaz," in email.body and "2 × Product SHIRT" in email.body
    html = email.alternatives[0].content
    assert 'src="cid:pickup-qr"' in html and work.pickup_code in html
    qr = [a for a in email.attachments if getattr(a, "get", None) and a.get("Content-ID") == "<pickup-qr>"]
    assert len(qr) == 1 and qr[0].get_payload(decode=True) == pickup_qr_png(work.pickup_code)
    assert qr[0].get_payload(decode=True).startswith(b"\x89PNG")
    assert [(m.to, work.pickup_code in m.body) for m in sms.outbox] == [("+905321234567", True)]
    notes = {n.channel: n for n in Notification.objects.filter(work=work)}
    assert {c: (n.kind, n.status, n.error) for c, n in notes.items()} == {
        "email": ("ready", "sent", ""), "sms": ("ready", "sent", "")}
    assert notes["email"].subject == email.subject and notes["email"].sent_at is not None
    assert sorted(WorkEvent.objects.filter(work=work, kind="notified").values_list("data__channel", "data__outcome")) == [
        ("email", "sent"), ("sms", "sent")]
    # told once: asking again records and sends nothing new
    notify(work=work, kind="ready")
    assert len(mail.outbox) == 1 and len(sms.outbox) == 1 and Notification.objects.count() == 2


def test_messages_are_in_the_customers_language(world, sms, django_capture_on_commit_callbacks):
    work = ready_work(world, language="tr", capture=django_capture_on_commit_callbacks)
    assert mail.outbox[0].subject == f"B-1 numaralı siparişiniz {world.ist.name} mağazasında teslime hazır"
    assert "Teslim alma kodu" in mail.outbox[0].body and "Merhaba Ayşe Yılmaz," in mail.outbox[0].body
    assert sms.outbox[0].body.startswith("B-1 numaralı siparişiniz")
    assert set(Notification.objects.filter(work=work).values_list("language", flat=True)) == {"tr"}


def test_a_failed_sms_is_recorded_with_its_error_and_can_be_sent_again(world, sms, django_capture_on_commit_callbacks):
    sms.failing.add("+905321234567")
    work = ready_work(world, capture=django_capture_on_commit_callbacks)
    note = Notification.objects.get(work=work, channel="sms")
    assert (note.status, note.error, note.attempts) == ("failed", "SmsError: The provider refused +905321234567.", 1)
    assert Notification.objects.get(work=work, channel="email").status == "sent"
    sms.failing.clear()
    note = notification_send(notification_id=note.pk)
    assert (note.status, note.error, note.attempts) == ("sent", "", 2)
    assert notification_send(notification_id=note.pk) is None   # sent: never again
    assert len(sms.outbox) == 1


def test_no_address_is_recorded_as_skipped_and_a_bad_number_fails(world, sms, django_capture_on_commit_callbacks):
    work = ready_work(world, email="", phone="0532 12", capture=django_capture_on_commit_callbacks)
    notes = {n.channel: n for n in Notification.objects.filter(work=work)}
    assert (notes["email"].status, notes["email"].error) == (NotificationStatus.SKIPPED, "The order has no email address.")
    assert notes["sms"].status == NotificationStatus.FAILED and "international form" in notes["sms"].error
    assert mail.outbox == [] and sms.outbox == []


def test_phone_numbers_are_normalised():
    assert phone_normalize("0090 (532) 123-45-67") == "+905321234567"
    with pytest.raises(SmsError):
        phone_normalize("5321234567")


def test_an_order_takes_the_customers_contact(world):
    receive(world.shirt, world.ist, 5)
    work = place_bopis(world, "B-9", ("SHIRT", 1), customer_email=" a@b.example ", customer_phone="+44 20 7946 0000",
                       customer_language="TR")
    order = Order.objects.get(pk=work.order_id)
    assert (order.customer_email, order.customer_phone, order.customer_language) == ("a@b.example", "+44 20 7946 0000", "tr")


def test_any_sending_failure_is_recorded_never_left_in_flight(world, settings, django_capture_on_commit_callbacks):
    settings.OMNI_SMS_BACKEND = "fulfillment.notifications.sms.NoSuchBackend"   # a misconfiguration
    work = ready_work(world, capture=django_capture_on_commit_callbacks)
    note = Notification.objects.get(work=work, channel="sms")
    assert note.status == "failed" and note.error.startswith("ImportError:")
    assert Notification.objects.get(work=work, channel="email").status == "sent"
