"""Who owns a reservation. A ``Reservation.reference`` is opaque to inventory (``order-allocation:42``,
``hold:<uuid>:0`` …); the app that reserved registers its reference prefix here with a function
that says which references still have a live owner. The ledger check then reports an open
reservation whose owner is gone or closed (it would hold its units forever), without inventory
importing that app.

Register in ``AppConfig.ready``::

    reservation_owner_register(prefix="order-allocation:", live=allocation_references_live)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

LiveReferences = Callable[[Sequence[str]], set[str]]
"""Given references that start with the registered prefix, return those whose owner still
exists and may hold units."""

_owners: dict[str, LiveReferences] = {}


def reservation_owner_register(*, prefix: str, live: LiveReferences) -> None:
    if not prefix or not prefix.endswith(":"):
        raise ValueError(f"A reservation reference prefix ends with ':', got {prefix!r}.")
    for other in _owners:
        if other != prefix and (other.startswith(prefix) or prefix.startswith(other)):
            raise ValueError(f"Reservation reference prefix {prefix!r} overlaps {other!r}.")
    _owners[prefix] = live


def reservation_owners() -> dict[str, LiveReferences]:
    return dict(_owners)
