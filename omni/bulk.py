"""Writing many rows' fields at once, fast (imports no app): ``bulk_update_fields``,
``bulk_insert`` and ``bulk_insert_chain``.

``QuerySet.bulk_update`` sends one ``UPDATE … SET f = CASE WHEN pk = 1 THEN … WHEN pk = 2 THEN …``
per batch, and builds and resolves a ``When`` expression for every object and field first: a few
thousand rows cost seconds of Python (the demo's 16,400 safety-stock policies took most of a
minute). ``bulk_update_fields`` sends the plain statement ``UPDATE t SET f = %s, … WHERE pk = %s``
once per object through the driver's ``executemany`` instead: the same rows written, each value
prepared by its field exactly as a save prepares it, without the expression tree.

Like ``bulk_update`` it does not call ``save()`` or ``pre_save`` (an ``auto_now`` field is written
only when named), it sends no signals, and the caller owns the transaction."""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, models, router
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models.fields import AutoFieldMixin
from django.utils import timezone

from omni.db import execute_deferred
from omni.prepared import execute_prepared


def bulk_update_fields(model: type[models.Model], objs: Sequence[models.Model], fields: Sequence[str],
                       *, batch_size: int = 2000) -> int:
    """Write ``fields`` of every object in ``objs`` (primary keys set) to its row; returns the number of objects."""
    if not objs:
        return 0
    if not fields:
        raise ValueError("bulk_update_fields needs at least one field name.")
    meta = model._meta
    columns: list[models.Field] = []
    for name in fields:
        column = meta.get_field(name)
        if not isinstance(column, models.Field) or not column.concrete or column.primary_key or column.many_to_many \
                or column.column is None:
            raise ValueError(f"bulk_update_fields can only write concrete, non-key fields: {name}.")
        columns.append(column)
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(str(c.column))} = %s" for c in columns)
    pk = meta.pk
    assert pk is not None and pk.column is not None
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(pk.column)} = %s"
    rows: list[list[Any]] = []
    for obj in objs:
        if obj.pk is None:
            raise ValueError("bulk_update_fields: every object needs a primary key.")
        rows.append([c.get_db_prep_save(getattr(obj, c.attname), connection) for c in columns]
                    + [pk.get_db_prep_value(obj.pk, connection)])
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            cursor.executemany(sql, rows[start:start + batch_size])
    return len(rows)


# How a field's value is prepared for the insert, by the value's exact type (``_value_plan``): the
# value itself (_SAME), an aware datetime as it is (_AWARE), or a wrapper (Django's Int4 …); a type
# not listed goes through the field's own ``get_db_prep_save``.
_SAME = object()
_AWARE = object()
# tzinfo types whose datetimes are always aware (``utcoffset()`` never None)
_TZ_TYPES = (datetime.timezone, zoneinfo.ZoneInfo)
_F = models.Field
_DEFAULT_SAVE = _F.get_db_prep_save


def _value_plan(field: models.Field, connection: Any) -> dict[type, Any]:
    """The value types for which ``field.get_db_prep_save(value, connection)`` is known without
    calling it, read off the very methods Django would run: the field's class must use Django's own
    ``get_db_prep_save`` / ``get_db_prep_value`` / ``get_prep_value`` / ``to_python`` of a plain
    text, integer, float, boolean, date or datetime field (or a foreign key to an auto key), and the
    backend's adapters must hand the value back as it is. Any override, any other field, any other
    value type: the field's own method."""
    cls: Any = type(field)
    ops = connection.ops
    if cls.get_db_prep_save is not _DEFAULT_SAVE:
        if isinstance(field, models.ForeignKey) and cls.get_db_prep_save is models.ForeignKey.get_db_prep_save:
            target: Any = type(field.target_field)
            if target.get_db_prep_save is _DEFAULT_SAVE and target.get_db_prep_value is AutoFieldMixin.get_db_prep_value \
                    and target.get_prep_value is models.IntegerField.get_prep_value \
                    and type(ops).validate_autopk_value is BaseDatabaseOperations.validate_autopk_value:
                # None → None; an int → int(value), validated as it is
                return {int: _SAME, type(None): _SAME}
        return {}
    prep, db_prep, to_python = cls.get_prep_value, cls.get_db_prep_value, cls.to_python
    if db_prep is _F.get_db_prep_value:
        if prep is models.CharField.get_prep_value and to_python is models.CharField.to_python \
                or prep is models.TextField.get_prep_value and to_python is models.TextField.to_python:
            return {str: _SAME, type(None): _SAME}  # to_python: a str or None as it is
        if prep is models.FloatField.get_prep_value:
            return {float: _SAME, type(None): _SAME}  # float(value)
        if prep is models.BooleanField.get_prep_value and to_python is models.BooleanField.to_python:
            return {bool: _SAME}  # bool(value); None depends on null
        return {}
    if db_prep is models.IntegerField.get_db_prep_value and prep is models.IntegerField.get_prep_value:
        internal = field.get_internal_type()
        wrap = type(ops.adapt_integerfield_value(1, internal))
        if ops.adapt_integerfield_value(None, internal) is not None or not issubclass(wrap, int):
            return {}
        return {int: _SAME if wrap is int else wrap, type(None): _SAME}  # int(value), then the backend's wrapper
    if db_prep is models.DateTimeField.get_db_prep_value and prep is models.DateTimeField.get_prep_value \
            and to_python is models.DateTimeField.to_python:
        sample = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
        if ops.adapt_datetimefield_value(sample) is sample and ops.adapt_datetimefield_value(None) is None:
            return {datetime.datetime: _AWARE, type(None): _SAME}  # naive: made aware, with a warning
    if db_prep is models.DateField.get_db_prep_value and prep is models.DateField.get_prep_value \
            and to_python is models.DateField.to_python:
        sample_day = datetime.date(2026, 1, 1)
        if ops.adapt_datefield_value(sample_day) is sample_day and ops.adapt_datefield_value(None) is None:
            return {datetime.date: _SAME, type(None): _SAME}
    return {}


