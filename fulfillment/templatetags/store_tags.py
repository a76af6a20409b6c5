from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_count(counts: Any, key: str) -> int:
    return counts.get(key, 0)


@register.filter
def qty_of(form: Any, line: Any) -> Any:
    """The hand-over form's quantity field of ``line``."""
    return form.qty_field(line)


@register.filter
def status_label(status: str) -> str:
    from fulfillment.store.display import status_label as label

    return label(status)


@register.filter
def kind_label(kind: str) -> str:
    from fulfillment.store.display import kind_label as label

    return label(kind)
