"""One checked transition function for every status field (orders, holds, allocations,
transfers, import jobs, and the fulfillment work to come).

A status is a ``TextChoices``; its legal moves are a ``TransitionTable`` declared next to the
service that moves it. Every change goes through ``transition_apply`` (an object in hand) or
``transition_update`` (a conditional ``UPDATE``, for moves that must not race), both of which
refuse an illegal move with ``IllegalTransition`` (code ``illegal_transition``) naming the object
and both statuses. This module imports no app.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from omni.errors import IllegalTransition


class TransitionTable:
    """The legal moves of one ``TextChoices`` status: ``{from: {to, …}}``, every status listed
    (a final status maps to nothing).

    ``idempotent``: moving to the status an object already has is a no-op (``transition_check``
    answers False) instead of an illegal move. A self-loop named in ``moves`` is a real move.
    """

    def __init__(self, choices: type[models.TextChoices], moves: Mapping[str, Iterable[str]], *, idempotent: bool = False):
        known = set(choices.values)
        unknown = ({*moves} | {t for targets in moves.values() for t in targets}) - known
        if unknown:
            raise ValueError(f"{choices.__name__} has no status {', '.join(sorted(unknown))}.")
        missing = known - set(moves)
        if missing:
            raise ValueError(f"{choices.__name__}: list every status, also final ones ({', '.join(sorted(missing))}).")
        self.choices = choices
        self.moves: dict[str, frozenset[str]] = {str(k): frozenset(str(t) for t in v) for k, v in moves.items()}
        self.idempotent = idempotent

    def __repr__(self) -> str:
        return f"TransitionTable({self.choices.__name__})"

    def allows(self, current: str, to: str) -> bool:
        return to in self.moves.get(current, frozenset())

    def sources(self, to: str) -> frozenset[str]:
        """Every status from which ``to`` may be reached."""
        return frozenset(s for s, targets in self.moves.items() if to in targets)

    def is_final(self, status: str) -> bool:
        return not self.moves.get(status)

    def label(self, status: str) -> str:
        try:
            return str(self.choices(status).label).lower()
        except ValueError:
            return repr(status)


def transition_check(*, table: TransitionTable, current: str, to: str, what: str) -> bool:
    """True when ``current → to`` is a move to make; False when the object already is ``to`` and
    the table is idempotent. Otherwise ``IllegalTransition`` naming ``what`` and both statuses."""
    if table.allows(current, to):
        return True
    if current == to and table.idempotent:
        return False
    raise IllegalTransition(
        f"{what} is {table.label(current)}; it cannot become {table.label(to)}.",
        code="illegal_transition", details={"status": [f"{current} → {to} is not allowed."]},
    )


def transition_apply(
    *, obj: models.Model, table: TransitionTable, to: str, what: str, field: str = "status", extra_fields: Iterable[str] = (),
) -> bool:
    """Check and move ``obj.<field>`` to ``to``, saving it with ``extra_fields`` (set them on the
    object first). False (and nothing saved) when it already was there and the table allows that."""
    if not transition_check(table=table, current=getattr(obj, field), to=to, what=what):
        return False
    setattr(obj, field, to)
    obj.save(update_fields=[field, *extra_fields])
    return True


def transition_update(
    *, queryset: models.QuerySet[Any], table: TransitionTable, to: str, field: str = "status", **values: Any,
) -> int:
    """Move every row of ``queryset`` whose status may become ``to`` in one conditional ``UPDATE``
    (setting ``values`` too); rows in any other status are left alone. Returns how many moved:
    the way to move a status that another process may be moving at the same time."""
    return queryset.filter(**{f"{field}__in": sorted(table.sources(to))}).update(**{field: to}, **values)
