"""seed_demo builds a deterministic, ledger-clean retailer."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from allocation.models import Channel
from allocation.selectors import channel_location_ids
from inventory.models import Location, Product, StockLevel, StockMovement
from omni.access.models import PartnerToken, StaffAssignment
from inventory.services import ledger_check

pytestmark = pytest.mark.django_db


def seed(**kw) -> str:
    out = StringIO()
    args = {"seed": 7, "stores": 4, "skus": 60, "days": 30, **kw}
    call_command("seed_demo", *[f"--{k.replace('_', '-')}={v}" for k, v in args.items() if v is not True],
                 *[f"--{k.replace('_', '-')}" for k, v in args.items() if v is True], stdout=out)
    return out.getvalue()


def fingerprint():
    return (
        list(Product.objects.order_by("sku").values_list("sku", "velocity_class", "price", "unit_cost", "season")),
        list(StockLevel.objects.order_by("product__sku", "location__code").values_list("product__sku", "location__code", "on_hand", "damaged")),
        list(StockMovement.objects.order_by("id").values_list("reason", "quantity", "balance_after", "source", "created_at")),
    )


def test_small_seed_is_ledger_clean_with_expected_shape():
    out = seed()
    assert ledger_check() == []
    kinds = dict(Location.objects.values_list("kind").annotate(n=Count("id")))
    assert kinds == {"dc": 1, "warehouse": 2, "store": 4, "3pl": 1, "supplier": 1}
    assert Product.objects.count() == 60
    assert dict(Product.objects.values_list("velocity_class").annotate(n=Count("id"))) == {"A": 12, "B": 18, "C": 30}
    assert all(-90 <= lat <= 90 and -180 <= lon <= 180 for lat, lon in Location.objects.values_list("latitude", "longitude"))
    # sales history per channel as SALE movements over the requested days
    sources = set(StockMovement.objects.filter(reason="sale").values_list("source", flat=True))
    assert {"pos", "web"} <= sources <= {"pos", "web", "app", "trendyol", "zalando"}
    span = StockMovement.objects.filter(reason="sale").order_by("created_at").values_list("created_at", flat=True)
    assert 20 <= (span.last() - span.first()).days <= 30
    # on_hand is the ledger's sum for every row
    for level_id, on_hand in StockLevel.objects.values_list("id", "on_hand")[:50]:
        assert StockMovement.objects.filter(stock_level_id=level_id, bucket="on_hand").aggregate(s=Sum("quantity"))["s"] == on_hand
    # channels, visibility, users, tokens
    assert set(Channel.objects.values_list("code", flat=True)) == {"web", "app", "pos", "trendyol", "zalando"}
    dc, tpl = Location.objects.get(kind="dc"), Location.objects.get(kind="3pl")
    assert channel_location_ids(channel=Channel.objects.get(code="trendyol")) == {dc.pk, tpl.pk}
    web_sees = channel_location_ids(channel=Channel.objects.get(code="web"))
    assert set(Location.objects.filter(kind__in=["dc", "warehouse"]).values_list("id", flat=True)) <= web_sees
    assert not Location.objects.filter(kind="store", can_ship=False, id__in=web_sees).exists()
    assert PartnerToken.objects.count() == 2
    # the associate of the first store, and a manager of it and of the next store
    roles = sorted(StaffAssignment.objects.values_list("user__username", "role"))
    assert [r for r in roles if r[0].startswith("staff.")] == [(roles[-1][0], "associate")]
    assert [r[1] for r in roles if r[0].startswith("manager.")] == ["manager", "manager"]
    assert "omni-demo-admin" in out and "omni_demo_web_" in out and "/api/v1/docs/" in out
    # fast movers carry statistical safety stock at every store, computed from the history just written
    from allocation.models import SafetyStockPolicy

    store_policies = SafetyStockPolicy.objects.filter(scope="location", method="statistical")
    assert store_policies.count() == 12 * 4 and not store_policies.exclude(product__velocity_class="A").exists()
    assert not store_policies.filter(computed_at__isnull=True).exists()
    assert store_policies.filter(effective_quantity__gt=0, demand_sigma__gt=0).exists()
    assert SafetyStockPolicy.objects.filter(scope="pool").count() == 12
    assert "60 safety-stock policies" in out
    # every stock row says where its SKU sits (the store pick lists walk by it): the history's, and any
    # row that the live orders, returns and counts of today would open
    assert not StockLevel.objects.filter(shelf="").exists()
    assert StockLevel.objects.filter(location__kind="store").values("shelf").distinct().count() > 10


@pytest.mark.django_db(transaction=True)  # --reset flushes the database (TRUNCATE), outside a test transaction
def test_seed_is_deterministic_and_if_empty_keeps_data():
    seed()
    first = fingerprint()
    out = seed(if_empty=True)
    assert "nothing to do" in out
    assert fingerprint() == first
    seed(reset=True)
    again = fingerprint()
    assert again[0] == first[0] and again[1] == first[1]
    assert [m[:4] for m in again[2]] == [m[:4] for m in first[2]]


def test_demo_token_works_against_the_api(api_client):
    out = seed()
    key = next(word for word in out.split() if word.startswith("omni_demo_web_"))
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    res = api_client.get("/api/v1/stock-levels/", {"kind": "dc"})
    assert res.status_code == 200 and res.json()["count"] > 0


def test_some_skus_are_out_at_the_dc_but_in_stores():
    seed(stores=6, skus=200, days=60)
    out_at_dc = StockLevel.objects.filter(location__kind="dc", on_hand=0).values("product_id")
    assert StockLevel.objects.filter(product_id__in=out_at_dc, location__kind="store", on_hand__gt=0).exists()
