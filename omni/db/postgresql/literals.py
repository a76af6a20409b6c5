"""Client-side binding's literals for the common exact types, without psycopg's dumper objects.

Django binds parameters client-side: each value becomes a literal in the statement's text
(``Transformer.as_literal``). psycopg makes a new ``Transformer`` for every statement, so every
statement looks up and builds its dumpers again (a Python call through the adapters map per type,
walking the class's MRO for a ``TextChoices`` member), a ``jsonb`` value goes through the
Python-level ``Dumper.quote`` and libpq's ``PQescapeLiteral``, and a quoted literal's cast is
looked up in the types registry per statement. ``literals`` writes the same bytes directly for
the types an order binds nearly all of its ~150 values as: ``None``, ``bool``, ``int`` (and
Django's ``Int2``/``Int4``/``Int8`` wrappers), ``str`` (and ``str`` enums such as
``TextChoices``), ``float``, finite ``Decimal``, ``date``, ``datetime`` (naive, or with a
``datetime.timezone`` / ``ZoneInfo``) and ``Jsonb``. Anything else — another type, a value
psycopg refuses (a NUL byte, a lone surrogate), a special float or decimal — is bound by psycopg
as before, so its text or its error is psycopg's own.

A type takes this path only while the statement's adapters map resolves it to the very dumper
class psycopg's defaults use, whose text is what each function here reproduces (byte for byte:
``tests/test_db_literals.py`` compares them with ``as_literal`` on many generated values). A
dumper registered on the connection, a cursor or psycopg's global map for one of these types
takes them off this path (``_table``), and so does a client encoding other than UTF-8.

Quoting is libpq's ``PQescapeLiteral``, which does not depend on the server's settings: the text
between single quotes with each ``'`` doubled; when the text holds a backslash, each backslash is
doubled too and the literal is written `` E'…'`` (with a leading space). A text with a NUL byte
is never quoted here (psycopg refuses it; libpq would cut it at the NUL).
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.adapt import PyFormat
from psycopg.types.json import Jsonb
from psycopg.types.numeric import Int2, Int4, Int8

_TEXT = PyFormat.TEXT
# psycopg's default adapters map: the dumper classes whose text the functions below reproduce
_DEFAULTS: Any = psycopg.postgres.adapters

Literal = Callable[[Any], "bytes | None"]  # a value → its literal, or None: psycopg binds it


def _quoted(text: str) -> bytes | None:
    """``PQescapeLiteral`` of ``text`` encoded in UTF-8 (None for a NUL character or a lone
    surrogate: psycopg refuses them, with its own error)."""
    if "'" in text or "\\" in text or "\x00" in text:
        if "\x00" in text:
            return None
        text = text.replace("'", "''")
        text = " E'" + text.replace("\\", "\\\\") + "'" if "\\" in text else "'" + text + "'"
    else:
        text = "'" + text + "'"
    try:
        return text.encode()
    except UnicodeEncodeError:
        return None


def _str(value: str) -> bytes | None:
    return _quoted(value)


def _str_subclass(value: str) -> bytes | None:
    # the string itself, as psycopg's dumper reads it (a str enum's value, whatever its __str__)
    return _quoted(str.__str__(value))


def _none(_value: None) -> bytes:
    return b"NULL"


def _bool(value: bool) -> bytes:
    return b"true" if value else b"false"


def _int(value: int) -> bytes:
    # a negative number gets a space in front: "- -1" must not become a comment ("--1")
    return b"%d" % value if value >= 0 else b" %d" % value


_FLOAT_SPECIAL = {b"inf": b"'Infinity'::float8", b"-inf": b"'-Infinity'::float8", b"nan": b"'NaN'::float8"}


def _float(value: float) -> bytes:
    text = float.__repr__(value).encode()
    special = _FLOAT_SPECIAL.get(text)
    if special is not None:
        return special
    return b" " + text if text[0] == 45 else text  # "-": -0.0 too


def _decimal(value: Decimal) -> bytes | None:
    if not value.is_finite():
        return None
    text = str(value).encode()
    return b" " + text if text[0] == 45 else text  # "-": Decimal("-0") too


def _date(value: datetime.date) -> bytes:
    return ("'" + value.isoformat() + "'::date").encode()


# tzinfo types whose instances are always true (psycopg's dumper asks ``if obj.tzinfo``)
_TZ_TYPES = (datetime.timezone, zoneinfo.ZoneInfo)


def _datetime(value: datetime.datetime) -> bytes | None:
    tz = value.tzinfo
    if tz is None:
        return ("'" + str(value) + "'::timestamp").encode()
    if type(tz) in _TZ_TYPES:
        return ("'" + str(value) + "'::timestamptz").encode()
    return None


def _jsonb(value: Jsonb) -> bytes | None:
    dumps = value.dumps or _EXPECTED[Jsonb]._dumps
    text = dumps(value.obj)
    if type(text) is not str:
        return None
    quoted = _quoted(text)
    return None if quoted is None else quoted + b"::jsonb"


# an array element psycopg writes in double quotes (psycopg's own test, for the "," delimiter)
_NEEDS_QUOTES = re.compile(r"""(?xi)
      ^$                # the empty string
    | ["{},\\\s]       # or a char to escape (bytes' \s: ASCII white space)
    | ^null$            # or the word NULL
    | [\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]   # Unicode spaces
    """).search
# the smallest integer type psycopg gives an int array, by its largest magnitude
_INT_ARRAYS = ((2**15, "}'::int2[]"), (2**31, "}'::int4[]"), (2**63, "}'::int8[]"))


def _list(value: list[Any]) -> bytes | None:
    """A non-empty list of ``str`` or of ``int`` (exact types, no None, not nested); anything
    else is psycopg's. Strings: as psycopg's ``ListDumper`` writes them when none needs double
    quotes (none here: those are psycopg's), no cast. Integers: the array of the smallest type
    that holds the largest magnitude (``max(imax, -imin - 1)``, as psycopg chooses it)."""
    if not value:
        return None
    first = type(value[0])
    if first is str:
        for item in value:
            if type(item) is not str or _NEEDS_QUOTES(item) or "'" in item or "\x00" in item:
                return None
        try:
            return ("'{" + ",".join(value) + "}'").encode()
        except UnicodeEncodeError:
            return None
    if first is int:
        for item in value:
            if type(item) is not int:
                return None
        low, high = min(value), max(value)
        magnitude = high if low >= 0 else max(high, -low - 1)
        for bound, cast in _INT_ARRAYS:
            if magnitude < bound:
                return ("'{" + ",".join(map(str, value)) + cast).encode()
    return None


# exact type → its literal
_LITERALS: dict[type, Literal] = {
    type(None): _none,
    bool: _bool,
    int: _int,
    Int2: _int,
    Int4: _int,
    Int8: _int,
    str: _str,
    float: _float,
    Decimal: _decimal,
    datetime.date: _date,
    datetime.datetime: _datetime,
    Jsonb: _jsonb,
    list: _list,
}
# each type's dumper in psycopg's defaults, whose text its literal reproduces (only psycopg's own:
# a dumper an application registered globally before this import leaves its type to psycopg)
_EXPECTED: dict[type, Any] = {}
for _cls in _LITERALS:
    _dumper = _DEFAULTS.get_dumper(_cls, _TEXT)
    if _dumper.__module__.split(".")[0] in ("psycopg", "psycopg_binary", "psycopg_c"):
        _EXPECTED[_cls] = _dumper

# a text dumpers dict seen → (that dict, its table of verified types): a dict is held so that its
# id is not reused; the connections share the one of Django's adapters template
_TABLES: dict[int, tuple[dict[Any, Any], dict[type, Literal], bool]] = {}
# the types ``literals`` writes out in its loop (no call): only while all are verified
_INLINE = (type(None), str, int, Int4)


def _table(tx: Any) -> tuple[dict[type, Literal], bool] | None:
    """The types that this statement's transformer would dump with psycopg's default dumpers, each
    with its literal, and whether those of ``_INLINE`` all are; None: psycopg binds everything (a
    dumper registered on the cursor, an encoding other than UTF-8, a psycopg without these
    internals).

    A dumpers dict that no map owns is never changed in place (``AdaptersMap`` copies it before a
    registration, and a cursor's creation takes ownership away from the connection's map), so a
    dict verified once stays verified; the cursor's own map may own its dict only after a
    registration on the cursor itself, which is left to psycopg."""
    try:
        adapters = tx.adapters
        if adapters._own_dumpers[_TEXT] or tx.encoding != "utf-8":
            return None
        dumpers = adapters._dumpers[_TEXT]
    except (AttributeError, KeyError, TypeError):
        return None
    entry = _TABLES.get(id(dumpers))
    if entry is not None and entry[0] is dumpers:
        return entry[1], entry[2]
    table = {}
    for cls, expected in _EXPECTED.items():
        try:
            if adapters.get_dumper(cls, _TEXT) is expected:
                table[cls] = _LITERALS[cls]
        except psycopg.ProgrammingError:
            pass
    if list in table and not (str in table and int in table):
        del table[list]  # its elements are written as str's and int's
    inline = all(cls in table for cls in _INLINE)
    if len(_TABLES) >= 16:
        _TABLES.clear()
    _TABLES[id(dumpers)] = (dumpers, table, inline)
    return table, inline


def literals(tx: Any, params: Sequence[Any]) -> tuple[Any, ...]:
    """``tx.as_literal`` of each of ``params`` (``NULL`` for None), as psycopg's client-side binding
    makes them: the same bytes, or psycopg's own error."""
    verified = _table(tx)
    if verified is None:
        return tuple(tx.as_literal(p) if p is not None else b"NULL" for p in params)
    table, inline = verified
    out: list[Any] = []
    append = out.append
    for p in params:
        cls = type(p)
        # the commonest first, written out (a call per value costs as much as the literal)
        if inline:
            if cls is str:
                if "'" in p or "\\" in p or "\x00" in p:
                    text = _quoted(p)
                else:
                    try:
                        text = ("'" + p + "'").encode()
                    except UnicodeEncodeError:
                        text = None
            elif p is None:
                append(b"NULL")
                continue
            elif cls is int or cls is Int4:
                append(b"%d" % p if p >= 0 else b" %d" % p)
                continue
            else:
                literal = table.get(cls)
                if literal is None and isinstance(p, str):
                    literal = _learn(tx, table, cls)
                text = literal(p) if literal is not None else None
        elif p is None:
            append(b"NULL")  # never asked of a dumper, as psycopg's dump
            continue
        else:
            literal = table.get(cls)
            if literal is None and isinstance(p, str):
                literal = _learn(tx, table, cls)
            text = literal(p) if literal is not None else None
        append(text if text is not None else tx.as_literal(p))
    return tuple(out)


def _learn(tx: Any, table: dict[type, Literal], cls: type) -> Literal | None:
    """A ``str`` subclass (a ``TextChoices``): its literal is ``str``'s if psycopg dumps it with
    the same dumper (found along its MRO), remembered in the verified dict's table."""
    try:
        if str not in table or tx.adapters.get_dumper(cls, _TEXT) is not _EXPECTED[str]:
            return None
    except psycopg.ProgrammingError:
        return None
    table[cls] = _str_subclass
    return _str_subclass
