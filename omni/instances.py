"""``new(Model, **values)``: a new, unsaved instance, the same as ``Model(**values)`` — its
attributes, its ``_state`` (adding, database, related objects cached), the related objects'
``_state.db`` — built from a plan made once per model instead of ``Model.__init__``'s walk over
every field with its descriptors (~8–12 µs an instance on the order path, where an order builds
several lines, allocations and events). Imports no app.

Only a plain model takes the fast way: ``__init__`` Django's own, every field concrete with the
plain attribute descriptor (a foreign key: ``ForwardManyToOneDescriptor`` / its id attribute; a
one-to-one not the key: ``ForwardOneToOneDescriptor``), no ``pre_init``/``post_init`` receiver;
anything else (a parent link, a file field, a property or an
unknown name among the values, a related object of the wrong kind) is built by ``Model(**values)``
itself, which also raises its errors. ``tests/test_instances.py`` compares both for every model."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models, router
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import (
    ForeignKeyDeferredAttribute, ForwardManyToOneDescriptor, ForwardOneToOneDescriptor,
)
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

_M = TypeVar("_M", bound=models.Model)

# a field's plan: (attribute name, the foreign key's name or None, the foreign key's target
# attribute name, the field)
_Entry = tuple[str, str | None, str, models.Field]
# model → (the names a value may be given by, the fields' plans), or None: Model(**values)
_PLANS: dict[type[models.Model], tuple[frozenset[str], list[_Entry]] | None] = {}


def _plan_of(model: type[models.Model]) -> tuple[frozenset[str], list[_Entry]] | None:
    meta = model._meta
    if model.__init__ is not models.Model.__init__ or meta.private_fields or list(meta.fields) != list(meta.concrete_fields):
        return None
    entries: list[_Entry] = []
    names: set[str] = set()
    for field in meta.concrete_fields:
        if field.column is None or getattr(field, "generated", False):
            return None
        if isinstance(field, models.ForeignKey):
            descriptor = type(getattr(model, field.name))
            one_to_one = descriptor is ForwardOneToOneDescriptor and not field.primary_key
            if not (descriptor is ForwardManyToOneDescriptor and field.remote_field.multiple or one_to_one) \
                    or type(getattr(model, field.attname)) is not ForeignKeyDeferredAttribute or len(field.related_fields) != 1:
                return None
            entries.append((field.attname, field.name, field.related_fields[0][1].attname, field))
            names.update((field.name, field.attname))
        else:
            if type(getattr(model, field.attname)) is not DeferredAttribute or field.attname != field.name:
                return None
            entries.append((field.attname, None, "", field))
            names.add(field.attname)
    return frozenset(names), entries


def new(model: type[_M], /, **values: Any) -> _M:
    """``model(**values)``, built from the model's plan (see the module)."""
    if model in _PLANS:
        plan = _PLANS[model]
    else:
        plan = _PLANS[model] = _plan_of(model)
    if plan is None or pre_init.receivers or post_init.receivers or not plan[0].issuperset(values):
        return model(**values)
    obj = object.__new__(model)
    state = ModelState()
    attributes = obj.__dict__  # filled in the fields' order, as Model.__init__ fills it (a router sees the same)
    attributes["_state"] = state
    related: list[tuple[models.ForeignKey, Any]] = []
    for attname, fk, target, field in plan[1]:
        if fk is not None and fk in values:
            if attname in values:  # both names given: Django's error
                return model(**values)
            rel = values[fk]
            if rel is not None:
                remote: Any = field.related_model
                if not isinstance(rel, remote._meta.concrete_model):
                    return model(**values)  # Django's ValueError
                if state.db is None:
                    state.db = router.db_for_write(model, instance=rel)
                if rel._state.db is None:
                    rel._state.db = router.db_for_write(type(rel), instance=obj)
                if not router.allow_relation(rel, obj):
                    return model(**values)  # Django's ValueError
                attributes[attname] = getattr(rel, target)
            else:
                attributes[attname] = None
            assert isinstance(field, models.ForeignKey)
            related.append((field, rel))
        else:
            value = values[attname] if attname in values else field.get_default()
            if fk is not None and None != value:  # noqa: E711 (ForeignKeyDeferredAttribute.__set__ asks the cache)
                state.fields_cache  # noqa: B018 (created as Django's is_cached creates it)
            attributes[attname] = value
    for field, rel in related:
        field.set_cached_value(obj, rel)
        if rel is not None and not field.remote_field.multiple:  # a one-to-one: the related object points back
            field.remote_field.set_cached_value(rel, obj)
    return obj
