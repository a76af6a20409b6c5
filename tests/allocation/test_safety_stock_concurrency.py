"""The nightly recompute never overwrites a merchandiser's override committed while it runs: it
re-reads each batch of policies under their row locks and writes in the same short transaction."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from django.db import connections

from allocation.safety_stock import formulas
from allocation.safety_stock.models import SafetyStockPolicy
from allocation.safety_stock.services import safety_stock_modifier_set, safety_stock_override, safety_stock_recompute
from allocation.selectors import atp_for_channel

from ..inventory.factories import LocationFactory, ProductFactory
from .factories import ChannelFactory, location_policy, make_visible, put_stock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TODAY = date(2026, 11, 20)
CAMPAIGN_DAY = TODAY + timedelta(days=1)


def test_an_override_committed_during_the_recompute_survives_it(monkeypatch):
    sku, store = ProductFactory(sku="JACKET"), LocationFactory(code="ST-01")
    web = ChannelFactory(code="web")
    make_visible(web, store)
    put_stock(sku, store, on_hand=20)
    policy = location_policy(sku, store, 5, today=TODAY)
    # a campaign from tomorrow on: tomorrow's nightly run has a new figure to write (5 × 1.2 → 6)
    safety_stock_modifier_set(name="Winter campaign", kind="campaign", percent=20, starts_on=CAMPAIGN_DAY, today=TODAY)
    assert SafetyStockPolicy.objects.get(pk=policy.pk).effective_quantity == 5

    computing, resume = threading.Event(), threading.Event()
    original = formulas.effective_quantity
    recompute_thread: list[threading.Thread] = []

    def paused_after_reading(**kwargs):
        """The recompute has read the policy and is computing: hold it here."""
        if threading.current_thread() is recompute_thread[0] and not computing.is_set():
            computing.set()
            resume.wait(20)
        return original(**kwargs)

    monkeypatch.setattr(formulas, "effective_quantity", paused_after_reading)
    outcome: dict = {}

    def run(name, fn):
        try:
            outcome[name] = fn()
        finally:
            connections.close_all()

    nightly = threading.Thread(target=run, args=("nightly", lambda: safety_stock_recompute(today=CAMPAIGN_DAY)))
    recompute_thread.append(nightly)
    merchandiser = threading.Thread(target=run, args=("override", lambda: safety_stock_override(
        policy=policy, quantity=9, today=CAMPAIGN_DAY)))
    nightly.start()
    try:
        assert computing.wait(10), "the recompute never reached its computation"
        merchandiser.start()
        merchandiser.join(0.5)
        assert merchandiser.is_alive()  # the override waits for the batch the recompute holds ...
    finally:
        resume.set()
        nightly.join(20)
        merchandiser.join(20)

    # ... and then applies on top of it: the merchandiser's figure is what ATP deducts
    saved = SafetyStockPolicy.objects.get(pk=policy.pk)
    assert (saved.override_quantity, saved.effective_quantity, saved.explanation) == (9, 9, "merchandiser override 9")
    assert outcome["nightly"].changed == 1 and outcome["override"].effective_quantity == 9
    assert atp_for_channel(channel=web, product_ids=[sku.pk]) == {sku.pk: 11}
