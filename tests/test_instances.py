"""``omni.instances.new(Model, **values)`` is ``Model(**values)``: the same attributes, the same
``_state`` (adding, database, related objects cached), the same side effects on related objects,
the same errors — for every model, with defaults, keys, related instances (saved, unsaved, None)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db import models

from omni import instances
from omni.instances import new

pytestmark = pytest.mark.django_db


def _seen(obj: models.Model) -> Any:
    attributes = {k: v for k, v in vars(obj).items() if k != "_state"}
    state = obj._state
    return (type(obj), list(vars(obj)), attributes, state.adding, state.db,
            {k: type(v) for k, v in state.fields_cache.items()} if "fields_cache" in vars(state) else None)


def _same(a: models.Model, b: models.Model, model: type[models.Model]) -> None:
    sa, sb = _seen(a), _seen(b)
    if sa != sb:  # a callable default (a uuid, a new code) gives each instance its own value
        assert sa[:2] == sb[:2] and sa[3:] == sb[3:], model
        for name, value in sa[2].items():
            other = sb[2][name]
            if value != other:
                assert callable(model._meta.get_field(name).default) and type(value) is type(other), (model, name)


def test_every_model_built_of_its_defaults_is_the_same():
    fast = 0
    for model in apps.get_models():
        if model._meta.abstract:
            continue
        _same(model(), new(model), model)
        fast += instances._plan_of(model) is not None
    assert fast > 40


def test_the_order_paths_instances_are_the_same():
    from inventory.models import Location, Product
    from orders.models import Allocation, Order, OrderEvent, OrderLine
    from tests.allocation.factories import ChannelFactory
    from tests.inventory.factories import LocationFactory, ProductFactory

    channel, tee, dc = ChannelFactory(code="web"), ProductFactory(sku="TEE"), LocationFactory(code="DC")
    saved = Order.objects.create(channel=channel, external_id="S-1")
    for model in (OrderLine, Allocation, OrderEvent):
        assert instances._plan_of(model) is not None  # the fast way serves them

    def cases() -> list[tuple[type[models.Model], dict[str, Any]]]:
        unsaved = Order(channel=channel, external_id="U-1")  # new each time: its _state.db is set by the first
        line = OrderLine(order=saved, line_no=1, product=tee, quantity=2, unit_price=Decimal("1.50"))
        return [
            (OrderLine, {"order": unsaved, "line_no": 1, "product": tee, "quantity": 2, "unit_price": Decimal("9.99")}),
            (OrderLine, {"order": saved, "line_no": 2, "product_id": tee.pk, "quantity": 1, "unit_price": 3}),
            (Allocation, {"line": line, "location_id": dc.pk, "quantity": 2, "ship_to_store": None}),
            (Allocation, {"line": line, "location_id": dc.pk, "quantity": 2, "ship_to_store": dc}),
            (Allocation, {"line_id": 5, "location": Location.objects.get(pk=dc.pk), "quantity": 1, "reason": "r"}),
            (OrderEvent, {"order_id": saved.pk, "kind": "created", "actor": "system", "data": {"a": [1]}}),
            (OrderEvent, {"order": unsaved, "kind": "routed", "actor": "x", "data": {}}),
            (OrderEvent, {"order": None, "kind": "k"}),
        ]

    for (model, theirs_kw), (_m, ours_kw) in zip(cases(), cases(), strict=True):
        theirs, ours = model(**theirs_kw), new(model, **ours_kw)
        _same(theirs, ours, model)
        for name, value in theirs_kw.items():  # the related objects' side effects (their _state.db)
            if isinstance(value, models.Model):
                assert (value._state.db, value._state.adding) == (ours_kw[name]._state.db, ours_kw[name]._state.adding)
                assert ours._state.fields_cache[name] is ours_kw[name]

    # what Django refuses, refused the same
    for kwargs in ({"order": tee}, {"nope": 1}, {"line_no": 1}):
        with pytest.raises((ValueError, TypeError)) as theirs_error:
            OrderEvent(**kwargs)
        with pytest.raises((ValueError, TypeError)) as ours_error:
            new(OrderEvent, **kwargs)
        assert (type(ours_error.value), str(ours_error.value)) == (type(theirs_error.value), str(theirs_error.value))
    both = {"order": saved, "order_id": 123}  # both names: Django takes the object, then the key
    _same(OrderEvent(**both), new(OrderEvent, **both), OrderEvent)
    assert Product.objects.filter(pk=tee.pk).exists()


def test_an_order_with_its_one_to_one_hold_is_the_same():
    import datetime as dt

    from orders.models import Hold, Order
    from tests.allocation.factories import ChannelFactory
    from tests.inventory.factories import LocationFactory

    channel, store = ChannelFactory(code="web"), LocationFactory(code="S1")
    hold = Hold.objects.create(channel=channel, expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
    assert instances._plan_of(Order) is not None
    for kwargs in ({"channel": channel, "external_id": "A", "hold": None, "pickup_location": None, "latitude": 1.5},
                   {"channel": channel, "external_id": "B", "hold": hold, "pickup_location": store, "routing_profile_id": None}):
        theirs = Order(**kwargs)
        theirs_back = hold._state.fields_cache.pop("order", None)
        ours = new(Order, **kwargs)
        ours_back = hold._state.fields_cache.pop("order", None)
        _same(theirs, ours, Order)
        assert (theirs_back is theirs) == (ours_back is ours)  # the hold points back at its order


def test_a_model_django_builds_its_own_way_is_built_by_django():
    from unittest import mock

    from django.contrib.auth.models import User

    from inventory.models import Location

    def own_init(self: Any, *args: Any, **kwargs: Any) -> None:
        models.Model.__init__(self, *args, **kwargs)
        self.seen = True

    instances._PLANS.pop(Location, None)
    try:
        with mock.patch.object(Location, "__init__", own_init):
            assert instances._plan_of(Location) is None
            built = new(Location, code="X")
            assert built.seen and built.code == "X"
    finally:
        instances._PLANS.pop(Location, None)
    assert isinstance(new(User, username="u"), User)