def _reads_attribute(field: models.Field) -> bool:
    """``field.pre_save(obj, add=True)`` is ``getattr(obj, field.attname)``."""
    pre_save: Any = type(field).pre_save
    if pre_save is _F.pre_save:
        return True
    if pre_save is models.DateTimeField.pre_save or pre_save is models.DateField.pre_save:
        return not (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))
    return False


# a field's plan: (field, attname, whether pre_save is a plain read, value type → how)
_FieldPlan = tuple[models.Field, str, bool, dict[type, Any]]
# (model, database alias) → (the insert's SQL head, one row's placeholders, the fields written, pk, the fields' plans)
_INSERTS: dict[tuple[type[models.Model], str], tuple[str, str, list[models.Field], models.Field, list[_FieldPlan]]] = {}


def _insert_plan(model: type[models.Model], alias: str) -> tuple[str, str, list[models.Field], models.Field, list[_FieldPlan]]:
    plan = _INSERTS.get((model, alias))
    if plan is None:
        meta = model._meta
        pk = meta.pk
        assert pk is not None and pk.column is not None
        fields = [f for f in meta.concrete_fields if f is not pk and not getattr(f, "generated", False)]
        if any(getattr(f, "db_default", models.NOT_PROVIDED) is not models.NOT_PROVIDED for f in fields):
            raise ValueError(f"bulk_insert does not write database defaults ({meta.label}): use bulk_create.")
        connection = connections[alias]
        quote = connection.ops.quote_name
        head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(str(f.column)) for f in fields)}) VALUES "
        values = [(f, f.attname, _reads_attribute(f), _value_plan(f, connection)) for f in fields]
        plan = (head, f"({', '.join(['%s'] * len(fields))})", fields, pk, values)
        _INSERTS[(model, alias)] = plan
    return plan


def _values(obj: models.Model, plan: list[_FieldPlan], connection: Any, use_tz: bool,
            skip: dict[str, Any] | None = None) -> list[Any]:
    """``[f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]``, the same values:
    what ``_value_plan`` proves is not asked of the field (~1.5 µs a value, ~100 values an order).
    The fields named in ``skip`` are not read (None in their place)."""
    raw = [None if skip and attname in skip else getattr(obj, attname) if plain else field.pre_save(obj, True)
           for field, attname, plain, _how in plan]
    return _prepared(raw, plan, connection, use_tz)


def _prepared(raw: list[Any], plan: list[_FieldPlan], connection: Any, use_tz: bool) -> list[Any]:
    """Each field's value (``raw``, in ``plan``'s order) as ``get_db_prep_save`` prepares it (``_value_plan``)."""
    out: list[Any] = []
    for value, (field, _attname, _plain, how) in zip(raw, plan):
        way = how.get(type(value))
        if way is _SAME:
            out.append(value)
        elif way is None or way is _AWARE and use_tz and type(value.tzinfo) not in _TZ_TYPES:
            out.append(field.get_db_prep_save(value, connection))
        elif way is _AWARE:
            out.append(value)
        else:
            out.append(way(value))
    return out


