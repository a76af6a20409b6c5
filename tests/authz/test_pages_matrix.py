"""The pages' authorization matrix: every admin model's list, add and change pages, the admin's own
views, and every store-app page × the roles that sign in with a password.

The admin: what each head-office role may open is the role table of ``omni.access.groups`` (the
one place it is decided): a list or change page opens (200) exactly when the role may view or
change the model, an add page is refused (403) whenever the role may not add; store staff and the
anonymous are sent to sign in. A model registered later is covered without a new row: if no role
table names it, only a superuser opens it.

The store app: a store's pages open for the staff of that store only; another store's staff get the
app's 403 page, also for an order of the other store opened under their own store's address;
head office is sent to the admin, the anonymous to sign in.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from fulfillment.models import Work
from inventory.imports.models import ImportJob
from omni.access.groups import MERCHANDISER, OPERATIONS, PLANNER, ROLE_PERMISSIONS

from .conftest import AuthzWorld

pytestmark = pytest.mark.django_db

HEAD_OFFICE = {"merch": MERCHANDISER, "planner": PLANNER, "ops": OPERATIONS}


def _client(world: AuthzWorld, role: str):
    from django.test import Client

    client = Client()
    if role in world.users:
        client.force_login(world.users[role])
    return client


def _admin_models():
    return sorted(admin.site._registry.items(), key=lambda kv: kv[0]._meta.label)


@pytest.mark.parametrize("role", ["anon", "assoc_x", "merch", "planner", "ops"])
def test_admin_model_pages(authz, role):
    client = _client(authz, role)
    perms = ROLE_PERMISSIONS.get(HEAD_OFFICE.get(role, ""), set())
    wrong = []
    for model, _model_admin in _admin_models():
        meta = model._meta
        label = f"{meta.app_label}.{meta.model_name}"
        may_view = bool({f"{meta.app_label}.view_{meta.model_name}", f"{meta.app_label}.change_{meta.model_name}"} & perms)
        may_add = f"{meta.app_label}.add_{meta.model_name}" in perms
        pages = {"list": reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
                 "add": reverse(f"admin:{meta.app_label}_{meta.model_name}_add")}
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            pages["change"] = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk])
        for page, url in pages.items():
            res = client.get(url, follow=role in HEAD_OFFICE)  # the import job's add and change pages redirect
            if role not in HEAD_OFFICE:
                ok = res.status_code == 302 and "/admin/login/" in res["Location"]
            elif page == "add":
                ok = res.status_code in ((200, 403) if may_add else (403,))
            else:
                ok = res.status_code == (200 if may_view else 403)
            if not ok:
                wrong.append(f"{label} {page}: {res.status_code} (view={may_view}, add={may_add})")
    assert wrong == [], "\n".join(wrong)


# The admin's own views (not a model's list or form): anon/assoc_x/merch/planner/ops.
#   L = sent to the admin sign-in, A = 200, D = 403, R = sent back to the admin's home with a message
ADMIN_VIEWS = {
    "admin:index": ("GET", "LLAAA"),
    "/admin/what-if/": ("GET", "LLAAA"),  # the routing what-if reads; it writes to a scratch copy only
    "admin:allocation_atp_explorer": ("GET", "LLAAA"),
    "admin:insights_dashboard_csv": ("GET", "LLAAA"),
    "admin:inventory_stocklevel_operate": ("GET", "LLARR"),
    "admin:inventory_importjob_upload": ("GET", "LLADD"),
    "admin:inventory_importjob_progress": ("GET", "LLAAA"),
    "admin:inventory_importjob_progress_json": ("GET", "LLAAA"),
    "admin:inventory_importjob_errors": ("GET", "LLAAA"),
    "admin:inventory_importjob_cancel": ("POST", "LLADD"),
    # CSV import needs the model's change permission, export its view permission
    "admin:inventory_location_import": ("GET", "LLADD"),
    "admin:inventory_location_process_import": ("POST", "LLADD"),
    "admin:inventory_location_export": ("GET", "LLAAA"),
    "admin:inventory_product_import": ("GET", "LLADD"),
    "admin:inventory_product_process_import": ("POST", "LLADD"),
    "admin:inventory_product_export": ("GET", "LLAAA"),
    "admin:inventory_stocklevel_import": ("GET", "LLADD"),  # applied through the count service
    "admin:inventory_stocklevel_process_import": ("POST", "LLADD"),
    "admin:inventory_stocklevel_export": ("GET", "LLAAA"),
    "admin:allocation_channelvisibility_import": ("GET", "LLADD"),
    "admin:allocation_channelvisibility_process_import": ("POST", "LLADD"),
    "admin:allocation_channelvisibility_export": ("GET", "LLAAA"),
    "admin:allocation_safetystockpolicy_import": ("GET", "LLAAD"),  # the planner keeps safety stock
    "admin:allocation_safetystockpolicy_process_import": ("POST", "LLAAD"),
    "admin:allocation_safetystockpolicy_export": ("GET", "LLAAA"),
    # the order page's actions (channel A's order): the merchandiser changes orders; operations resends events
    "admin:orders_order_action_cancel": ("GET", "LLADD"),
    "admin:orders_order_action_cancel_lines": ("GET", "LLADD"),
    "admin:orders_order_action_reroute": ("GET", "LLADD"),
    "admin:orders_order_action_allocate_now": ("GET", "LLADD"),
    "admin:orders_order_action_resend_event": ("GET", "LLADA"),
}
_GENERIC = {"index", "login", "logout", "password_change", "password_change_done", "autocomplete", "jsi18n", "search",
            "app_list", "view_on_site", "auth_user_password_change"}


def test_every_admin_view_has_a_row():
    """Every view the admin adds beyond a model's list, add, change, delete and history pages."""
    found = set()
    for pattern in admin.site.get_urls():
        patterns = pattern.url_patterns if isinstance(pattern, URLResolver) else [pattern]
        for p in patterns:
            name = getattr(p, "name", None)
            if not name or name in _GENERIC or name.endswith(("_changelist", "_add", "_change", "_delete", "_history")):
                continue
            found.add(f"admin:{name}")
    assert found - set(ADMIN_VIEWS) == set()


