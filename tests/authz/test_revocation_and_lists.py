"""What each role's lists hold (no other channel's or store's rows), access revoked in the middle of a
workflow (refused at the very next request: nothing is cached), and sign-in throttling on every
sign-in page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from fulfillment.models import Work, WorkStatus
from omni.access.models import PartnerToken, StaffAssignment
from orders.models import Hold

from .conftest import PASSWORD, AuthzWorld

pytestmark = pytest.mark.django_db

ALL_ORDERS = {"EXT-A-ORDER", "EXT-A-CANCEL", "EXT-B-ORDER", "EXT-B-CANCEL"}
# role: (orders listed, works listed, stock-level locations, ledger locations)
LISTS = {
    "partner_a": ({"EXT-A-ORDER", "EXT-A-CANCEL"}, set(), {"DC", "ST-X", "ST-Y"}, {"DC", "ST-X", "ST-Y"}),
    "partner_b": ({"EXT-B-ORDER", "EXT-B-CANCEL"}, set(), {"DC", "ST-X", "ST-Y"}, {"DC", "ST-X", "ST-Y"}),
    "pos_x": (None, None, {"ST-X"}, {"ST-X"}),
    "assoc_x": (None, {"work_x"}, {"DC", "ST-X", "ST-Y"}, {"DC", "ST-X", "ST-Y"}),
    "assoc_y": (None, {"work_y"}, {"DC", "ST-X", "ST-Y"}, {"DC", "ST-X", "ST-Y"}),
    "planner": (ALL_ORDERS, "all", {"DC", "ST-X", "ST-Y"}, {"DC", "ST-X", "ST-Y"}),
}


@pytest.mark.parametrize("role", LISTS)
def test_lists_hold_only_what_the_role_may_see(authz: AuthzWorld, role):
    orders, works, levels, ledger = LISTS[role]
    client = authz.client(role)
    res = client.get("/api/v1/orders?page_size=100")
    assert (res.status_code == 403) if orders is None else {o["external_id"] for o in res.json()["results"]} == orders
    res = client.get("/api/v1/fulfillment/works?page_size=100")
    if works is None:
        assert res.status_code == 403
    else:
        want = set(Work.objects.values_list("pk", flat=True)) if works == "all" else {authz.ids[w] for w in works}
        assert {w["id"] for w in res.json()["results"]} == want
    assert {r["location"] for r in client.get("/api/v1/stock-levels/?page_size=1000").json()["results"]} == levels
    assert {r["location"] for r in client.get("/api/v1/stock-movements/?page_size=1000").json()["results"]} == ledger


def test_a_partner_reads_no_other_callers_name_in_the_ledger(authz):
    move = {"movements": [{"external_id": "by-staff", "kind": "receipt", "sku": "SKU-X", "location": "ST-X", "quantity": 1}]}
    assert authz.client("assoc_x").post("/api/v1/stock-movements", move, format="json").status_code == 200
    move["movements"][0]["external_id"] = "by-b"
    assert authz.client("partner_b").post("/api/v1/stock-movements", move, format="json").status_code == 200
    move["movements"][0]["external_id"] = "by-a"
    assert authz.client("partner_a").post("/api/v1/stock-movements", move, format="json").status_code == 200
    rows = authz.client("partner_a").get("/api/v1/stock-movements/?location=ST-X&reason=receipt").json()["results"]
    seen = {r["external_id"]: r["actor"] for r in rows if r["external_id"].startswith("by-")}
    assert seen["by-staff"] is None and seen["by-b"] is None and seen["by-a"].startswith("partner:chan-a:")
    rows = authz.client("merch").get("/api/v1/stock-movements/?location=ST-X&reason=receipt").json()["results"]
    assert {r["external_id"]: r["actor"] for r in rows}["by-staff"] == "assoc-x"  # head office sees who


def test_an_order_cannot_take_another_channels_hold(authz):
    body = {"external_id": "steal", "hold_id": authz.ids["hold_a"], "latitude": 41, "longitude": 29,
            "lines": [{"sku": "SKU-D", "quantity": 1}]}
    res = authz.client("partner_b").post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="steal")
    assert (res.status_code, res.json()["error"]["code"]) == (404, "unknown_hold")
    assert Hold.objects.get(pk=authz.ids["hold_a"]).status == "active"


def test_a_token_deactivated_mid_workflow_is_refused_at_once(authz):
    client = authz.client("partner_a")
    hold = client.post("/api/v1/holds", {"lines": [{"sku": "SKU-D", "quantity": 1}]}, format="json")
    assert hold.status_code == 201
    PartnerToken.objects.filter(channel__code="chan-a").update(is_active=False)
    res = client.delete(f"/api/v1/holds/{hold.json()['id']}")
    assert (res.status_code, res.json()["error"]["code"]) == (401, "authentication_failed")
    assert Hold.objects.get(pk=hold.json()["id"]).status == "active"  # the release did not happen


def test_a_staff_assignment_removed_mid_workflow_is_refused_at_once(authz):
    work = authz.ids["work_x"]
    api, pages = authz.client("assoc_x"), Client()
    pages.force_login(authz.users["assoc_x"])
    assert api.post(f"/api/v1/fulfillment/works/{work}/start", {}, format="json", HTTP_IDEMPOTENCY_KEY="s1").status_code == 200
    assert pages.get(f"/s/ST-X/w/{work}/").status_code == 200
    StaffAssignment.objects.filter(user=authz.users["assoc_x"]).delete()
    res = api.post(f"/api/v1/fulfillment/works/{work}/pick", {"line": authz.ids["wline_x"]}, format="json", HTTP_IDEMPOTENCY_KEY="p1")
    assert res.status_code == 403
    assert pages.get(f"/s/ST-X/w/{work}/").status_code == 403
    assert Work.objects.get(pk=work).status == WorkStatus.PICKING  # the pick did not happen


def test_a_store_moved_mid_workflow_shows_the_other_store_only(authz):
    """Reassigned from X to Y: X's work is hidden at the next request, Y's is open."""
    api = authz.client("assoc_x")
    assert api.get(f"/api/v1/fulfillment/works/{authz.ids['work_x']}").status_code == 200
    StaffAssignment.objects.filter(user=authz.users["assoc_x"]).update(location=Work.objects.get(pk=authz.ids["work_y"]).location)
    assert api.get(f"/api/v1/fulfillment/works/{authz.ids['work_x']}").status_code == 404
    assert api.get(f"/api/v1/fulfillment/works/{authz.ids['work_y']}").status_code == 200


@pytest.mark.parametrize("role", ["merch", "planner"])
def test_a_user_removed_from_their_group_is_refused_at_once(authz, role):
    user = authz.users[role]
    api, admin_pages = authz.client(role), Client()
    admin_pages.force_login(user)
    assert api.get("/api/v1/orders").status_code == 200
    assert admin_pages.get("/admin/orders/order/").status_code == 200
    user.groups.clear()
    assert api.get("/api/v1/orders").status_code == 403
    assert api.post("/api/v1/orders", {"external_id": "late", "channel": "chan-a", "lines": [{"sku": "SKU-D", "quantity": 1}]},
                    format="json", HTTP_IDEMPOTENCY_KEY="late").status_code == 403
    assert admin_pages.get("/admin/orders/order/").status_code == 403


def test_a_merchandiser_moved_to_planner_loses_writes_at_once(authz):
    user = authz.users["merch"]
    api = authz.client("merch")
    move = {"movements": [{"external_id": "m1", "kind": "receipt", "sku": "SKU-X", "location": "ST-X", "quantity": 1}]}
    assert api.post("/api/v1/stock-movements", move, format="json").status_code == 200
    user.groups.set([Group.objects.get(name="planner")])
    move["movements"][0]["external_id"] = "m2"
    assert api.post("/api/v1/stock-movements", move, format="json").status_code == 403
    assert api.get("/api/v1/stock-levels/").status_code == 200  # reads stay


def test_a_deactivated_user_is_refused_at_once(authz):
    user = authz.users["merch"]
    api = authz.client("merch")
    assert api.get("/api/v1/orders").status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert api.get("/api/v1/orders").status_code in (401, 403)


# Sign-in pages: each locks a user name out after OMNI_LOGIN_FAILURE_LIMIT failures (django-axes),
# even for the right password afterwards. The API has no password sign-in (tokens are issued in the admin).
@pytest.mark.parametrize("url, username", [("/login/", "assoc-x"), ("/admin/login/", "merch")])
def test_every_sign_in_page_is_throttled(authz, settings, url, username):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(2):
        assert client.post(url, {"username": username, "password": "wrong"}).status_code == 200  # the form again
    assert client.post(url, {"username": username, "password": "wrong"}).status_code == 429  # the third: locked out
    locked = client.post(url, {"username": username, "password": PASSWORD})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # another user name from the same address is not locked out
    other = "assoc-y" if username == "assoc-x" else "plan"
    assert client.post(url, {"username": other, "password": PASSWORD}).status_code == 302


def test_the_api_has_no_password_sign_in():
    from drf_spectacular.generators import EndpointEnumerator

    paths = [path for path, *_ in EndpointEnumerator().get_api_endpoints()]
    assert not [p for p in paths if any(w in p for w in ("login", "token", "auth"))]