# A new row given by its values instead of an instance (``bulk_insert_chain``): field name or
# attribute name → value, as ``Model(**row)`` takes them. Nothing is built for it: ~10–15 µs of
# CPU an instance (its ``__init__``, descriptors, state) and reading its values back for the insert.
Row = dict[str, Any]

# where a row's field takes its value: given (or the field's default), now (``auto_now``/
# ``auto_now_add`` of a DateTimeField: ``pre_save`` stamps it whatever was given), today (a DateField's)
_GIVEN, _NOW, _TODAY = 0, 1, 2
# a row field's plan: (field, attribute name, the foreign key's name or None, its target's attribute
# name, where the value comes from); the model's plan adds the keys a row may use
_RowPlan = tuple[frozenset[str], list[tuple[models.Field, str, str | None, str, int]]]
_ROW_PLANS: dict[tuple[type[models.Model], str], _RowPlan] = {}


def _row_plan(model: type[models.Model], alias: str) -> _RowPlan:
    plan = _ROW_PLANS.get((model, alias))
    if plan is None:
        entries: list[tuple[models.Field, str, str | None, str, int]] = []
        keys: set[str] = set()
        for field, attname, plain, _how in _insert_plan(model, alias)[4]:
            pre_save: Any = type(field).pre_save
            if plain:
                source = _GIVEN
            elif pre_save is models.DateTimeField.pre_save:
                source = _NOW
            elif pre_save is models.DateField.pre_save:
                source = _TODAY
            else:
                raise ValueError(f"bulk_insert_chain takes {model._meta.label} as instances ({field.name} has its own pre_save).")
            fk = field.name if isinstance(field, models.ForeignKey) else None
            target = field.target_field.attname if isinstance(field, models.ForeignKey) else ""
            entries.append((field, attname, fk, target, source))
            keys.update((attname, field.name))
        plan = _ROW_PLANS[(model, alias)] = (frozenset(keys), entries)
    return plan


def _row_raw(model: type[models.Model], row: Row, plan: _RowPlan, pending: dict[int, _Ref],
             chain: list[tuple[type[models.Model], list[Any]]]) -> tuple[dict[str, _Ref], list[Any]]:
    """A row's values before preparation, as ``Model(**row)`` then ``pre_save(obj, True)`` give
    them (a missing field its default), and its references to rows of earlier groups (a foreign
    key by its name given a row or an unsaved instance inserted earlier in the statement)."""
    keys, entries = plan
    if not keys.issuperset(row):
        raise TypeError(f"{model.__name__}() got unexpected keyword arguments: {', '.join(sorted(set(row) - keys))}")
    refs: dict[str, _Ref] = {}
    raw: list[Any] = []
    for field, attname, fk, target, source in entries:
        if source == _NOW:
            raw.append(timezone.now())
        elif source == _TODAY:
            raw.append(datetime.date.today())
        elif fk is not None and fk in row:
            if attname in row:
                raise TypeError(f"{model.__name__}() got both {fk} and {attname}.")
            rel, related = row[fk], field.related_model
            assert isinstance(related, type)
            ref = pending.get(id(rel)) if rel is not None else None
            if ref is not None:
                if chain[ref[0]][0] is not related or target != related._meta.pk.attname:
                    raise ValueError(f"bulk_insert_chain: {model.__name__}.{fk} refers to a row it cannot take.")
                refs[attname] = ref
                raw.append(None)
            elif rel is None or isinstance(rel, related) and rel.pk is not None:
                raw.append(None if rel is None else getattr(rel, target))
            else:
                raise ValueError(f"bulk_insert_chain() prohibited to prevent data loss due to unsaved related object '{fk}'.")
        elif attname in row:
            raw.append(row[attname])
        else:
            raw.append(field.get_default())
    return refs, raw


# (model, database alias) → the plans of every column, the key included, in the model's order
_KEYED: dict[tuple[type[models.Model], str], list[_FieldPlan]] = {}


def keyed_insert_fields(model: type[models.Model]) -> list[models.Field]:
    """The columns ``keyed_insert_values`` gives values for, in its order: every concrete field, the
    key included, in the model's order (a caller's ``INSERT`` names them from this list)."""
    return [f for f in model._meta.concrete_fields if not getattr(f, "generated", False)]


