"""The fulfillment state machine (``test_stateful``) with the customer's side added: a pickup store's
rejection asks the customer, who answers (another store, delivery, cancel) or never does (the
question expires into the channel's rule). After every step the same invariants hold: the ledger
balances, nothing is oversold, every work line's open units are what its allocation holds."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule, run_state_machine_as_test

from fulfillment.models import ChoiceStatus, CustomerChoice, Work, WorkLine, WorkStatus
from fulfillment.services import reject
from fulfillment.services.choices import choice_apply, choices_expire
from omni.errors import Conflict
from orders.models import DeliveryMode
from orders.services import order_create
from tests.orders.factories import order_input

from . import test_stateful as base

MUST_HAPPEN = {"customer asked"}
ANSWERS = {"customer answered", "customer did not answer", "customer's option gone"}


class ChoiceMachine(base.FulfillmentMachine):
    @initialize(reason=st.sampled_from(["not_found", "damaged", "other"]))
    def a_pickup_the_store_cannot_supply(self, reason):
        """Every run starts with one open question, whatever the rules draw next."""
        order = order_create(channel=self.channel, data=order_input(
            f"{self.channel.code}-start", (self.products[0].sku, 1), delivery_mode=DeliveryMode.BOPIS,
            pickup_location=self.stores[0].code))
        self.order_ids.append(order.pk)
        work = Work.objects.get(order=order)
        reject(work=work, quantities={work.lines.get().pk: (1, reason)}, actor="picker")
        base.event("customer asked")

    @rule(i=st.integers(0, 50), q=st.integers(1, 3), reason=st.sampled_from(["not_found", "damaged", "other"]))
    def reject_a_pickup(self, i, q, reason):
        lines = [ln for ln in WorkLine.objects.filter(work__in=self._works(
            WorkStatus.NEW, WorkStatus.PICKING, WorkStatus.PICKED, WorkStatus.READY_FOR_PICKUP), work__kind="bopis")
            .order_by("pk") if ln.open_quantity]
        if lines:
            ln = lines[i % len(lines)]
            reject(work=ln.work_id, quantities={ln.pk: (min(q, ln.open_quantity), reason)}, actor="picker")
            assert CustomerChoice.objects.filter(work_id=ln.work_id, status=ChoiceStatus.OPEN).exists()
            base.event("customer asked")

    @rule(i=st.integers(0, 50), pick_option=st.integers(0, 5), expire=st.booleans())
    def answer_choice(self, i, pick_option, expire):
        open_choices = list(CustomerChoice.objects.filter(order_id__in=self.order_ids, status=ChoiceStatus.OPEN).order_by("pk"))
        if not open_choices:
            return
        choice = open_choices[i % len(open_choices)]
        if expire:
            assert choice.pk in choices_expire(now=choice.expires_at)  # (and any older ones)
            base.event("customer did not answer")
            return
        option = choice.options[pick_option % len(choice.options)]["id"]
        try:
            choice_apply(choice=choice, option=option, actor="customer")
        except Conflict as exc:
            assert exc.code == "option_unavailable", exc.code
            base.event("customer's option gone")
            return
        base.event("customer answered")


@pytest.mark.django_db
def test_choice_state_machine():
    base.SEEN.clear()
    run_state_machine_as_test(
        ChoiceMachine,
        settings=settings(max_examples=10, stateful_step_count=50, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]),
    )
    missing = MUST_HAPPEN - base.SEEN.keys()
    assert not missing, f"these never happened, so nothing checked them: {sorted(missing)}; seen: {base.SEEN}"
    assert ANSWERS & base.SEEN.keys(), f"no question was ever answered or expired; seen: {base.SEEN}"
