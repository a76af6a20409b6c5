"""The queue, picking (scan and tap), batch pick, pack and ship, and the pickup desk, through the
store pages (Django's test client; the browser tests drive the same pages in Chromium)."""

from __future__ import annotations

import pytest

from fulfillment.models import PickupVerification, WorkStatus
from fulfillment.services.store_settings import store_settings_set
from inventory.models import StockLevel
from tests.fulfillment.factories import place, place_bopis, receive
from tests.inventory.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(world, client):
    user = StaffFactory(username="ayse", assigned=world.ist)
    client.force_login(user)
    world.shirt.barcode, world.mug.barcode = "8690000000012", "8690000000029"
    world.shirt.save()
    world.mug.save()
    receive(world.shirt, world.ist, 10)
    receive(world.mug, world.ist, 10)
    return user


def url(world, *parts) -> str:
    return "/".join([f"/s/{world.ist.code}", *[str(p) for p in parts]]) + "/"


def test_the_queue_lists_this_stores_work_by_deadline(world, staff, client):
    first = place(world, "W-1", ("SHIRT", 1))
    second = place(world, "W-2", ("MUG", 2))
    receive(world.cap, world.izm, 5)
    place(world, "W-OTHER", ("CAP", 1), lat=38.4, lon=27.1)  # Izmir's work
    html = client.get(url(world)).content.decode()
    assert html.index("W-1") < html.index("W-2") and "W-OTHER" not in html
    assert "left" in html and "0 of 2 units" in html
    partial = client.get(url(world), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and f'data-work-id="{second.pk}"' in partial and f'data-work-id="{first.pk}"' in partial


def test_scanning_counts_the_right_item_and_refuses_a_wrong_one(world, staff, client):
    work = place(world, "W-1", ("SHIRT", 2))
    ok = client.post(url(world, "w", work.pk, "scan"), {"ean": "8690000000012"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-sound="ok"' in ok and "1 of 2 units picked" in ok
    wrong = client.post(url(world, "w", work.pk, "scan"), {"ean": "8690000000029"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-sound="error"' in wrong and "Wrong item: MUG is not in this order" in wrong
    assert "1 of 2 units picked" in client.get(url(world, "w", work.pk)).content.decode()  # a reload keeps it
    work.refresh_from_db()
    assert work.status == WorkStatus.PICKING and work.lines.get().picked == 1


def test_a_store_that_requires_scanning_refuses_manual_counts(world, staff, client):
    work = place(world, "W-1", ("SHIRT", 2))
    line = work.lines.get()
    assert "+1" in client.get(url(world, "w", work.pk)).content.decode()
    store_settings_set(location=world.ist, require_scanning=True)
    page = client.get(url(world, "w", work.pk)).content.decode()
    assert "+1" not in page and "picks by scanning only" in page
    refused = client.post(url(world, "w", work.pk, "line", line.pk, "pick"), HTTP_HX_REQUEST="true").content.decode()
    assert "picks by scanning only" in refused
    line.refresh_from_db()
    assert line.picked == 0


def test_batch_pick_across_two_orders(world, staff, client):
    a = place(world, "W-1", ("SHIRT", 1), ("MUG", 1))
    b = place(world, "W-2", ("SHIRT", 2))
    page = client.get(url(world, "batch"), {"w": [a.pk, b.pk]}).content.decode()
    assert '<span class="picked">0</span> / 3' in page and "W-1, W-2" in page
    for _ in range(3):
        client.post(url(world, "batch", "scan"), {"w": [a.pk, b.pk], "ean": "8690000000012"}, HTTP_HX_REQUEST="true")
    last = client.post(url(world, "batch", "scan"), {"w": [a.pk, b.pk], "ean": "8690000000012"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Already picked" in last
    a.refresh_from_db()
    b.refresh_from_db()
    assert [ln.picked for ln in a.lines.all()] == [1, 0] and b.status == WorkStatus.PICKED


def test_pack_ship_with_tracking_and_the_packing_slip(world, staff, client):
    work = place(world, "W-1", ("SHIRT", 1))
    client.post(url(world, "w", work.pk, "scan"), {"ean": "8690000000012"})
    client.post(url(world, "w", work.pk, "pack"), {"box_type": "M"})
    slip = client.get(url(world, "w", work.pk, "slip")).content.decode()
    assert "Packing slip" in slip and "SHIRT" in slip and "store/slip.css" in slip
    assert "type the number" in client.post(url(world, "w", work.pk, "ship"), {"tracking_number": ""}, follow=True).content.decode().lower()
    client.post(url(world, "w", work.pk, "ship"), {"tracking_number": "YK123456789TR", "carrier": "Yurtiçi"})
    work.refresh_from_db()
    assert (work.status, work.tracking_number, work.carrier, work.box_type) == (WorkStatus.SHIPPED, "YK123456789TR", "Yurtiçi", "M")
    level = StockLevel.objects.get(product=world.shirt, location=world.ist)
    assert (level.on_hand, level.reserved) == (9, 0)


def test_pickup_ready_and_partial_hand_over_with_the_id_check(world, staff, client):
    work = place_bopis(world, "B-1", ("SHIRT", 2))
    for _ in range(2):
        client.post(url(world, "w", work.pk, "scan"), {"ean": "8690000000012"})
    client.post(url(world, "w", work.pk, "ready"))
    work.refresh_from_db()
    assert work.status == WorkStatus.READY_FOR_PICKUP and work.pickup_code
    assert work.pickup_code in client.get(url(world, "pickup")).content.decode()
    line = work.lines.get()
    missing_id = client.post(url(world, "pickup", work.pk), {"collector_name": "Ayşe Yılmaz", "relation": "customer",
                                                               "id_kind": "national_id", f"qty_{line.pk}": 1})
    assert "Type the last digits" in missing_id.content.decode()
    client.post(url(world, "pickup", work.pk), {"collector_name": "Ayşe Yılmaz", "relation": "customer",
                                                 "id_kind": "national_id", "id_last_digits": "4821", f"qty_{line.pk}": 1})
    work.refresh_from_db()
    line.refresh_from_db()
    assert work.status == WorkStatus.COLLECTED and (line.handed_over, line.cancelled) == (1, 1)
    check = PickupVerification.objects.get(work=work)
    assert (check.collector_name, check.id_last_digits, check.handed_over_by) == ("Ayşe Yılmaz", "4821", staff)
    level = StockLevel.objects.get(product=world.shirt, location=world.ist)
    assert (level.on_hand, level.reserved) == (9, 0)


def test_another_stores_order_is_refused_by_url(world, staff, client):
    receive(world.cap, world.izm, 5)
    theirs = place(world, "W-IZM", ("CAP", 1), lat=38.4, lon=27.1)
    assert theirs.location == world.izm
    for path in (url(world, "w", theirs.pk), url(world, "w", theirs.pk, "slip"), url(world, "pickup", theirs.pk)):
        assert client.get(path).status_code == 403, path
    assert client.post(url(world, "w", theirs.pk, "scan"), {"ean": "CAP"}).status_code == 403
    assert client.get(f"/s/{world.izm.code}/w/{theirs.pk}/").status_code == 403  # not her store either
    theirs.refresh_from_db()
    assert theirs.status == WorkStatus.NEW


def test_an_associate_reports_a_line_not_found_and_it_is_rerouted(world, staff, client):
    receive(world.shirt, world.izm, 5)
    work = place(world, "W-1", ("SHIRT", 2), ("MUG", 1))
    shirt = work.lines.get(product=world.shirt)
    page = client.post(url(world, "w", work.pk, "issue"), {"line": shirt.pk, "quantity": 2, "reason": "not_found"}, follow=True)
    assert "Reported. Sent on to ST-IZM (2)." in page.content.decode()
    shirt.refresh_from_db()
    assert shirt.rejected == 2
    from orders.models import Allocation

    assert Allocation.objects.filter(line=shirt.order_line, location=world.izm, status="reserved", quantity=2).exists()


def test_a_report_says_what_happened_to_the_units(world, staff, client):
    """The message is the service's answer: backordered when no other location has them, taken off
    when the customer cancelled (even on a pickup here, where other issues ask the customer)."""
    work = place(world, "W-1", ("SHIRT", 2), ("MUG", 1))
    shirt = work.lines.get(product=world.shirt)
    page = client.post(url(world, "w", work.pk, "issue"), {"line": shirt.pk, "quantity": 2, "reason": "damaged"}, follow=True)
    text = page.content.decode()
    assert "No other location has 2 units: the order waits for stock (backordered)." in text
    assert "sent to another store" not in text and "Sent on" not in text

    pickup = place_bopis(world, "B-1", ("MUG", 3))
    mug = pickup.lines.get()
    page = client.post(url(world, "w", pickup.pk, "issue"), {"line": mug.pk, "quantity": 1, "reason": "customer_cancelled"},
                       follow=True)
    text = page.content.decode()
    assert "1 unit taken off the order: the customer cancelled it." in text and "The customer is asked" not in text

    page = client.post(url(world, "w", pickup.pk, "issue"), {"line": mug.pk, "quantity": 1, "reason": "other"}, follow=True)
    assert "Reported. The customer is asked whether to collect them at another store" in page.content.decode()


def test_only_a_manager_rejects_a_whole_order(world, staff, client):
    work = place(world, "W-1", ("SHIRT", 1))
    line = work.lines.get()
    page = client.post(url(world, "w", work.pk, "issue"), {"line": line.pk, "quantity": 1, "reason": "damaged"}, follow=True)
    assert "Only the store manager can reject a whole order" in page.content.decode()
    assert "Reject the whole order" not in page.content.decode()
    line.refresh_from_db()
    assert line.rejected == 0
    from omni.access.models import StaffAssignment

    StaffAssignment.objects.filter(user=staff).update(role="manager")
    page = client.get(url(world, "w", work.pk)).content.decode()
    assert "Reject the whole order (manager)" in page
    client.post(url(world, "w", work.pk, "issue"), {"whole_order": "on", "reason": "damaged"})
    work.refresh_from_db()
    assert work.status == WorkStatus.REJECTED
    level = StockLevel.objects.get(product=world.shirt, location=world.ist)
    assert level.damaged == 1
    page = client.get(url(world, "w", work.pk)).content.decode()
    assert "Nothing left to pick on this order." in page and "0 of 0 units picked" not in page


def test_the_pickup_desk_finds_by_code_order_number_and_phone(world, staff, client):
    work = place_bopis(world, "B-7", ("SHIRT", 1), customer_phone="+905551112233", ship_name="Zeynep Kaya")
    for _ in range(1):
        client.post(url(world, "w", work.pk, "scan"), {"ean": "8690000000012"})
    client.post(url(world, "w", work.pk, "ready"))
    work.refresh_from_db()
    for q in (work.pickup_code.lower(), "B-7", "+905551112233", "zeynep"):
        response = client.get(url(world, "pickup"), {"q": q})
        assert response.status_code == 302 and response["Location"] == url(world, "pickup", work.pk), q
    assert "No open pickup matches." in client.get(url(world, "pickup"), {"q": "NOPE"}).content.decode()


def test_only_a_manager_sets_capacity_pauses_and_requires_scanning(world, staff, client):
    assert client.get(url(world, "manage")).status_code == 403
    from omni.access.models import StaffAssignment

    StaffAssignment.objects.filter(user=staff).update(role="manager")
    client.post(url(world, "manage"), {"action": "save", "daily_capacity": "40", "require_scanning": "on"})
    world.ist.refresh_from_db()
    from fulfillment.selectors import store_settings_get

    assert world.ist.daily_capacity == 40 and store_settings_get(location=world.ist).require_scanning
    page = client.post(url(world, "manage"), {"action": "pause"}, follow=True).content.decode()
    world.ist.refresh_from_db()
    assert world.ist.daily_capacity == 0 and "New work is paused" in page
    bad = client.post(url(world, "manage"), {"action": "save", "daily_capacity": "-1"}).content.decode()
    assert "greater than or equal to 0" in bad
    world.ist.refresh_from_db()
    assert world.ist.daily_capacity == 0
