"""The webhook adapter: sign and POST one JSON body, classify the outcome.

Body::

    {"channel": "web", "sent_at": "…", "updates": [
        {"type": "availability", "sku": "SKU-1", "sequence": 7, "available": 12, "delta": -1, "changed_at": "…"},
        {"type": "event", "event": "shipped", "sequence": 3, "payload": {...}}]}

Header ``X-Omni-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>``. A receiver keeps the last
sequence per SKU (and per event stream), drops an update whose sequence is not higher, applies
``delta`` when the sequence is exactly the next one and otherwise takes ``available`` (a gap means
a dead-lettered update it never saw). See ``tests/harness/receiver.py`` for a reference receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass

SIGNATURE_HEADER = "X-Omni-Signature"


class TransientPushError(Exception):
    """Timeout, connection refused, 5xx, 408 or 429: worth retrying with backoff."""


class PermanentPushError(Exception):
    """Any other 4xx: retrying will not help; dead-letter at once."""


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(signature(secret, body), header)


@dataclass(frozen=True)
class PushResponse:
    status: int


def webhook_post(*, url: str, secret: str, body: dict, timeout: float) -> PushResponse:
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    request = urllib.request.Request(
        url, data=raw, method="POST",
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, raw), "User-Agent": "omni-sync/1"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured by staff
            response.read()
            return PushResponse(status=response.status)
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code in (408, 429):
            raise TransientPushError(f"HTTP {exc.code} from {url}") from None
        raise PermanentPushError(f"HTTP {exc.code} from {url}") from None
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
        raise TransientPushError(f"{type(exc).__name__}: {exc}"[:250]) from None
