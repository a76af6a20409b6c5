"""The Turkish catalogue (store app and notifications) is complete and its committed .mo matches the .po."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

from django.conf import settings

PO = Path(settings.BASE_DIR) / "locale/tr/LC_MESSAGES/django.po"


def _po_entries() -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    for block in PO.read_text(encoding="utf-8").split("\n\n")[1:]:
        key, current, parts = None, None, {}
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            m = re.match(r'^(msgid_plural|msgid|msgstr(?:\[\d\])?) "(.*)"$', line)
            if m:
                current = m.group(1)
                parts[current] = m.group(2)
            elif current:
                parts[current] += line.strip()[1:-1]
        key = parts["msgid"].encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
        entries[key] = [v for k, v in parts.items() if k.startswith("msgstr")]
    return entries


def test_every_store_string_has_a_turkish_translation():
    untranslated = [k for k, values in _po_entries().items() if not all(values)]
    assert untranslated == []


def test_the_committed_mo_holds_every_entry_of_the_po():
    with open(PO.with_suffix(".mo"), "rb") as fh:
        catalog = gettext.GNUTranslations(fh)._catalog  # type: ignore[attr-defined]
    in_mo = {k[0] if isinstance(k, tuple) else k for k in catalog if k}
    assert set(_po_entries()) == in_mo


def test_no_translation_is_left_fuzzy():
    """msgfmt leaves fuzzy entries out of the .mo: the page would show English."""
    assert "fuzzy" not in PO.read_text(encoding="utf-8")
