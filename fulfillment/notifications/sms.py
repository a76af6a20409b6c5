"""Pluggable SMS backends, chosen by ``settings.OMNI_SMS_BACKEND`` (a dotted path), in the manner
of Django's email backends. A backend's ``send(to, body)`` returns the provider's message id (or
"") and raises ``SmsError`` when the message was not accepted."""

from __future__ import annotations

import json
import re
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from django.conf import settings
from django.utils.module_loading import import_string

PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")


class SmsError(Exception):
    """The message was not sent; the text says why."""


def phone_normalize(phone: str) -> str:
    """``+90 532 123-45-67`` → ``+905321234567``; refuses what is not an international number."""
    digits = re.sub(r"[\s\-().]", "", phone or "")
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not PHONE_RE.match(digits):
        raise SmsError(f"{phone!r} is not a phone number in international form (+<country><number>).")
    return digits


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str


class BaseSmsBackend:
    def send(self, to: str, body: str) -> str:
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    """Prints each message (the development default)."""

    def send(self, to: str, body: str) -> str:
        sys.stdout.write(f"SMS to {to}:\n{body}\n{'-' * 40}\n")
        sys.stdout.flush()
        return ""


class FileSmsBackend(BaseSmsBackend):
    """Appends each message as one JSON line to ``OMNI_SMS_FILE_PATH``."""

    _lock = threading.Lock()

    def send(self, to: str, body: str) -> str:
        line = json.dumps({"at": datetime.now(UTC).isoformat(), "to": to, "body": body}, ensure_ascii=False)
        with self._lock, open(settings.OMNI_SMS_FILE_PATH, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        return ""


class LocmemSmsBackend(BaseSmsBackend):
    """Keeps messages in ``LocmemSmsBackend.outbox`` (tests); a number in ``failing`` is refused."""

    outbox: ClassVar[list[SmsMessage]] = []
    failing: ClassVar[set[str]] = set()

    def send(self, to: str, body: str) -> str:
        if to in self.failing:
            raise SmsError(f"The provider refused {to}.")
        self.outbox.append(SmsMessage(to=to, body=body))
        return f"locmem-{len(self.outbox)}"


class TwilioSmsBackend(BaseSmsBackend):  # pragma: no cover - needs the optional `twilio` package and an account
    """Twilio's Programmable Messaging (``pip install twilio``; settings or environment
    ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_FROM_NUMBER``)."""

    def __init__(self) -> None:
        import os

        from twilio.rest import Client  # type: ignore[import-not-found]

        def conf(name: str) -> str:
            return getattr(settings, name, "") or os.environ.get(name, "")

        self.client = Client(conf("TWILIO_ACCOUNT_SID"), conf("TWILIO_AUTH_TOKEN"))
        self.from_number = conf("TWILIO_FROM_NUMBER")

    def send(self, to: str, body: str) -> str:
        from twilio.base.exceptions import TwilioException  # type: ignore[import-not-found]

        try:
            return self.client.messages.create(to=to, from_=self.from_number, body=body).sid
        except TwilioException as exc:
            raise SmsError(str(exc)) from exc


def sms_backend() -> BaseSmsBackend:
    return import_string(settings.OMNI_SMS_BACKEND)()
