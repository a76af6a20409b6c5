"""Refused, missing and broken pages answer in the look of where the person was: the admin's own
layout (saying what the page needs and who has it), the store app's, or the API's JSON."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from omni.access.groups import MERCHANDISER, OPERATIONS, admin_roles_sync
from omni.access.models import StaffAssignment
from tests.inventory.factories import LocationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    admin_roles_sync(group_model=Group, permission_model=Permission)
    merch = UserFactory(username="mia", first_name="Mia", last_name="Merch", is_staff=True)
    merch.groups.set([Group.objects.get(name=MERCHANDISER)])
    ops = UserFactory(username="oz", first_name="Oz", last_name="Ops", is_staff=True)
    ops.groups.set([Group.objects.get(name=OPERATIONS)])
    UserFactory(username="root", is_staff=True, is_superuser=True)
    gone = UserFactory(username="gone", is_staff=True, is_active=False)  # left the company: not named
    gone.groups.set([Group.objects.get(name=OPERATIONS)])
    return {"merch": merch, "ops": ops}


def _as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_merchandiser_refused_the_sync_log_is_told_who_keeps_it(people):
    res = _as(people["merch"]).get(reverse("admin:allocation_syncmessage_changelist"))
    assert res.status_code == 403
    html = res.content.decode()
    assert "Inventory &amp; orders" in html and "Back to the dashboard" in html  # the admin's own layout, not a bare page
    assert "You may not open this page" in html
    assert "Your account may not see the list of sync messages." in html
    assert "Your role: <strong>merchandiser</strong>" in html
    assert "Can view sync message" in html and "Can change sync message" in html
    roles = html.split("Role that has it</dt>")[1].split("</dd>")[0]
    assert "operations" in roles and "merchandiser" not in roles
    who = html.split("Who can help</dt>")[1].split("</dd>")[0]
    assert "root" in who and "Oz Ops (oz)" in who
    assert "gone" not in who and "Mia" not in who


def test_the_operations_user_opens_the_sync_log(people):
    assert _as(people["ops"]).get(reverse("admin:allocation_syncmessage_changelist")).status_code == 200


def test_a_refused_add_page_names_the_add_permission(people):
    res = _as(people["ops"]).get(reverse("admin:inventory_product_add"))
    assert res.status_code == 403
    html = res.content.decode()
    assert "Your account may not add products." in html
    assert "Can add product" in html and "Can view product" not in html
    assert "merchandiser" in html.split("Who can help")[0]


def test_a_missing_admin_page_is_the_admins_own(people):
    res = _as(people["merch"]).get("/admin/what-if/no-such-job/")
    assert res.status_code == 404
    html = res.content.decode()
    assert "Page not found" in html and "Back to the dashboard" in html
    assert "No such what-if job (jobs are kept for a day)." in html  # the view's own words


def test_a_missing_store_page_is_the_store_apps(people):
    store = LocationFactory(code="ST-Q")
    clerk = UserFactory(username="clerk")
    StaffAssignment.objects.create(user=clerk, location=store)
    res = _as(clerk).get("/no/such/page/")
    assert res.status_code == 404
    html = res.content.decode()
    assert "store/store.css" in html and "Page not found" in html and "Go to my store" in html
    assert Client().get("/no/such/page/").status_code == 404  # signed out: the same page, no menu


def test_the_api_still_answers_json(people):
    res = Client().get("/api/v1/no-such-endpoint/")
    assert res.status_code == 404 and res.json()["error"]["code"] == "not_found"


def test_a_broken_page_is_styled_and_needs_no_database(people, settings, django_assert_num_queries):
    from omni.urls import handler500
    from django.test import RequestFactory

    with django_assert_num_queries(0):
        res = handler500(RequestFactory().get("/s/ST-Q/"))
    assert res.status_code == 500
    assert b"Something went wrong on our side" in res.content and b"store/store.css" in res.content


def test_an_expired_store_form_says_so_in_the_store_apps_look(people):
    store = LocationFactory(code="ST-Q")
    clerk = UserFactory(username="clerk")
    StaffAssignment.objects.create(user=clerk, location=store)
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk)
    res = client.post("/s/ST-Q/counts/new/", {"codes": "X"})  # no token: the page it came from has expired
    assert res.status_code == 403
    html = res.content.decode()
    assert "store/store.css" in html and "This page has expired" in html and "Nothing was saved" in html
    tr = client.post("/s/ST-Q/counts/new/", {"codes": "X"}, HTTP_ACCEPT_LANGUAGE="tr")
    assert "Bu sayfanın süresi doldu" in tr.content.decode()  # the store app speaks Turkish too


def test_an_expired_admin_form_says_so_in_the_admins_look(people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["merch"])
    res = client.post(reverse("admin:inventory_product_add"), {"sku": "X"})
    assert res.status_code == 403
    html = res.content.decode()
    assert "This form has expired" in html and "Inventory &amp; orders" in html and "Nothing was saved" in html


def test_a_page_no_role_opens_says_that_omni_writes_those_records(people):
    res = _as(people["merch"]).get(reverse("admin:inventory_stockmovement_add"))
    assert res.status_code == 403
    html = res.content.decode()
    assert "Nobody does this here" in html and "no role can add stock ledger in the admin" in html  # its verbose name
    assert "Who can help" not in html  # no role to ask for
