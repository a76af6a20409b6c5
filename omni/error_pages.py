"""The pages a person sees when a page is refused (403), missing (404) or breaks (500), in the look
of where they were: the admin's own layout for head office under ``/admin/``, the store app's
elsewhere. ``omni.urls`` sends ``/api/`` paths to the JSON handlers of ``omni.api.guard`` and the rest
here.

A refused admin page says what it needs and who has it: for a model's list, form or history the
permission (view or change; add; delete), the roles (groups) that hold it and the active head-office
users who do, so a merchandiser who follows a link to the sync log learns that operations keeps it
and whom to ask, instead of reading a bare "403 Forbidden"."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.utils.translation import gettext as _

ADMIN_PREFIX = "/admin/"
MAX_NAMES = 8
_GENERIC_404 = re.compile(r"No .* matches the given query\.")
_ACTIONS = {"changelist": ("view", "change"), "change": ("view", "change"), "history": ("view", "change"),
            "add": ("add",), "delete": ("delete",)}
_DOING = {"changelist": "see the list of", "change": "open", "history": "see the history of", "add": "add",
          "delete": "delete"}


@dataclass
class Needed:
    """What a refused admin page needs, and who has it."""

    what: str = ""  # "see the list of sync messages"
    permissions: list[str] = field(default_factory=list)  # human names of the permissions, any of which opens it
    roles: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    more_people: int = 0
    nobody: bool = False  # the admin refuses this page to everyone (records only Omni writes)


def _is_admin_user(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def _admin_page(request: HttpRequest) -> tuple[Any, str] | None:
    """The model and the kind of page (``changelist``, ``add``, ...) of a refused model page."""
    match = getattr(request, "resolver_match", None)
    name = getattr(match, "url_name", None) or ""
    for model in admin.site._registry:
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if name.startswith(prefix) and name[len(prefix):] in _ACTIONS:
            return model, name[len(prefix):]
    return None


def _people(query: Q) -> tuple[list[str], int]:
    users = (User.objects.filter(is_active=True, is_staff=True).filter(query).distinct()
             .order_by("-is_superuser", "username"))
    names = [f"{u.get_full_name()} ({u.username})" if u.get_full_name() else u.username
             for u in users[:MAX_NAMES]]
    return names, max(users.count() - MAX_NAMES, 0)


class _Everyone:
    """A user with every permission: asks whether a model's admin opens a page to anyone at all."""

    is_active = is_staff = is_superuser = is_authenticated = True

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return True

    def has_perms(self, perms: Any, obj: Any = None) -> bool:
        return True

    def has_module_perms(self, app_label: str) -> bool:
        return True


def _open_to_anyone(model: Any, kind: str, request: HttpRequest) -> bool:
    model_admin = admin.site._registry[model]
    probe = copy.copy(request)
    probe.user = _Everyone()  # type: ignore[assignment]
    check = {"add": model_admin.has_add_permission, "delete": model_admin.has_delete_permission}.get(
        kind, model_admin.has_view_or_change_permission)
    try:
        return bool(check(probe))
    except Exception:  # an admin's own check that needs more than a request: assume it may open
        return True


def admin_needed(request: HttpRequest) -> Needed:
    page = _admin_page(request)
    if page is None:
        names, more = _people(Q(is_superuser=True))
        return Needed(people=names, more_people=more)
    model, kind = page
    meta = model._meta
    if not _open_to_anyone(model, kind, request):
        noun = meta.verbose_name_plural
        return Needed(what=f"{_DOING[kind]} {noun}" if kind in ("add", "changelist") else f"{_DOING[kind]} a {meta.verbose_name}",
                      nobody=True)
    codenames = [f"{action}_{meta.model_name}" for action in _ACTIONS[kind]]
    perms = Permission.objects.filter(content_type__app_label=meta.app_label, codename__in=codenames).order_by("codename")
    holds = Q(permissions__content_type__app_label=meta.app_label, permissions__codename__in=codenames)
    roles = list(Group.objects.filter(holds).distinct().order_by("name").values_list("name", flat=True))
    names, more = _people(Q(is_superuser=True)
                          | Q(groups__permissions__content_type__app_label=meta.app_label,
                              groups__permissions__codename__in=codenames)
                          | Q(user_permissions__content_type__app_label=meta.app_label,
                              user_permissions__codename__in=codenames))
    noun = meta.verbose_name if kind in ("change", "history", "delete") else meta.verbose_name_plural
    article = "" if kind in ("changelist", "add") else "a "
    what = f"{_DOING[kind]} {article}{noun}"
    return Needed(what=what, permissions=[p.name for p in perms], roles=roles, people=names, more_people=more)


def _admin_render(request: HttpRequest, template: str, status: int, **extra: Any) -> HttpResponse:
    context = {**admin.site.each_context(request), **extra}
    return render(request, template, context, status=status)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception is not None and str(exception) not in ("", "Forbidden.") else ""
    if request.path.startswith(ADMIN_PREFIX) and _is_admin_user(request):
        user = request.user
        return _admin_render(request, "admin/omni_403.html", 403, title="You may not open this page",
                             needed=admin_needed(request), message=message,
                             my_roles=list(user.groups.order_by("name").values_list("name", flat=True)))
    return render(request, "store/403.html", {"title": _("Not allowed"),
                                              "message": message or _("You may not open this page.")}, status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    detail = getattr(exception, "args", [""])[0] if exception is not None else ""
    # get_object_or_404's "No Order matches the given query." says nothing to a person; a view's own words do
    message = detail if isinstance(detail, str) and detail and not _GENERIC_404.fullmatch(detail) else ""
    if request.path.startswith(ADMIN_PREFIX) and _is_admin_user(request):
        return _admin_render(request, "admin/omni_404.html", 404, title="Page not found", message=message)
    return render(request, "store/404.html", {"title": _("Page not found"), "message": message}, status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent from a page that has expired (its security token no longer matches: the page was
    open a long time, or the session ended): say so and how to go on, not Django's bare CSRF page.
    ``CSRF_FAILURE_VIEW``; ``reason`` is for developers and stays in the log."""
    if request.path.startswith(ADMIN_PREFIX) and _is_admin_user(request):
        return _admin_render(request, "admin/omni_expired.html", 403, title="This form has expired")
    return render(request, "store/403.html", {
        "title": _("This page has expired"),
        "message": _("Nothing was saved. Go back, reload the page and try again; if you were signed out, sign in first."),
    }, status=403)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith(ADMIN_PREFIX) and _is_admin_user(request):
        return _admin_render(request, "admin/omni_404.html", 400, title="This request could not be read",
                             message="The address or the form sent was malformed. Go back and try again.")
    return render(request, "store/404.html", {"title": _("This request could not be read"),
                                              "message": _("Go back and try again.")}, status=400)


def server_error(request: HttpRequest) -> HttpResponse:
    """No database, no request context: the error may have come from either."""
    return HttpResponse(loader.get_template("500.html").render(), status=500)