def keyed_insert_values(model: type[models.Model], objs: Sequence[models.Model], alias: str) -> list[Any]:
    """The values of new objects whose keys the caller set (every concrete column, the key
    included, in the model's order; one object after another) as an insert takes them:
    ``[f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in objs for f in fields]``,
    the same values, without asking the fields ``_value_plan`` knows (as ``bulk_insert``)."""
    plan = _KEYED.get((model, alias))
    connection = connections[alias]
    if plan is None:
        plan = _KEYED[(model, alias)] = [(f, f.attname, _reads_attribute(f), _value_plan(f, connection))
                                         for f in keyed_insert_fields(model)]
    use_tz = settings.USE_TZ
    params: list[Any] = []
    for obj in objs:
        params += _values(obj, plan, connection, use_tz)
    return params


_M = TypeVar("_M", bound=models.Model)


def bulk_insert(model: type[_M], objs: Sequence[_M]) -> list[_M]:
    """Insert new objects (no primary key yet; an auto-incremented one) in ONE statement and set
    their primary keys: what ``bulk_create`` does for them on PostgreSQL, without building the
    statement's expression tree anew every call (0.1–0.2 ms of CPU per insert on the order path).

    Each value is prepared by its field as ``bulk_create`` prepares it (``pre_save`` with
    ``add=True``, so ``auto_now_add`` is stamped on the instance; then ``get_db_prep_save``); a
    related object assigned before it had a primary key is taken by its key now. No signals, no
    ``save()``, the caller's transaction. PostgreSQL only (``RETURNING``); elsewhere, and for a
    model with database defaults, ``bulk_create``."""
    objs = list(objs)
    if not objs:
        return objs
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_create(objs)
    head, row, fields, pk, plan = _insert_plan(model, alias)
    use_tz = settings.USE_TZ
    params: list[Any] = []
    for obj in objs:
        if obj.pk is not None:
            raise ValueError("bulk_insert inserts new objects only (no primary key set).")
        obj._prepare_related_fields_for_save(operation_name="bulk_insert")  # type: ignore[attr-defined]
        params += _values(obj, plan, connection, use_tz)
    sql = f"{head}{', '.join([row] * len(objs))} RETURNING {connection.ops.quote_name(str(pk.column))}"
    with connection.cursor() as cursor:
        _execute(cursor, alias, sql, params)
        ids = [r[0] for r in cursor.fetchall()]
    for obj, pk_value in zip(objs, ids, strict=True):  # PostgreSQL returns the rows in VALUES order
        setattr(obj, pk.attname, pk_value)
        obj._state.adding = False
        obj._state.db = alias
    return objs


def _execute(cursor: Any, alias: str, sql: str, params: list[Any], *, deferred: bool = False) -> None:
    """An insert's statement, as a prepared statement of the connection once this process has run
    its text before (``omni.prepared``: parsed and planned once per connection, not per order —
    a third of the server's time for these inserts). Its text depends on the number of rows (and
    which of them refer to rows of the same statement), so a one-off shape runs plainly."""
    if alias == DEFAULT_DB_ALIAS:
        execute_prepared(cursor, sql, params, prefix="omni_ins_", repeated_only=True, deferred=deferred)
    elif deferred:
        execute_deferred(sql, params, using=alias)
    else:
        cursor.execute(sql, params)


_Ref = tuple[int, int]  # (group, row number from 1) of a row inserted earlier in the same statement


# model → its foreign keys (each with its target field's attribute name and whether that is the key)
_FOREIGN_KEYS: dict[type[models.Model], list[tuple[models.ForeignKey, str, bool]]] = {}


def _pending_refs(obj: models.Model, pending: dict[int, _Ref]) -> dict[str, _Ref]:
    """``obj``'s foreign keys (by attribute name) to objects that an earlier group of the same
    statement inserts (assigned as instances, not yet with a key). Every other related object is
    taken by its key as ``save``/``bulk_insert`` take it (``_prepare_related_fields_for_save``,
    written out here: with a field list Django's compares every field with every field, 0.05 ms
    an object), and one without a key is refused."""
    model = type(obj)
    fks = _FOREIGN_KEYS.get(model)
    if fks is None:
        fks = [(f, f.target_field.attname, f.target_field.primary_key) for f in model._meta.concrete_fields
               if isinstance(f, models.ForeignKey)]
        _FOREIGN_KEYS[model] = fks
    refs: dict[str, _Ref] = {}
    for field, target, to_pk in fks:
        if not field.is_cached(obj):
            continue
        rel = field.get_cached_value(obj)
        if rel is None:
            continue
        if rel.pk is None:
            ref = pending.get(id(rel))
            if ref is None:
                raise ValueError(f"bulk_insert_chain() prohibited to prevent data loss due to unsaved related object '{field.name}'.")
            if not to_pk:
                raise ValueError(f"bulk_insert_chain refers to a row being inserted by its key only ({field.name}).")
            refs[field.attname] = ref
            continue
        if getattr(obj, field.attname) in field.empty_values:
            setattr(obj, field.name, rel)
        if getattr(rel, target) != getattr(obj, field.attname):
            field.delete_cached_value(obj)
    if model._meta.private_fields:  # a generic foreign key: Django's own check
        obj._prepare_related_fields_for_save(operation_name="bulk_insert_chain",  # type: ignore[attr-defined]
                                             fields=list(model._meta.private_fields))
    return refs


