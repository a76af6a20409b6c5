"""A small per-process cache of read-mostly configuration that every order reads (the channel's
routing profile, the locations' rows and capacity, their SLAs), as Django keeps ``Site`` and
``ContentType`` in memory: one statement less per order each, for a change that happens a few
times a day.

- Keyed (a location, a channel); each entry lives ``OMNI_CONFIG_CACHE_SECONDS`` (10 s): another
  process sees a change within that time.
- The process that makes the change sees it at once: ``clear_on_change`` clears the cache on
  ``post_save`` / ``post_delete`` of its models (and again when the transaction commits, so that
  a read in another thread between the write and its commit cannot keep the old row for the whole
  TTL); code that writes those models with ``QuerySet.update`` calls ``clear()`` itself.
- Values are immutable (tuples of column values, ints, ``None``, read-only mappings): a caller
  builds its own model instance from them, so no two requests ever share a mutable object.
- ``OMNI_CONFIG_CACHE_SECONDS = 0`` turns every cache off: each read goes to the database.

Per process and per database alias ``default``: the order path reads only that one. Tests clear
every cache before each test (``tests/conftest.py``), as a rolled-back test's rows must not
survive it.
"""

from __future__ import annotations

import threading
import time
from types import MappingProxyType
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import models, transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_delete, post_init, post_migrate, post_save, pre_init

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# The cache's clock (seconds, monotonic). Tests travel in time by replacing it.
clock: Callable[[], float] = time.monotonic

DEFAULT_SECONDS = 10.0

_caches: list[ConfigCache[Any, Any]] = []


def config_cache_seconds() -> float:
    """How long a configuration entry lives (``OMNI_CONFIG_CACHE_SECONDS``; 0: no cache)."""
    return float(getattr(settings, "OMNI_CONFIG_CACHE_SECONDS", DEFAULT_SECONDS))


class ConfigCache(Generic[K, V]):
    """Entries ``key → value`` that expire ``seconds()`` after they were read (default: the
    setting). ``name`` is for people reading a traceback or a debugger."""

    def __init__(self, name: str, *, seconds: Callable[[], float] = config_cache_seconds) -> None:
        self.name = name
        self.seconds = seconds
        self._entries: dict[K, tuple[float, V]] = {}
        # Bumped by every clear: a load that started before a clear does not store what it read.
        self._generation = 0
        self._lock = threading.Lock()
        _caches.append(self)

    def __repr__(self) -> str:
        return f"<ConfigCache {self.name}: {len(self._entries)} entries>"

    def get_many(self, keys: Iterable[K], load: Callable[[list[K]], Mapping[K, V]], *, missing: V) -> dict[K, V]:
        """The value of each key: fresh entries from memory, the others with ONE call of ``load``
        (given the keys it must read; a key it leaves out gets ``missing``, cached as well —
        "this location has no SLA" is configuration too)."""
        wanted = list(dict.fromkeys(keys))
        ttl = self.seconds()
        if ttl <= 0:
            loaded = load(wanted) if wanted else {}
            return {k: loaded.get(k, missing) for k in wanted}
        now = clock()
        out: dict[K, V] = {}
        stale: list[K] = []
        entries = self._entries
        for k in wanted:
            entry = entries.get(k)
            if entry is not None and entry[0] > now:
                out[k] = entry[1]
            else:
                stale.append(k)
        if stale:
            generation = self._generation
            loaded = load(stale)
            expires = now + ttl
            with self._lock:
                keep = generation == self._generation
                for k in stale:
                    value = loaded.get(k, missing)
                    out[k] = value
                    if keep:
                        entries[k] = (expires, value)
        return out

    def clear(self, keys: Iterable[K] | None = None) -> None:
        """Forget every entry (or those of ``keys``): the next read goes to the database."""
        with self._lock:
            self._generation += 1
            if keys is None:
                self._entries.clear()
            else:
                for k in keys:
                    self._entries.pop(k, None)

    def clear_now_and_on_commit(self, keys: Iterable[K] | None = None) -> None:
        """``clear`` now (this request's next read sees the change) and again when the current
        transaction commits (a read in another thread of this process may have cached the row as
        it was before the commit)."""
        keys = None if keys is None else list(keys)
        self.clear(keys)
        if transaction.get_connection().in_atomic_block:
            transaction.on_commit(lambda: self.clear(keys), robust=True)

    def clear_on_change(self, *model_classes: type[models.Model]) -> None:
        """Clear the whole cache whenever a row of these models is saved or deleted in this process."""
        def receiver(sender: type[models.Model], **kwargs: Any) -> None:
            self.clear_now_and_on_commit()

        for model in model_classes:
            uid = f"omni.config_cache:{self.name}:{model._meta.label}"
            post_save.connect(receiver, sender=model, weak=False, dispatch_uid=f"{uid}:save")
            post_delete.connect(receiver, sender=model, weak=False, dispatch_uid=f"{uid}:delete")


