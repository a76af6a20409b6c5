"""Count tasks: planned, ad hoc or from rejections; a blind count; the variance posted through the
ledger on approval; the location's stock accuracy refreshed; refusals change nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from allocation.accuracy.models import LocationAccuracyStat
from allocation.accuracy.services import count_task_approve_scored, count_task_submit_scored
from inventory import services
from inventory.counting.models import CountTask, CountTaskLine, CountTaskOrigin, CountTaskStatus
from inventory.counting.selectors import count_task_sheet, count_tasks_for
from inventory.counting.services import count_task_cancel, count_task_create, count_task_recount, count_task_submit
from inventory.models import CycleCount, StockLevel, StockMovement
from omni.errors import IllegalTransition, InsufficientStock, ValidationFailed

from .factories import LocationFactory, MerchandiserFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    return LocationFactory(code="ST-01")


@pytest.fixture
def tee(store):
    p = ProductFactory(sku="TEE-M", barcode="8690000000011")
    services.stock_receive(product=p, location=store, quantity=10)
    return p


@pytest.fixture
def mug(store):
    p = ProductFactory(sku="MUG")
    services.stock_receive(product=p, location=store, quantity=40)
    return p


def on_hand(product, location) -> int:
    return StockLevel.objects.get(product=product, location=location).on_hand


def test_rejections_gather_on_one_open_task_per_store(store, tee, mug):
    first = count_task_create(location=store, products=[tee], origin=CountTaskOrigin.REJECTION, reference="work:1")
    again = count_task_create(location=store, products=[tee, mug], origin=CountTaskOrigin.REJECTION, reference="work:2")
    assert again.pk == first.pk
    assert sorted(first.lines.values_list("product__sku", flat=True)) == ["MUG", "TEE-M"]
    # a planned task is a task of its own
    planned = count_task_create(location=store, products=[tee], origin=CountTaskOrigin.PLAN)
    assert planned.pk != first.pk and CountTask.objects.count() == 2
    assert [t.pk for t in count_tasks_for(location_ids=[store.pk])] == [first.pk, planned.pk]


def test_the_counting_sheet_is_blind(store, tee):
    task = count_task_create(location=store, products=[tee])
    sheet = count_task_sheet(task=task)
    assert [(s.sku, s.barcode, s.counted) for s in sheet] == [("TEE-M", "8690000000011", None)]
    assert not hasattr(sheet[0], "system_quantity") and not hasattr(sheet[0], "variance")


def test_a_small_variance_is_posted_at_once_and_accuracy_refreshed(store, tee, mug):
    task = count_task_create(location=store, products=[tee, mug], origin=CountTaskOrigin.PLAN)
    task = count_task_submit_scored(task=task, counts={"TEE-M": 9, "MUG": 40})
    assert task.status == CountTaskStatus.APPROVED
    assert (on_hand(tee, store), on_hand(mug, store)) == (9, 40)
    count_rows = list(StockMovement.objects.filter(reason="count").values_list("stock_level__product__sku", "quantity", "source"))
    assert count_rows == [("TEE-M", -1, "count-task")]
    assert CountTaskLine.objects.filter(task=task, cycle_count__isnull=False).count() == 2
    stat = LocationAccuracyStat.objects.get(location=store)
    assert (stat.counts, stat.accurate) == (2, 1)
    assert services.ledger_check() == []


def test_a_large_variance_waits_for_approval_and_keeps_sales_since(store, tee, mug):
    task = count_task_create(location=store, products=[mug])
    task = count_task_submit_scored(task=task, counts={"MUG": 10})   # 30 missing: beyond tolerance
    assert task.status == CountTaskStatus.COUNTED
    line = task.lines.get()
    assert (line.counted, line.system_quantity, line.variance) == (10, 40, -30)
    assert on_hand(mug, store) == 40 and not CycleCount.objects.exists()
    services.stock_sell(product=mug, location=store, quantity=2)     # sold after the count
    merch = MerchandiserFactory(username="merch")
    task = count_task_approve_scored(task=task, actor=merch)
    assert (task.status, task.approved_by) == (CountTaskStatus.APPROVED, merch)
    assert on_hand(mug, store) == 8                                   # 38 − 30: the sale is kept
    assert StockMovement.objects.filter(reason="count").get().actor == merch
    stat = LocationAccuracyStat.objects.get(location=store)
    assert (stat.counts, stat.accurate) == (1, 0)
    assert services.ledger_check() == []


@pytest.mark.parametrize("counts, field", [
    ({"TEE-M": 3}, "MUG"),                       # a SKU not counted
    ({"TEE-M": 3, "MUG": -1}, "MUG"),            # negative
    ({"TEE-M": 3, "MUG": "2"}, "MUG"),           # not a whole number
    ({"TEE-M": 3, "MUG": 2, "CAP": 1}, "CAP"),   # not on the task
])
def test_a_bad_count_names_the_sku_and_changes_nothing(store, tee, mug, counts, field):
    ProductFactory(sku="CAP")
    task = count_task_create(location=store, products=[tee, mug])
    with pytest.raises(ValidationFailed) as exc:
        count_task_submit(task=task, counts=counts)
    assert exc.value.code == "invalid_count" and field in exc.value.details
    task.refresh_from_db()
    assert task.status == CountTaskStatus.OPEN and not task.lines.filter(counted__isnull=False).exists()
    assert StockMovement.objects.filter(reason="count").count() == 0


def test_approval_below_what_is_reserved_is_refused_whole(store, tee, mug):
    services.reservation_create(product=mug, location=store, quantity=25, reference="order-line:1")
    task = count_task_create(location=store, products=[tee, mug])
    count_task_submit(task=task, counts={"TEE-M": 2, "MUG": 5})
    with pytest.raises(InsufficientStock) as exc:
        count_task_approve_scored(task=task)
    assert exc.value.code == "count_below_reserved" and "MUG" in exc.value.message
    task.refresh_from_db()
    assert task.status == CountTaskStatus.COUNTED
    assert (on_hand(tee, store), on_hand(mug, store)) == (10, 40) and not CycleCount.objects.exists()


def test_recount_cancel_and_illegal_moves(store, tee):
    task = count_task_create(location=store, products=[tee])
    with pytest.raises(IllegalTransition):
        count_task_approve_scored(task=task)             # nothing counted yet
    count_task_submit(task=task, counts={"TEE-M": 1})
    task = count_task_recount(task=task)
    assert task.status == CountTaskStatus.OPEN and task.lines.get().counted is None
    count_task_cancel(task=task)
    with pytest.raises(IllegalTransition):
        count_task_submit(task=task, counts={"TEE-M": 10})
    assert on_hand(tee, store) == 10 and StockMovement.objects.filter(reason="count").count() == 0


def test_a_merchandiser_plans_a_task_in_the_admin_and_approves_it(client, store, tee, mug):
    merch = MerchandiserFactory(username="merch")
    client.force_login(merch)
    add = reverse("admin:inventory_counttask_add")
    assert client.get(add).status_code == 200
    bad = client.post(add, {"location": store.pk, "skus": "TEE-M\nNOPE"})
    assert bad.status_code == 200 and "Unknown SKU(s): NOPE" in bad.content.decode() and not CountTask.objects.exists()
    assert client.post(add, {"location": store.pk, "skus": "TEE-M, MUG", "note": "monthly"}).status_code == 302
    task = CountTask.objects.get()
    assert (task.origin, task.created_by, task.lines.count()) == (CountTaskOrigin.PLAN, merch, 2)
    assert client.get(reverse("admin:inventory_counttask_change", args=[task.pk])).status_code == 200
    assert client.get(reverse("admin:inventory_counttask_changelist")).status_code == 200
    count_task_submit(task=task, counts={"TEE-M": 0, "MUG": 40})
    client.post(reverse("admin:inventory_counttask_changelist"), {"action": "approve", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.status == CountTaskStatus.APPROVED and on_hand(tee, store) == 0
    assert services.ledger_check() == []
