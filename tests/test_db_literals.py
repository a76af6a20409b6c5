"""The backend's literals (omni/db/postgresql/literals.py) are psycopg's, byte for byte: every value
the fast path writes is compared with psycopg's own ``as_literal`` (and whole statements with
psycopg's ``ClientCursor.mogrify``), on generated values built to find the edges — quotes,
backslashes, NUL, lone surrogates, Unicode spaces, extreme integers, special floats and decimals,
naive and aware datetimes in several zones, JSON with escapes, arrays at each integer size."""

from __future__ import annotations

import datetime
import json
import random
import zoneinfo
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.db import connection, models
from psycopg.adapt import Transformer
from psycopg.types.json import Jsonb
from psycopg.types.numeric import Int2, Int4, Int8

from omni.db.postgresql import literals as lit

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


class _Kind(models.TextChoices):
    PLAIN = "plain", "Plain"
    QUOTE = "o'brien", "Quote"
    SLASH = "back\\slash", "Backslash"


_CHARS = ["a", "Z", "0", "'", "''", "\\", '"', " ", "\n", "\t", "\r", "\x0b", "\x0c", "é", "€", "𝄞", "\u1680",
          "\u2000", "\u2028", "\u202f", "\u3000", "\ufeff", "\u00a0", "\x85", "%", "%s", "$1", ";", "--", "-", "{",
          "}", ",", "\x01", "\x1f", "\x7f", "\uffff", "\U0010ffff", "null", "NULL", "E'"]
_ZONES = [None, datetime.timezone.utc, datetime.timezone(datetime.timedelta(hours=5, minutes=30)),
          datetime.timezone(datetime.timedelta(hours=-9, minutes=-59, seconds=-1)), zoneinfo.ZoneInfo("Europe/Istanbul"),
          zoneinfo.ZoneInfo("America/St_Johns"), zoneinfo.ZoneInfo("Europe/Amsterdam")]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(_CHARS) for _ in range(rng.randint(0, 6)))


def _values(seed: int, rounds: int) -> list[Any]:
    rng = random.Random(seed)
    out: list[Any] = []
    for _ in range(rounds):
        day = datetime.date(rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28))
        moment = datetime.datetime(day.year, day.month, day.day, rng.randint(0, 23), rng.randint(0, 59),
                                   rng.randint(0, 59), rng.choice([0, rng.randint(0, 999_999)]),
                                   tzinfo=rng.choice(_ZONES), fold=rng.randint(0, 1))
        out += [
            _text(rng), _Kind(rng.choice(_Kind.values)), None, rng.choice([True, False]),
            rng.randint(-2**70, 2**70), rng.randint(-40_000, 40_000), rng.choice([-1, 1]) * 2 ** rng.randint(0, 70),
            Int2(rng.randint(-2**15, 2**15 - 1)), Int4(rng.randint(-2**31, 2**31 - 1)), Int8(rng.randint(-2**63, 2**63 - 1)),
            rng.uniform(-1e6, 1e6), rng.choice([-1, 1]) * rng.random() * 10.0 ** rng.randint(-320, 308),
            Decimal(rng.randint(-10**15, 10**15)).scaleb(rng.randint(-20, 20)),
            day, moment, moment.replace(tzinfo=None),
            Jsonb({_text(rng): [_text(rng), rng.random(), None, rng.randint(-5, 5)]}, dumps=json.dumps),
            Jsonb(_text(rng), dumps=lambda o: json.dumps(o, ensure_ascii=False)), Jsonb([_text(rng)]),
            [_text(rng) for _ in range(rng.randint(0, 4))],
            ["SKU-%d" % rng.randint(0, 999) for _ in range(rng.randint(1, 4))],
            [rng.randint(-2**rng.randint(1, 70), 2**rng.randint(1, 70)) for _ in range(rng.randint(1, 4))],
            [rng.randint(0, 50) for _ in range(rng.randint(1, 30))],
        ]
    return out


