"""Store staff sign in at the site root, pick their store, and see only their stores' pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from omni.access.roles import Capability, can, principal_for
from tests.e2e.conftest import FACTORY_PASSWORD
from tests.inventory.factories import MerchandiserFactory, UserFactory

pytestmark = pytest.mark.django_db


def _login(client, username, password=FACTORY_PASSWORD, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def test_the_site_root_asks_the_anonymous_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/"
    page = client.get("/login/")
    assert page.status_code == 200
    assert "Store sign-in" in page.content.decode()


def test_an_associate_with_one_store_lands_on_that_store(client, associate, kadikoy):
    response = _login(client, "ayse")
    assert response.status_code == 302
    response = client.get(response["Location"], follow=True)
    assert response.redirect_chain[-1][0] == "/s/ST-KDK/"
    html = response.content.decode()
    assert "Kadıköy" in html and "Associate" in html


def test_a_manager_of_two_stores_chooses_one_and_the_choice_is_kept(client, manager, besiktas):
    _login(client, "mehmet")
    response = client.get("/")
    assert response["Location"] == reverse("store:choose")
    choose = client.get(reverse("store:choose")).content.decode()
    assert "ST-BSK" in choose and "ST-KDK" in choose and "Store manager" in choose
    response = client.post(reverse("store:choose"), {"code": "ST-BSK"})
    assert response["Location"] == "/s/ST-BSK/"
    assert client.get("/")["Location"] == "/s/ST-BSK/"  # kept in the session


def test_another_stores_pages_are_refused_by_url(client, associate, besiktas):
    client.force_login(associate)
    for url in ("/s/ST-BSK/", "/s/ST-BSK/lookup/?q=X", "/s/NO-SUCH/"):
        response = client.get(url)
        assert response.status_code == 403, url
        html = response.content.decode()
        assert "Not your store" in html and "store/store.css" in html  # the app's own 403 page
    response = client.post(reverse("store:choose"), {"code": "ST-BSK"})
    assert response.status_code == 403
    assert client.session.get("store_location_id") is None


def test_a_merchandiser_at_the_root_is_sent_to_the_admin(client):
    client.force_login(MerchandiserFactory(username="mira"))
    assert client.get("/")["Location"] == reverse("admin:index")
    assert client.get("/s/ST-KDK/")["Location"] == reverse("admin:index")


def test_a_user_with_no_store_is_told_so(client, kadikoy):
    client.force_login(UserFactory(username="nobody"))
    for url in ("/", "/s/ST-KDK/"):
        response = client.get(url)
        assert response.status_code == 403
        assert "not assigned to any store" in response.content.decode()


def test_sign_out_is_a_post_and_ends_the_session(client, associate):
    client.force_login(associate)
    response = client.post(reverse("store:logout"))
    assert response["Location"] == "/login/"
    assert client.get("/s/ST-KDK/")["Location"].startswith("/login/?next=/s/ST-KDK/")


def test_password_change(client, associate):
    client.force_login(associate)
    response = client.post(reverse("store:password_change"), {
        "old_password": FACTORY_PASSWORD, "new_password1": "kadikoy-sahil-2026", "new_password2": "kadikoy-sahil-2026"})
    assert response["Location"] == reverse("store:password_change_done")
    client.post(reverse("store:logout"))
    assert _login(client, "ayse", "kadikoy-sahil-2026").status_code == 302


def test_sign_in_attempts_are_throttled_for_the_store_and_the_admin(client, associate, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _login(client, "ayse", "wrong")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    locked = _login(client, "ayse", "wrong")
    assert locked.status_code == 429
    assert "Too many sign-in attempts" in locked.content.decode()
    # Now even the right password is refused, and so is the admin's login form for that user.
    assert _login(client, "ayse").status_code == 429
    admin = client.post("/admin/login/", {"username": "ayse", "password": FACTORY_PASSWORD})
    assert admin.status_code == 429
    assert client.get("/").status_code == 302 and "_auth_user_id" not in client.session


def test_a_success_clears_the_failure_count(client, associate, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "ayse", "wrong")
    assert _login(client, "ayse").status_code == 302
    client.post(reverse("store:logout"))
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "ayse", "wrong").status_code == 200


def test_only_a_manager_may_manage_the_store(associate, manager, kadikoy, besiktas):
    assert not can(principal_for(associate), Capability.MANAGE_STORE, location_id=kadikoy.pk)
    assert can(principal_for(associate), Capability.FULFIL, location_id=kadikoy.pk)
    assert can(principal_for(manager), Capability.MANAGE_STORE, location_id=besiktas.pk)
    other = principal_for(UserFactory(username="x"))
    assert not can(other, Capability.MANAGE_STORE, location_id=kadikoy.pk)


def test_the_store_app_speaks_turkish_and_the_admin_stays_english(client, associate):
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="tr")
    html = page.content.decode()
    assert '<html lang="tr">' in html and "Mağaza girişi" in html and "Giriş yap" in html
    client.force_login(associate)
    assert "Stok sorgulama" in client.get("/s/ST-KDK/", HTTP_ACCEPT_LANGUAGE="tr").content.decode()
    client.force_login(MerchandiserFactory(username="mira"))
    admin = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="tr").content.decode()
    assert "Needs attention now" in admin and "Stock accuracy" in admin and '<html lang="en-us"' in admin  # the dashboard, in English


def test_the_language_chosen_in_the_menu_sticks(client, associate):
    client.force_login(associate)
    client.post("/i18n/setlang/", {"language": "tr", "next": "/s/ST-KDK/"})
    assert "Kuyruk" in client.get("/s/ST-KDK/").content.decode()
