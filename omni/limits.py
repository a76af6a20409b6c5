"""Upper bounds on what Omni accepts, checked before anything is written.

Every quantity an API, page, import or service takes is a whole number of units between
``-MAX_QUANTITY`` and ``MAX_QUANTITY``; no stock bucket may grow past ``MAX_STOCK``. Both are far
below the 32-bit integer columns (2 147 483 647), so an accepted figure always fits, even summed.
Text must not carry NUL or other control characters (PostgreSQL refuses NUL; the others are never
meant). Request bodies and JSON nesting are bounded too (``omni.api.guard``).
"""

from __future__ import annotations

import re

MAX_QUANTITY = 1_000_000
MAX_STOCK = 1_000_000_000
MAX_TTL_SECONDS = 7 * 24 * 3600

# C0 control characters except tab, line feed and carriage return; DEL; C1 controls.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def without_control_characters(text: str) -> str:
    """For echoing refused input back in a message or a stored error: control characters shown as U+FFFD."""
    return CONTROL_CHARACTERS.sub("\ufffd", text)
