"""Where a shipment's tracking number comes from: a pluggable carrier backend.

``OMNI_CARRIER_BACKEND`` names a class with ``name`` and ``book(*, work, box_type) -> str | None``.
The default, ``ManualCarrier``, books nothing: the associate types the number from the carrier's
own label. A real integration (a carrier's API client) books the parcel and returns its number.
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from fulfillment.models import Work


class CarrierBackend(Protocol):
    name: str

    def book(self, *, work: Work, box_type: str) -> str | None: ...


class ManualCarrier:
    """No integration: staff type the tracking number."""

    name = ""

    def book(self, *, work: Work, box_type: str) -> str | None:
        return None


class DemoCarrier:
    """A stand-in carrier for demos and tests: a number made from the work, no network."""

    name = "Demo Post"

    def book(self, *, work: Work, box_type: str) -> str | None:
        return f"DP{work.pk:09d}TR"


def carrier_backend() -> CarrierBackend:
    return import_string(getattr(settings, "OMNI_CARRIER_BACKEND", "fulfillment.store.carriers.ManualCarrier"))()