_M = TypeVar("_M", bound=models.Model)


class ModelRows(Generic[_M]):
    """Rows of ``model`` by a unique column (``key``: its primary key, or a one-to-one's column),
    kept in a ``ConfigCache`` and handed out as NEW instances for each caller, so no two requests
    share a mutable object. Cleared on every save or delete of the model in this process.

    An entry is the attribute dict of an instance ``from_db`` built once when the row was read (a
    read-only mapping, never handed out); each caller gets a new instance with a copy of it and a
    new ``_state`` — what ``from_db`` gives, without running ``Model.__init__`` again over every
    field for every caller: ~40 µs an instance inside an order's request (cold caches), ~2 µs
    copied (docs/performance.md, seventh pass: the models' zone). A model whose ``__init__`` or
    ``from_db`` is its own, or while anything listens to ``pre_init``/``post_init``, is built by
    ``from_db`` each time, as before."""

    def __init__(self, model: type[_M], *, key: str = "pk") -> None:
        self.model = model
        self.fields = [f.attname for f in model._meta.concrete_fields]
        self.key = model._meta.pk.attname if key == "pk" else key
        self._key_at = self.fields.index(self.key)
        self._copyable = model.__init__ is models.Model.__init__ and \
            getattr(model.from_db, "__func__", None) is getattr(models.Model.from_db, "__func__", None)
        self.cache: ConfigCache[int, MappingProxyType[str, Any] | None] = ConfigCache(f"{model._meta.label} rows by {self.key}")
        self.cache.clear_on_change(model)

    def by_key(self, keys: Iterable[int]) -> dict[int, _M]:
        """key → a new instance, for those of ``keys`` that have a row (no query while fresh)."""
        entries = self.cache.get_many(sorted({int(k) for k in keys}), self._load, missing=None)
        if not self._copyable or pre_init.receivers or post_init.receivers:
            fields, from_db = self.fields, self.model.from_db
            return {k: from_db("default", fields, [entry[f] for f in fields]) for k, entry in entries.items() if entry is not None}
        new, model = object.__new__, self.model
        out: dict[int, _M] = {}
        for k, entry in entries.items():
            if entry is not None:
                obj = new(model)
                attributes = entry.copy()
                state = attributes["_state"] = ModelState()
                state.adding = False
                state.db = "default"
                obj.__dict__ = attributes
                out[k] = obj
        return out

    def _load(self, keys: list[int]) -> dict[int, MappingProxyType[str, Any]]:
        rows = self.model._default_manager.filter(**{f"{self.key}__in": keys}).values_list(*self.fields)
        from_db = self.model.from_db
        return {row[self._key_at]: MappingProxyType(vars(from_db("default", self.fields, row))) for row in rows}


def clear_all(**_signal: Any) -> None:
    """Forget every configuration cache of this process (tests, between two of them; after
    ``migrate`` or ``flush``, whose rows come back with the same ids without any ``save()``:
    ``seed_demo`` flushes, then bulk-creates)."""
    for cache in _caches:
        cache.clear()


post_migrate.connect(clear_all, weak=False, dispatch_uid="omni.config_cache.clear_all")
