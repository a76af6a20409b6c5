"""Recording and sending customer notifications.

``notify(work, kind)`` records one ``Notification`` per channel (email, SMS) in the caller's
transaction — at most one per (work, kind, channel), so a job run twice tells nobody twice — and
sends them after commit through the Celery task ``fulfillment.tasks.notification_send`` (inline in
the embedded default). ``notification_send`` claims a row with a conditional update (pending or
failed → sending), renders and sends with no transaction open, and records the outcome: sent, or
failed with the error. A failed message can be sent again (admin action *resend*).

``notifications_sweep`` (beat job): a worker that died between claiming and recording leaves its
message "being sent" for ever; past ``OMNI_NOTIFICATION_SENDING_TIMEOUT_SECONDS`` the sweep marks
it failed (saying so) and sends it again while it has attempts left (``SWEEP_MAX_ATTEMPTS``). The
customer may then get a message twice if the dead worker had sent it before dying: at least once
is the right side to err on for a pickup code.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.mime.image import MIMEImage
from functools import partial

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fulfillment.models import Notification, NotificationChannel, NotificationKind, NotificationStatus, Work
from fulfillment.services.events import work_event_record
from omni.transitions import TransitionTable, transition_update

from .messages import message_language, message_render, pickup_qr_png
from .sms import SmsError, phone_normalize, sms_backend

log = logging.getLogger(__name__)

NOTIFICATION_TRANSITIONS = TransitionTable(NotificationStatus, {
    NotificationStatus.PENDING: {NotificationStatus.SENDING},
    NotificationStatus.SENDING: {NotificationStatus.SENT, NotificationStatus.FAILED},
    NotificationStatus.FAILED: {NotificationStatus.SENDING},
    NotificationStatus.SENT: set(),
    NotificationStatus.SKIPPED: set(),
})

QR_CID = "pickup-qr"
SWEEP_MAX_ATTEMPTS = 3
STUCK_ERROR = "The sender stopped while sending (no outcome after {seconds} s)."


def notifications_record(*, work: Work, kind: str) -> list[Notification]:
    """The messages of ``kind`` for this work, one per channel (existing ones as they are). A
    channel without an address on the order is recorded as skipped, saying so."""
    if kind not in NotificationKind.values:
        raise ValueError(f"Unknown notification kind {kind!r}.")
    order = work.order
    language = message_language(order.customer_language)
    wanted = {NotificationChannel.EMAIL: (order.customer_email or "").strip(),
              NotificationChannel.SMS: (order.customer_phone or "").strip()}
    Notification.objects.bulk_create([
        Notification(work=work, order=order, kind=kind, channel=channel, recipient=to, language=language,
                     status=NotificationStatus.PENDING if to else NotificationStatus.SKIPPED,
                     error="" if to else f"The order has no {'email address' if channel == 'email' else 'phone number'}.")
        for channel, to in wanted.items()
    ], ignore_conflicts=True)
    return list(Notification.objects.filter(work=work, kind=kind).order_by("channel"))


def notify(*, work: Work | int, kind: str) -> list[int]:
    """Record this work's ``kind`` messages and send the pending ones after commit. Returns their ids."""
    from fulfillment.tasks import notification_send_task

    with transaction.atomic():
        work = Work.objects.select_related("order").get(pk=work.pk if isinstance(work, Work) else work)
        rows = notifications_record(work=work, kind=kind)
        pending = [n.pk for n in rows if n.status == NotificationStatus.PENDING]
        for pk in pending:
            transaction.on_commit(partial(notification_send_task.delay, pk))
    return [n.pk for n in rows]


