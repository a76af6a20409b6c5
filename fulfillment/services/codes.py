"""Pickup codes: short, read aloud and typed without confusion (no 0/O, 1/I/L, 2/Z, 5/S, 8/B)."""

from __future__ import annotations

import secrets

from fulfillment.models import OPEN_STATUSES, Work

PICKUP_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
PICKUP_CODE_LENGTH = 6


def pickup_code_new() -> str:
    """A code no open work uses (the partial unique constraint guards the rare race)."""
    while True:
        code = "".join(secrets.choice(PICKUP_ALPHABET) for _ in range(PICKUP_CODE_LENGTH))
        if not Work.objects.filter(pickup_code=code, status__in=OPEN_STATUSES).exists():
            return code


def pickup_code_normalize(text: str) -> str:
    """What a person typed → the code (case, spaces and dashes ignored)."""
    return "".join(ch for ch in text.upper() if ch.isalnum())