# a chain's shape: each group's model and, per row, its references to earlier rows (None: none)
_Shape = list[tuple[type[models.Model], tuple[tuple[tuple[str, _Ref], ...] | None, ...]]]
# (alias, shape) →
# the statement: built once per shape, the same text object each time (its hash kept with it)
_CHAINS: dict[Any, str] = {}
_MAX_CHAINS = 512


def _chain_statement(alias: str, shape: _Shape) -> str:
    """``bulk_insert_chain``'s statement for a shape (see there): a row without references is
    ``(%s, …)``; a reference to an earlier group's row is that row's new key."""
    quote = connections[alias].ops.quote_name
    inserts: list[str] = []
    numbered: set[int] = set()
    for model, rows in shape:
        head, row, fields, pk, _plan = _insert_plan(model, alias)
        texts: list[str] = []
        for refs_of_row in rows:
            if refs_of_row is None:
                texts.append(row)
                continue
            refs = dict(refs_of_row)
            cells = []
            for f in fields:
                ref = refs.get(f.attname)
                if ref is None:
                    cells.append("%s")
                elif len(shape[ref[0]][1]) == 1:
                    cells.append(f"(SELECT id FROM t{ref[0]})")
                else:
                    numbered.add(ref[0])
                    cells.append(f"(SELECT id FROM n{ref[0]} WHERE n = {ref[1]})")
            texts.append(f"({', '.join(cells)})")
        inserts.append(f"{head}{', '.join(texts)} RETURNING {quote(str(pk.column))} AS id")
    ctes = []
    for g, insert in enumerate(inserts):
        ctes.append(f"t{g} AS ({insert})")
        if g in numbered:
            ctes.append(f"n{g} AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM t{g})")
    returning = " UNION ALL ".join(f"SELECT {g}, id FROM t{g}" for g in range(len(shape)))
    return f"WITH {', '.join(ctes)} {returning}"