_EDGES: list[Any] = [
    "", "'", "\\", "''\\\\", "a\x00b", "\x00", "\ud800", "x\udfff", 0, -0, -1, 2**15 - 1, 2**15, -2**15, -2**15 - 1,
    2**31 - 1, 2**31, -2**31, -2**31 - 1, 2**63 - 1, 2**63, -2**63, -2**63 - 1, 10**40, -10**40,
    0.0, -0.0, float("inf"), float("-inf"), float("nan"), 5e-324, -5e-324, 1.7976931348623157e308, 1e16, 1e22, -1e-7,
    Decimal("0"), Decimal("-0"), Decimal("0E-10"), Decimal("1E+30"), Decimal("-1.5E-7"), Decimal("NaN"),
    Decimal("-NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("12.50"),
    datetime.datetime.min, datetime.datetime.max, datetime.date.min, datetime.date.max,
    datetime.datetime.max.replace(tzinfo=datetime.timezone.utc), datetime.datetime(2026, 10, 25, 2, 30, fold=1,
                                                                                    tzinfo=zoneinfo.ZoneInfo("Europe/Amsterdam")),
    Jsonb("a\x00"), Jsonb("x", dumps=lambda o: "\ud800"), Jsonb("x", dumps=lambda o: "a\x00b"), Jsonb({"k": "\\'"}),
    Jsonb(None), Jsonb([]), [], [None], ["a", None], [1, None], [1, "a"], [True], [1, True], [[1, 2], [3, 4]],
    [""], ["null"], ["NULL"], ["Null "], ["a b"], ["a,b"], ['a"b'], ["a\\b"], ["a'b"], ["{}"], ["\u3000"],
    ["\x00"], ["\ud800"], [-2**15 - 1], [2**15 - 1], [-2**15], [2**31], [-2**31 - 1], [2**63 - 1], [-2**63], [2**63],
    [0, -1], [Int4(1)], [_Kind.PLAIN], [1.5], _Kind.QUOTE, _Kind.SLASH,
]


def _theirs(tx: Any, value: Any) -> Any:
    try:
        return "ok", bytes(tx.as_literal(value)) if value is not None else b"NULL"
    except Exception as exc:  # the error itself is what is compared
        return type(exc), str(exc)


def _ours(tx: Any, value: Any) -> Any:
    try:
        return "ok", bytes(lit.literals(tx, [value])[0])
    except Exception as exc:
        return type(exc), str(exc)


def _transformer() -> Any:
    connection.ensure_connection()
    return Transformer(connection.connection.cursor())


def test_every_type_of_the_fast_path_is_verified_on_djangos_connection():
    """With Django's adapters every type the module knows takes the fast path (a psycopg or Django
    upgrade that changes a default dumper takes its type off it, and this says so)."""
    verified = lit._table(_transformer())
    assert verified is not None
    table, inline = verified
    assert inline
    assert set(lit._LITERALS) <= set(table)


@pytest.mark.parametrize("seed", range(4))
def test_each_literal_is_psycopgs_own(seed: int):
    tx = _transformer()
    values = _values(seed, 400) + _EDGES
    mismatched = [(v, _ours(tx, v), _theirs(tx, v)) for v in values if _ours(tx, v) != _theirs(tx, v)]
    assert not mismatched[:10]


def test_a_whole_statement_is_psycopgs_and_a_refused_value_is_refused_the_same_way():
    connection.ensure_connection()
    raw = connection.connection
    values = _values(99, 3)
    sql = "SELECT " + ", ".join(["%s"] * len(values))
    ours, theirs = raw.cursor(), psycopg.ClientCursor(raw)
    assert ours.mogrify(sql, values) == theirs.mogrify(sql, values)
    for bad in ("a\x00b", "\ud800", Jsonb("x", dumps=lambda o: "\ud800")):
        with pytest.raises(Exception) as mine:
            ours.mogrify("SELECT %s, %s", [1, bad])
        with pytest.raises(Exception) as psycopgs:
            theirs.mogrify("SELECT %s, %s", [1, bad])
        assert (type(mine.value), str(mine.value)) == (type(psycopgs.value), str(psycopgs.value))


def test_the_server_reads_back_every_text_written_and_the_rest_as_psycopgs():
    """Text with quotes, backslashes and Unicode stays one string literal, read back as written
    (nothing of it is read as SQL); every other value reads back as psycopg's own literal does."""
    rng = random.Random(7)
    texts = [t for t in (_text(rng) for _ in range(300)) if "\x00" not in t]
    texts += ["'; DROP TABLE x; --", "\\'", "E'\\''", "$$", "\\\\'"]
    others = [datetime.datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=datetime.timezone.utc),
              datetime.datetime(1, 1, 1, 0, 0), datetime.date(2026, 12, 1), 0, -1, 2**63 - 1, -2**63, 10**30,
              -2.5, 1e-300, Decimal("-12.50"), Decimal("1E+30"), ["SKU-1", "SKU-2"], [1, 2**40], [-2**15], True,
              None, Int4(-7), _Kind.QUOTE, Jsonb({"q": "it's \\ \u00e9"}, dumps=json.dumps)]
    texts_sql = "SELECT " + ", ".join(["%s::text"] * len(texts))
    others_sql = "SELECT " + ", ".join(["%s"] * len(others))
    with connection.cursor() as cursor:
        cursor.execute(texts_sql, texts)
        assert list(cursor.fetchone()) == texts
        cursor.execute(others_sql, others)
        ours = cursor.fetchone()
    with psycopg.ClientCursor(connection.connection) as theirs:
        theirs.execute(others_sql, others)
        assert ours == theirs.fetchone()


def test_a_dumper_registered_on_a_cursor_or_the_connection_takes_its_type_off_the_fast_path():
    class Shout(psycopg.adapt.Dumper):
        oid = 25  # text

        def dump(self, obj: Any) -> bytes:
            return str(obj).upper().encode()

    connection.ensure_connection()
    raw = connection.connection
    cursor = raw.cursor()
    cursor.adapters.register_dumper(str, Shout)
    assert cursor.mogrify("SELECT %s, %s", ["quiet", 5]) == "SELECT 'QUIET', 5"
    other = connection.get_new_connection(connection.get_connection_params())  # as Django opens one
    try:
        other.adapters.register_dumper(int, Shout)
        other.adapters.register_dumper(type(None), Shout)  # None is NULL all the same: psycopg never asks
        values = ["quiet", 5, None, 1.5]
        with other.cursor() as own:
            assert own.mogrify("SELECT %s, %s, %s, %s", values) == "SELECT 'quiet', '5', NULL, 1.5"
            assert own.mogrify("SELECT %s, %s, %s, %s", values) == psycopg.ClientCursor(other).mogrify(
                "SELECT %s, %s, %s, %s", values)
    finally:
        other.close()