def _send_email(note: Notification, work: Work) -> None:
    message = message_render(work=work, kind=note.kind, language=note.language)
    note.subject, note.body = message.subject[:255], message.text
    email = EmailMultiAlternatives(subject=message.subject, body=message.text, from_email=settings.DEFAULT_FROM_EMAIL,
                                   to=[note.recipient])
    email.attach_alternative(message.html, "text/html")
    if work.pickup_code and f"cid:{QR_CID}" in message.html:
        # the image belongs to the html part
        email.mixed_subtype = "related"  # type: ignore[attr-defined]
        image = MIMEImage(pickup_qr_png(work.pickup_code), "png")
        image.add_header("Content-ID", f"<{QR_CID}>")
        image.add_header("Content-Disposition", "inline", filename=f"pickup-{work.pickup_code}.png")
        email.attach(image)
    email.send(fail_silently=False)


def _send_sms(note: Notification, work: Work) -> None:
    message = message_render(work=work, kind=note.kind, language=note.language)
    note.subject, note.body = "", message.sms
    sms_backend().send(phone_normalize(note.recipient), message.sms)


def notification_send(*, notification_id: int) -> Notification | None:
    """Send one recorded message now (no transaction open) and record how it went. A message that
    is already sent, skipped or being sent elsewhere is left alone (returns None)."""
    claimed = transition_update(
        queryset=Notification.objects.filter(pk=notification_id), table=NOTIFICATION_TRANSITIONS, to=NotificationStatus.SENDING,
        claimed_at=timezone.now(),
    )
    if not claimed:
        return None
    note = Notification.objects.select_related("work__order", "work__location", "work__pickup_location").get(pk=notification_id)
    Notification.objects.filter(pk=note.pk).update(attempts=note.attempts + 1)
    try:
        (_send_email if note.channel == NotificationChannel.EMAIL else _send_sms)(note, note.work)
    except Exception as exc:  # noqa: BLE001 - any failure is the outcome to record (SMTP errors, a provider's refusal …)
        outcome, error = NotificationStatus.FAILED, f"{type(exc).__name__}: {exc}"[:500]
        log.warning("notification %s (%s by %s to %s) failed: %s", note.pk, note.kind, note.channel, note.recipient, error,
                    exc_info=not isinstance(exc, SmsError | OSError))
    else:
        outcome, error = NotificationStatus.SENT, ""
    now = timezone.now()
    with transaction.atomic():
        transition_update(queryset=Notification.objects.filter(pk=note.pk), table=NOTIFICATION_TRANSITIONS, to=outcome,
                          error=error, subject=note.subject, body=note.body, sent_at=now if outcome == "sent" else None)
        work_event_record(work=note.work, kind="notified", actor="system", at=now, data={
            "notification": note.pk, "kind": note.kind, "channel": note.channel, "outcome": outcome, "error": error})
    note.refresh_from_db()
    return note


def notifications_sweep(*, now: datetime | None = None) -> list[int]:
    """Messages stuck "being sent" past the timeout: marked failed with the reason; those with
    attempts left are sent again after commit. Returns the ids marked failed this run."""
    from fulfillment.tasks import notification_send_task

    now = now or timezone.now()
    seconds = settings.OMNI_NOTIFICATION_SENDING_TIMEOUT_SECONDS
    cutoff = now - timedelta(seconds=seconds)
    with transaction.atomic():
        stuck = list(Notification.objects.select_for_update(skip_locked=True, of=("self",))
                     .filter(Q(claimed_at__lt=cutoff) | Q(claimed_at__isnull=True, created_at__lt=cutoff),  # claimed before the field
                             status=NotificationStatus.SENDING).order_by("pk"))
        for note in stuck:
            moved = transition_update(queryset=Notification.objects.filter(pk=note.pk), table=NOTIFICATION_TRANSITIONS,
                                      to=NotificationStatus.FAILED, error=STUCK_ERROR.format(seconds=seconds))
            if not moved:
                continue
            work_event_record(work=note.work, kind="notified", actor="system", at=now, data={
                "notification": note.pk, "kind": note.kind, "channel": note.channel, "outcome": NotificationStatus.FAILED,
                "error": STUCK_ERROR.format(seconds=seconds)})
            if note.attempts < SWEEP_MAX_ATTEMPTS:
                transaction.on_commit(partial(notification_send_task.delay, note.pk))
    return [n.pk for n in stuck]
