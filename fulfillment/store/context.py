"""Who is at which store: every store page runs through ``store_page`` (or ``staff_page`` for the
pages that are not about one store), which signs the anonymous in, sends merchandisers to the
admin, and refuses a store that is not the user's with a 403 page in the app's style."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django_htmx.middleware import HtmxDetails

from inventory.models import Location
from omni.access.roles import Capability, Principal, Role, can, principal_from_request
from omni.access.selectors import StoreAssignment, store_assignments

SESSION_STORE = "store_location_id"


@dataclass(frozen=True)
class StoreContext:
    """The store a page is for, the user's role there and every store they work at."""

    location: Location
    assignment: StoreAssignment
    assignments: list[StoreAssignment]
    principal: Principal

    @property
    def is_manager(self) -> bool:
        return can(self.principal, Capability.MANAGE_STORE, location_id=self.location.pk)


class StoreRequest(HttpRequest):
    """A request that went through ``store_page``: a signed-in staff user at one of their stores."""

    user: User  # signed in: never AnonymousUser here
    htmx: HtmxDetails
    store: StoreContext
    assignments: list[StoreAssignment]


def forbidden(request: HttpRequest, message: str, *, title: str | None = None) -> HttpResponse:
    return render(request, "store/403.html", {"title": title or _("Not your store"), "message": message}, status=403)


def no_store(request: HttpRequest) -> HttpResponse:
    return forbidden(request, _("Your account is not assigned to any store. Ask your store manager or the head office."),
                     title=_("No store"))


def not_your_store(request: HttpRequest, code: str) -> HttpResponse:
    return forbidden(request, _("You are not assigned to store %(code)s, so you cannot open its pages.") % {"code": code})


def staff_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in store staff only: the anonymous go to the sign-in page, merchandisers to the admin,
    a user with no store gets a 403 page that says so."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        principal = principal_from_request(request)
        if principal.role is Role.MERCHANDISER:
            return redirect("admin:index")
        assignments = store_assignments(user=request.user) if principal.role is Role.STORE_STAFF else []
        if not assignments:
            return no_store(request)
        request.assignments = assignments  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def store_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page of one store, named by ``code`` in the URL: refused unless the user works there."""

    @staff_page
    @functools.wraps(view)
    def wrapper(request: HttpRequest, code: str, *args: Any, **kwargs: Any) -> HttpResponse:
        assignments: list[StoreAssignment] = request.assignments  # type: ignore[attr-defined]
        assignment = next((a for a in assignments if a.code == code), None)
        if assignment is None:
            return not_your_store(request, code)
        location = Location.objects.get(pk=assignment.location_id)
        request.store = StoreContext(  # type: ignore[attr-defined]
            location=location, assignment=assignment, assignments=assignments, principal=principal_from_request(request),
        )
        if request.session.get(SESSION_STORE) != location.pk:
            request.session[SESSION_STORE] = location.pk
        return view(request, *args, **kwargs)

    return wrapper


def store_context(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: ``store`` (the StoreContext of a store page, else None)."""
    return {"store": getattr(request, "store", None)}