@pytest.mark.parametrize("role", ["anon", "assoc_x", "merch", "planner", "ops"])
def test_admin_views(authz, role):
    col = ["anon", "assoc_x", "merch", "planner", "ops"].index(role)
    client = _client(authz, role)
    wrong = []
    for name, (method, expect) in ADMIN_VIEWS.items():
        job_page = name.startswith("admin:inventory_importjob_") and name != "admin:inventory_importjob_upload"
        args = [authz.ids["import_a"]] if job_page else []
        args = [authz.ids["order_a"]] if name.startswith("admin:orders_order_action_") else args
        url = name if name.startswith("/") else reverse(name, args=args)
        res = client.post(url, {}) if method == "POST" else client.get(url)
        want = expect[col]
        where = res.get("Location", "")
        ok = {"L": res.status_code == 302 and "login" in where,
              "A": res.status_code in (200, 302) and "login" not in where,
              "R": res.status_code == 302 and where == reverse("admin:index"),
              "D": res.status_code == 403}[want]
        if not ok:
            wrong.append(f"{name}: want {want}, got {res.status_code} {where}")
    assert wrong == [], "\n".join(wrong)
    cancelled = ImportJob.objects.filter(pk=authz.ids["import_a"], cancel_requested=True).exists()
    assert cancelled == (role == "merch")  # a refused cancel changed nothing


def _store_names() -> set[str]:
    def walk(patterns, ns=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, p.namespace or ns)
            elif isinstance(p, URLPattern) and ns == "store":
                yield p.name
    return set(walk(get_resolver().url_patterns))


