"""A pickup store rejects units: the customer chooses (another store nearby, delivery, cancel)
instead of the units moving to another city by themselves; the answer comes through the partner
API (idempotent, channel-scoped); an unanswered question expires into the channel's shortage rule.
The ledger balances after each step."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from allocation.models import SyncMessage
from fulfillment.models import (
    ChannelChoicePolicy,
    ChoiceStatus,
    CustomerChoice,
    Notification,
    RejectReason,
    Work,
    WorkKind,
    WorkStatus,
)
from fulfillment.notifications.sms import LocmemSmsBackend
from fulfillment.services import pack, pick, reject
from fulfillment.services import receive as receive_transfer
from fulfillment.services.choices import choice_apply, choices_expire
from fulfillment.services.ship_to_store import dispatch
from inventory.services import ledger_check
from omni.errors import Conflict, NotFound, ValidationFailed
from orders.models import Allocation, AllocationStatus, LineStatus, Order, OrderStatus, RerouteShortage
from orders.services import order_cancel
from tests.access.factories import issue_token

from .factories import place, place_bopis, receive, stock

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sms(settings):
    settings.OMNI_SMS_BACKEND = "fulfillment.notifications.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    yield LocmemSmsBackend


def rejected_pickup(world, capture, ext="B-1", qty=2, language="", reason=RejectReason.NOT_FOUND) -> tuple[Work, CustomerChoice]:
    """A BOPIS order at Istanbul whose store cannot find the shirts; Izmir (a pickup store) and the
    Ankara warehouse have them."""
    receive(world.shirt, world.ist, qty)
    receive(world.shirt, world.izm, 5)
    receive(world.shirt, world.ank, 5)
    work = place_bopis(world, ext, ("SHIRT", qty), customer_email="ayse@example.com", customer_phone="+905321234567",
                       customer_language=language, ship_name="Ayşe Yılmaz")
    with capture(execute=True):
        reject(work=work, quantities={work.lines.get().pk: (qty, reason)}, actor="alice")
    work.refresh_from_db()
    return work, CustomerChoice.objects.get(work=work)


def events(channel) -> list[str]:
    return list(SyncMessage.objects.filter(channel=channel, kind="event").order_by("sequence").values_list("event", flat=True))


def test_a_bopis_rejection_asks_the_customer_and_moves_nothing(world, mailoutbox, sms, django_capture_on_commit_callbacks):
    work, choice = rejected_pickup(world, django_capture_on_commit_callbacks)

    assert work.status == WorkStatus.REJECTED
    assert Work.objects.filter(order=work.order).count() == 1  # nothing re-routed by itself
    line = work.order.lines.get()
    assert line.status == LineStatus.ALLOCATED and not line.allocations.filter(status=AllocationStatus.RESERVED).exists()
    assert choice.status == ChoiceStatus.OPEN and choice.location == world.ist
    assert choice.lines == [{"line": 1, "order_line_id": line.pk, "product_id": world.shirt.pk, "sku": "SHIRT", "quantity": 2}]
    pickup, delivery, cancel = choice.options
    assert (pickup["id"], pickup["kind"], pickup["available"]) == ("pickup:ST-IZM", "pickup", {"SHIRT": 5})
    assert pickup["distance_km"] == pytest.approx(328, abs=15)  # Istanbul → Izmir
    assert delivery["kind"] == "delivery" and delivery["location"] in ("WH-ANK", "ST-IZM") and cancel["id"] == "cancel"
    assert abs(choice.expires_at - (timezone.now() + timedelta(hours=48))) < timedelta(minutes=1)
    # The customer is told (email and SMS), the channel gets the question as an event.
    assert Notification.objects.filter(work=work, kind="choice", status="sent").count() == 2
    [email] = mailoutbox
    assert "ST-IST" not in email.subject and "B-1" in email.subject
    assert world.izm.name in email.body and "delivered to your address" in email.body
    assert "B-1" in sms.outbox[0].body
    assert events(world.web) == ["rejected", "customer_choice_requested"]
    asked = SyncMessage.objects.get(event="customer_choice_requested").payload
    assert (asked["choice"], asked["location"], [o["id"] for o in asked["options"]]) == (
        choice.pk, "ST-IST", ["pickup:ST-IZM", "delivery", "cancel"])
    assert work.order.events.filter(kind="customer_choice_requested").exists()
    assert ledger_check() == []


def test_the_message_is_in_the_customers_language(world, mailoutbox, django_capture_on_commit_callbacks):
    rejected_pickup(world, django_capture_on_commit_callbacks, language="tr")
    [email] = mailoutbox
    assert "lütfen seçim yapın" in email.subject and "Adresinize gönderilsin" in email.body


def test_choosing_another_store_reserves_there_as_a_new_pickup(world, django_capture_on_commit_callbacks):
    work, choice = rejected_pickup(world, django_capture_on_commit_callbacks)
    choice_apply(choice=choice, option="pickup:ST-IZM", actor="partner:web", order=work.order)

    choice.refresh_from_db()
    assert (choice.status, choice.chosen, choice.answered_by) == (ChoiceStatus.ANSWERED, "pickup:ST-IZM", "partner:web")
    new = Work.objects.exclude(pk=work.pk).get(order=work.order)
    assert (new.kind, new.location, new.pickup_location, new.status) == (WorkKind.BOPIS, world.izm, world.izm, WorkStatus.NEW)
    assert new.pickup_code and new.lines.get().quantity == 2
    assert stock(world.shirt, world.izm)[:2] == (5, 2)
    assert events(world.web)[-1] == "rerouted"
    told = SyncMessage.objects.filter(event="rerouted").last().payload
    assert (told["chosen"], told["lines"][0]["to"], told["lines"][0]["outcome"]) == (
        "pickup:ST-IZM", [{"location": "ST-IZM", "quantity": 2}], "pickup")
    assert ledger_check() == []


def test_the_same_answer_again_changes_nothing_another_is_refused(world, django_capture_on_commit_callbacks):
    work, choice = rejected_pickup(world, django_capture_on_commit_callbacks)
    choice_apply(choice=choice, option="pickup:ST-IZM", actor="web")
    before = (Allocation.objects.count(), SyncMessage.objects.count())
    choice_apply(choice=choice, option="pickup:ST-IZM", actor="web")
    assert (Allocation.objects.count(), SyncMessage.objects.count()) == before
    with pytest.raises(Conflict) as err:
        choice_apply(choice=choice, option="cancel", actor="web")
    assert err.value.code == "choice_closed"
    assert (Allocation.objects.count(), SyncMessage.objects.count()) == before


def test_choosing_delivery_routes_the_units_as_a_shipment(world, django_capture_on_commit_callbacks):
    work, choice = rejected_pickup(world, django_capture_on_commit_callbacks)
    choice_apply(choice=choice, option="delivery", actor="web")
    new = Work.objects.exclude(pk=work.pk).get(order=work.order)
    assert new.kind in (WorkKind.SHIP_FROM_STORE, WorkKind.WAREHOUSE_SHIP)
    assert (new.pickup_location, new.pickup_code) == (None, "")
    assert new.location.code == choice.option("delivery")["location"]
    assert ledger_check() == []


def test_choosing_cancel_cancels_the_units(world, django_capture_on_commit_callbacks):
    work, choice = rejected_pickup(world, django_capture_on_commit_callbacks)
    choice_apply(choice=choice, option="cancel", actor="web")
    order = Order.objects.get(pk=work.order_id)
    assert order.status == OrderStatus.CANCELLED and order.lines.get().status == LineStatus.CANCELLED
    assert not Allocation.objects.filter(line__order=order, status=AllocationStatus.RESERVED).exists()
    assert Work.objects.filter(order=order).count() == 1
    assert ledger_check() == []


def test_an_option_whose_stock_went_is_refused_and_the_question_stays_open(world, django_capture_on_commit_callbacks):
    work, choice = rejected_pickup(world, django_capture_on_commit_callbacks)
    place_bopis(world, "B-OTHER", ("SHIRT", 5), store=world.izm)  # another customer takes Izmir's shirts
    before = Allocation.objects.count()
    with pytest.raises(Conflict) as err:
        choice_apply(choice=choice, option="pickup:ST-IZM", actor="web")
    assert err.value.code == "option_unavailable"
    choice.refresh_from_db()
    assert choice.status == ChoiceStatus.OPEN and Allocation.objects.count() == before
    with pytest.raises(ValidationFailed):
        choice_apply(choice=choice, option="pickup:ST-XXX", actor="web")
    with pytest.raises(NotFound):
        choice_apply(choice=choice, option="cancel", actor="web", order=place(world, "W-9", ("SHIRT", 1)).order)
    assert ledger_check() == []


def test_unanswered_choice_expires_into_the_channels_rule(world, django_capture_on_commit_callbacks):
    ChannelChoicePolicy.objects.create(channel=world.web, answer_within_hours=2)
    work, choice = rejected_pickup(world, django_capture_on_commit_callbacks)
    assert choices_expire(now=timezone.now() + timedelta(hours=1)) == []
    assert choices_expire(now=timezone.now() + timedelta(hours=3)) == [choice.pk]
    choice.refresh_from_db()
    line = work.order.lines.get()
    assert choice.status == ChoiceStatus.EXPIRED and line.status == LineStatus.BACKORDERED  # the default rule
    told = SyncMessage.objects.filter(event="rerouted").last().payload
    assert told["lines"][0]["outcome"] == "backordered"
    assert choices_expire(now=timezone.now() + timedelta(hours=4)) == []  # again: nothing
    with pytest.raises(Conflict):
        choice_apply(choice=choice, option="cancel", actor="web")
    assert ledger_check() == []


def test_a_channel_that_cancels_shortages_cancels_on_expiry(world, django_capture_on_commit_callbacks):
    from tests.orders.factories import RoutingProfileFactory

    RoutingProfileFactory(channel=world.web, reroute_shortage=RerouteShortage.CANCEL, criteria=[{"name": "proximity", "weight": 1.0}])
    work, choice = rejected_pickup(world, django_capture_on_commit_callbacks)
    choices_expire(now=timezone.now() + timedelta(hours=49))
    assert work.order.lines.get().status == LineStatus.CANCELLED
    assert ledger_check() == []


def test_cancelling_the_order_closes_the_question(world, django_capture_on_commit_callbacks):
    work, choice = rejected_pickup(world, django_capture_on_commit_callbacks)
    order_cancel(order=work.order, reason="changed mind")
    choice.refresh_from_db()
    assert choice.status == ChoiceStatus.CLOSED


def test_a_ship_to_store_pickup_rejected_at_the_store_asks_too_but_not_at_the_source(world, django_capture_on_commit_callbacks):
    receive(world.shirt, world.ank, 4)
    from orders.services import order_create
    from tests.orders.factories import order_input
    from orders.models import DeliveryMode

    order = order_create(channel=world.web, data=order_input(
        "STS-1", ("SHIRT", 2), delivery_mode=DeliveryMode.BOPIS, pickup_location=world.izm.code, ship_to_store=True))
    work = Work.objects.get(order=order)
    for line in work.lines.all():
        pick(work=work, line=line, qty=line.quantity, actor="wms")
    pack(work=work, actor="wms")
    dispatch(work=work, actor="wms")
    with django_capture_on_commit_callbacks(execute=True):
        receive_transfer(work=work, actor="izm")
        reject(work=work, quantities={work.lines.get().pk: (1, RejectReason.DAMAGED)}, actor="izm")
    assert CustomerChoice.objects.get(work=work).location == world.izm
    assert ledger_check() == []


def test_ship_from_store_rejections_still_reroute_by_themselves(world):
    receive(world.shirt, world.ist, 1)
    receive(world.shirt, world.ank, 3)
    work = place(world, "W-1", ("SHIRT", 1), lat=41.0, lon=29.0)
    reject(work=work, quantities={work.lines.get().pk: (1, RejectReason.OTHER)}, actor="alice")
    assert not CustomerChoice.objects.exists()
    assert Work.objects.filter(order=work.order, location=world.ank).exists()


def test_the_partner_api_lists_and_answers_choices_idempotently_within_its_channel(api_client, world,
                                                                                  django_capture_on_commit_callbacks):
    work, choice = rejected_pickup(world, django_capture_on_commit_callbacks)
    url = f"/api/v1/orders/{work.order_id}/choices"
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.market, 'orders:write')}")
    assert api_client.get(url).status_code == 404  # another channel's order is not revealed
    assert api_client.post(f"{url}/{choice.pk}", {"option": "cancel"}, format="json", HTTP_IDEMPOTENCY_KEY="k1").status_code == 404
    choice.refresh_from_db()
    assert choice.status == ChoiceStatus.OPEN

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(world.web, 'orders:write')}")
    [listed] = api_client.get(url).json()
    assert (listed["id"], listed["status"], listed["location"]) == (choice.pk, "open", "ST-IST")
    assert [o["id"] for o in listed["options"]] == ["pickup:ST-IZM", "delivery", "cancel"]
    assert api_client.post(f"{url}/{choice.pk}", {"option": "cancel"}, format="json").status_code == 400  # no key
    res = api_client.post(f"{url}/{choice.pk}", {"option": "pickup:ST-IZM"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert res.status_code == 200 and res.json()["status"] == "answered" and res.json()["chosen"] == "pickup:ST-IZM"
    again = api_client.post(f"{url}/{choice.pk}", {"option": "pickup:ST-IZM"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true" and again.json() == res.json()
    assert Work.objects.filter(order=work.order).count() == 2
    bad = api_client.post(f"{url}/{choice.pk}", {"option": "cancel"}, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert bad.status_code == 409 and bad.json()["error"]["code"] == "choice_closed"
    assert api_client.post(f"{url}/999999", {"option": "cancel"}, format="json", HTTP_IDEMPOTENCY_KEY="k3").status_code == 404
    assert ledger_check() == []


def test_the_schema_documents_the_choice_endpoints(api_client, world):
    from tests.inventory.factories import StaffFactory

    api_client.force_authenticate(StaffFactory(username="schema-reader", is_staff=True))
    paths = api_client.get("/api/v1/schema/?format=json").json()["paths"]
    answer = paths["/api/v1/orders/{id}/choices/{choice_id}"]["post"]
    assert "/api/v1/orders/{id}/choices" in paths
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in answer["parameters"])


def _chose_delivery(world, capture) -> tuple[Work, Work]:
    """The Istanbul pickup could not be supplied and the customer chose delivery: (pickup, shipment)."""
    work, choice = rejected_pickup(world, capture)
    choice_apply(choice=choice, option="delivery", actor="partner:web")
    return work, Work.objects.exclude(pk=work.pk).get(order=work.order)


def test_a_chosen_delivery_rejected_by_its_shipper_is_rerouted_as_a_delivery(world, django_capture_on_commit_callbacks):
    work, shipment = _chose_delivery(world, django_capture_on_commit_callbacks)
    line = work.order.lines.get()
    assert line.delivery_chosen_at is not None  # the choice lives on the line itself
    with django_capture_on_commit_callbacks(execute=True):
        reject(work=shipment, quantities={shipment.lines.get().pk: (2, RejectReason.OTHER)}, actor="bob")

    # Not sent back to the pickup store (which rejected) nor backordered: the other shipping location ships it.
    other = ({world.izm, world.ank} - {shipment.location}).pop()
    again = Work.objects.exclude(pk__in=[work.pk, shipment.pk]).get(order=work.order)
    assert (again.location, again.pickup_location, again.pickup_code) == (other, None, "")
    assert again.kind in (WorkKind.SHIP_FROM_STORE, WorkKind.WAREHOUSE_SHIP)
    line.refresh_from_db()
    assert line.status == LineStatus.ALLOCATED and line.delivery_chosen_at is not None
    assert stock(world.shirt, other)[:2] == (5, 2)
    told = SyncMessage.objects.filter(event="rerouted").last().payload
    assert told["lines"][0]["to"] == [{"location": other.code, "quantity": 2}]
    assert (told["lines"][0]["outcome"], told["lines"][0]["mode"]) == ("rerouted", "delivery")
    routed = work.order.events.filter(kind="line_routed").last()
    assert routed.data["mode"] == "delivery"
    from orders.admin_actions import timeline_html

    assert f"Line 1 routed for delivery (the customer chose it): 2 × {other.code}" in timeline_html(work.order)
    assert ledger_check() == []


def test_a_backordered_chosen_delivery_ships_to_the_customer_not_to_the_pickup_store(world, django_capture_on_commit_callbacks):
    from orders.services import backorders_allocate

    work, shipment = _chose_delivery(world, django_capture_on_commit_callbacks)
    other = ({world.izm, world.ank} - {shipment.location}).pop()
    place(world, "W-TAKE", ("SHIRT", 5), lat=other.latitude, lon=other.longitude)  # the other shipper sells out
    with django_capture_on_commit_callbacks(execute=True):
        reject(work=shipment, quantities={shipment.lines.get().pk: (2, RejectReason.OTHER)}, actor="bob")
    line = work.order.lines.get()
    assert line.status == LineStatus.BACKORDERED

    receive(world.shirt, other, 3)  # stock arrives at a shipping location: shipped to the customer from there
    backorders_allocate(product_ids=[world.shirt.pk])
    line.refresh_from_db()
    assert line.status == LineStatus.ALLOCATED
    again = Work.objects.exclude(pk__in=[work.pk, shipment.pk]).filter(order=work.order).get()
    assert again.kind in (WorkKind.SHIP_FROM_STORE, WorkKind.WAREHOUSE_SHIP) and again.pickup_location is None
    assert again.location == other
    assert not Allocation.objects.filter(line=line, ship_to_store__isnull=False).exists()
    assert ledger_check() == []


def test_a_chosen_delivery_pinned_by_hand_ships_to_the_customer(world, django_capture_on_commit_callbacks):
    from orders.services import order_line_pin

    work, shipment = _chose_delivery(world, django_capture_on_commit_callbacks)
    other = ({world.izm, world.ank} - {shipment.location}).pop()
    place(world, "W-TAKE", ("SHIRT", 5), lat=other.latitude, lon=other.longitude)  # the other shipper sells out
    with django_capture_on_commit_callbacks(execute=True):
        reject(work=shipment, quantities={shipment.lines.get().pk: (2, RejectReason.OTHER)}, actor="bob")
    receive(world.shirt, other, 2)
    order_line_pin(order=work.order_id, line_no=1, location=other, actor="mira")  # not a ship-to-store transfer

    line = work.order.lines.get()
    [alloc] = Allocation.objects.filter(line=line, status=AllocationStatus.RESERVED)
    assert (alloc.location, alloc.ship_to_store) == (other, None)
    pinned = Work.objects.get(order=work.order, location=other)
    assert pinned.kind in (WorkKind.SHIP_FROM_STORE, WorkKind.WAREHOUSE_SHIP) and pinned.pickup_location is None
    assert ledger_check() == []
