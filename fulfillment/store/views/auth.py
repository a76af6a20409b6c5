"""Sign-in at the site root, sign-out, password change, and choosing the store to work at."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods

from ..context import SESSION_STORE, StoreRequest, not_your_store, staff_page
from ..forms import StoreLoginForm


class LoginView(auth_views.LoginView):
    template_name = "store/login.html"
    authentication_form = StoreLoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    next_page = "store:login"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "store/password_change.html"
    success_url = reverse_lazy("store:password_change_done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "store/password_change_done.html"


@staff_page
def home(request: StoreRequest) -> HttpResponse:
    """``/``: the store of a staff user (the one they chose before, their only one, or the list to
    choose from); ``staff_page`` sends the anonymous to sign in and merchandisers to the admin."""
    chosen = request.session.get(SESSION_STORE)
    current = next((a for a in request.assignments if a.location_id == chosen), None)
    if current is None and len(request.assignments) == 1:
        current = request.assignments[0]
    if current is None:
        return redirect("store:choose")
    return redirect("store:queue", code=current.code)


@require_http_methods(["GET", "POST"])
@staff_page
def choose_store(request: StoreRequest) -> HttpResponse:
    """The stores this user works at, one big button each; choosing one keeps it in the session."""
    if request.method == "POST":
        code = request.POST.get("code", "")
        chosen = next((a for a in request.assignments if a.code == code), None)
        if chosen is None:
            return not_your_store(request, code)
        request.session[SESSION_STORE] = chosen.location_id
        return redirect("store:queue", code=chosen.code)
    return render(request, "store/choose_store.html", {"assignments": request.assignments})