# Store pages: anon / assoc_x / manager_x / assoc_y / merch / planner / ops.
#   L = sign-in page, O = sent to the admin, A = answered (200, or a redirect inside the store app),
#   D = the app's 403 page. Paths with {work_x}: channel A's work at store X.
STORE_PAGES = {
    "home": ("GET", "/", "LAAAOOO"),
    "login": ("GET", "/login/", "AAAAAAA"),  # signed-in users are sent on
    "logout": ("POST", "/logout/", "AAAAAAA"),
    "password_change": ("GET", "/password/", "LAAAAAA"),
    "password_change_done": ("GET", "/password/done/", "LAAAAAA"),
    "choose": ("GET", "/stores/", "LAAAOOO"),
    "queue": ("GET", "/s/ST-X/", "LAADOOO"),
    "work": ("GET", "/s/ST-X/w/{work_x}/", "LAADOOO"),
    "scan": ("POST", "/s/ST-X/w/{work_x}/scan/", "LAADOOO"),
    "pick_line": ("POST", "/s/ST-X/w/{work_x}/line/{wline_x}/pick/", "LAADOOO"),
    "pack": ("POST", "/s/ST-X/w/{work_x}/pack/", "LAADOOO"),
    "ship": ("POST", "/s/ST-X/w/{work_x}/ship/", "LAADOOO"),
    "ready": ("POST", "/s/ST-X/w/{work_x}/ready/", "LAADOOO"),
    "report_issue": ("POST", "/s/ST-X/w/{work_x}/issue/", "LAADOOO"),
    "slip": ("GET", "/s/ST-X/w/{work_x}/slip/", "LAADOOO"),
    "batch": ("GET", "/s/ST-X/batch/?w={work_x}", "LAADOOO"),
    "batch_scan": ("POST", "/s/ST-X/batch/scan/?w={work_x}", "LAADOOO"),
    "pickup": ("GET", "/s/ST-X/pickup/", "LAADOOO"),
    "pickup_work": ("GET", "/s/ST-X/pickup/{work_x}/", "LAADOOO"),
    "lookup": ("GET", "/s/ST-X/lookup/", "LAADOOO"),
    "manage": ("GET", "/s/ST-X/manage/", "LDADOOO"),  # the store manager's page
    "returns": ("GET", "/s/ST-X/returns/", "LAADOOO"),
    "counts": ("GET", "/s/ST-X/counts/", "LAADOOO"),
    "count_ad_hoc": ("POST", "/s/ST-X/counts/new/", "LAADOOO"),
    "count": ("GET", "/s/ST-X/counts/{count_x}/", "LAADOOO"),
    "count_approve": ("POST", "/s/ST-X/counts/{count_x}/approve/", "LDADOOO"),
    "transfers": ("GET", "/s/ST-X/transfers/", "LAADOOO"),
    "transfer_out": ("POST", "/s/ST-X/transfers/out/", "LAADOOO"),
    "transfer_in": ("GET", "/s/ST-X/transfers/{transfer_to_x}/", "LAADOOO"),
}
STORE_ROLES = ["anon", "assoc_x", "manager_x", "assoc_y", "merch", "planner", "ops"]


def test_every_store_page_has_a_row():
    assert _store_names() == set(STORE_PAGES)


@pytest.mark.parametrize("role", STORE_ROLES)
def test_store_pages(authz, role):
    col = STORE_ROLES.index(role)
    wrong = []
    for name, (method, path, expect) in STORE_PAGES.items():
        client = _client(authz, role)  # fresh: sign-out must not end the next row's session
        url = path.format(**authz.ids)
        res = client.post(url, {}) if method == "POST" else client.get(url)
        where = res.get("Location", "")
        want = expect[col]
        ok = {"L": res.status_code == 302 and "/login/" in where,
              "O": res.status_code == 302 and where.startswith("/admin/"),
              "A": res.status_code in (200, 302) and "/admin/" not in where and "login/?next" not in where,
              "D": res.status_code == 403}[want]
        if not ok:
            wrong.append(f"{name}: want {want}, got {res.status_code} {where}")
    assert wrong == [], "\n".join(wrong)


def test_another_stores_order_under_ones_own_store_is_refused(authz):
    """Associate of Y asks for X's work under Y's address: the 403 page, not X's order."""
    client = _client(authz, "assoc_y")
    work_x = Work.objects.select_related("order").get(pk=authz.ids["work_x"])
    for suffix in ("", "slip/"):
        res = client.get(f"/s/ST-Y/w/{work_x.pk}/{suffix}")
        assert res.status_code == 403, suffix
        assert work_x.order.external_id not in res.content.decode()
    for url in (f"/s/ST-Y/pickup/{work_x.pk}/", f"/s/ST-Y/w/{work_x.pk}/issue/", f"/s/ST-Y/w/{work_x.pk}/ship/"):
        res = client.get(url) if "pickup" in url else client.post(url, {})
        assert res.status_code == 403 and work_x.order.external_id not in res.content.decode(), url
    assert Work.objects.get(pk=work_x.pk).status == work_x.status  # nothing moved