def bulk_insert_chain(*groups: tuple[type[models.Model], Sequence[models.Model | Row]], keys: bool = True) -> None:
    """Insert the new objects of several models in ONE statement and set their primary keys, as
    ``bulk_insert`` does for each group: one round trip instead of one per table (an order and
    its lines, a work with its lines and events). A foreign key assigned an object of an EARLIER
    group (``OrderLine(order=order)`` with ``order`` not inserted yet) is written as that row's
    new key and set on the instance afterwards; groups that do not refer to each other are simply
    written together.

    On PostgreSQL a data-modifying ``WITH``: ``t0 AS (INSERT … RETURNING id)`` per group, a
    later row's reference a scalar ``(SELECT id FROM t0)`` inside its VALUES (so every value is
    still coerced to its column's type as in a plain insert); a parent group of several rows has
    its keys numbered (``n0``). The keys of one statement come from the sequence in VALUES order,
    so a group's rows take its returned keys in ascending order. Kept plain on purpose (a window
    and a sort per group cost PostgreSQL more than the round trips saved). A text this process
    ran before is a prepared statement of the connection (``_execute``). Elsewhere
    (SQLite: ``make run``), ``bulk_create`` per group in the order given, a parent's key set
    before its children are written. Same rules as ``bulk_insert`` otherwise (no signals, the
    caller's transaction, no database defaults). The groups go to one database.

    ``keys=False``: nothing reads the new rows' keys before the transaction ends, so the statement
    goes with the connection's next one (``omni.db.execute_deferred``: at the latest with the
    ``COMMIT``; a rollback to the savepoint it was issued in drops it), not in a round trip of its
    own. The instances are then neither keyed nor marked saved, and an error the insert raises
    surfaces on the statement it rides on. On SQLite the rows are written at once, keyed.

    A group may give rows instead of instances (``Row``: a dict of field or attribute names to
    values, as ``Model(**row)`` takes them; a missing field its default, ``auto_now(_add)``
    stamped now), where nothing needs the instance afterwards: the same row, nothing built. A
    row's foreign key by its name may be a row (or an instance) of an earlier group, written as
    that row's new key; a row is never keyed. A model whose field has its own ``pre_save`` is
    refused as rows (``ValueError``)."""
    chain = [(model, list(objs)) for model, objs in groups if objs]
    if not chain:
        return
    alias = router.db_for_write(chain[0][0])
    if any(router.db_for_write(model) != alias for model, _objs in chain[1:]):
        raise ValueError("bulk_insert_chain writes to one database.")
    connection = connections[alias]
    if connection.vendor != "postgresql":
        _create_each(chain, alias)
        return
    for model, _objs in chain:
        # the returned keys are matched to the rows by their order: only a sequence gives them in VALUES order
        if not isinstance(model._meta.pk, models.AutoField):
            raise ValueError(f"bulk_insert_chain needs a sequence primary key ({model._meta.label}).")
    pending: dict[int, _Ref] = {}
    links: list[tuple[models.Model, models.Field, _Ref]] = []
    params: list[Any] = []
    shape: _Shape = []
    use_tz = settings.USE_TZ
    for g, (model, objs) in enumerate(chain):
        _head, _row, fields, _pk, plan = _insert_plan(model, alias)
        row_plan = None
        rows: list[tuple[tuple[str, _Ref], ...] | None] = []
        for obj in objs:
            if isinstance(obj, dict):
                row_plan = row_plan or _row_plan(model, alias)
                refs, raw = _row_raw(model, obj, row_plan, pending, chain)
                values = _prepared(raw, plan, connection, use_tz)
            else:
                if obj.pk is not None:
                    raise ValueError("bulk_insert_chain inserts new objects only (no primary key set).")
                refs = _pending_refs(obj, pending)
                values = _values(obj, plan, connection, use_tz, refs)
            if not refs:
                rows.append(None)
                params += values
                continue
            for f, value in zip(fields, values, strict=True):
                ref = refs.get(f.attname)
                if ref is None:
                    params.append(value)
                elif not isinstance(obj, dict):
                    links.append((obj, f, ref))
            rows.append(tuple(refs.items()))
        for k, obj in enumerate(objs, 1):
            pending[id(obj)] = (g, k)
        shape.append((model, tuple(rows)))
    key = (alias, tuple(shape))
    statement = _CHAINS.get(key)
    if statement is None:
        if len(_CHAINS) >= _MAX_CHAINS:
            _CHAINS.clear()
        statement = _CHAINS[key] = _chain_statement(alias, shape)
    if not keys:
        with connection.cursor() as cursor:
            _execute(cursor, alias, statement, params, deferred=True)
        return
    with connection.cursor() as cursor:
        _execute(cursor, alias, statement, params)
        returned = cursor.fetchall()
    ids: list[list[Any]] = [[] for _ in chain]
    for g, pk_value in returned:
        ids[g].append(pk_value)
    for (model, objs), keys_of_group in zip(chain, ids, strict=True):
        attname = model._meta.pk.attname
        for obj, pk_value in zip(objs, sorted(keys_of_group), strict=True):  # ValueError: a row not returned
            if isinstance(obj, dict):  # a row: nothing to key
                continue
            setattr(obj, attname, pk_value)
            obj._state.adding = False
            obj._state.db = alias
    for obj, field, (g, k) in links:  # as a save after the parent's: its key, the parent kept as the cached object
        setattr(obj, field.name, chain[g][1][k - 1])


def _create_each(chain: list[tuple[type[models.Model], list[Any]]], alias: str) -> None:
    """``bulk_insert_chain`` elsewhere than on PostgreSQL: ``bulk_create`` per group in the order
    given (a parent's key set before its children are written), a row built as ``Model(**row)``
    first (its foreign key to a row of an earlier group: that row's instance)."""
    built: dict[int, models.Model] = {}
    for model, objs in chain:
        instances = []
        for obj in objs:
            if isinstance(obj, dict):
                fks = {fk for _f, _a, fk, _t, _s in _row_plan(model, alias)[1] if fk is not None}
                instance = model(**{k: built.get(id(v), v) if k in fks else v for k, v in obj.items()})
                built[id(obj)] = instance
                obj = instance
            instances.append(obj)
        model._default_manager.bulk_create(instances)
