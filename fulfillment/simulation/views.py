"""The routing what-if in the admin (merchandisers): choose a profile or edit a copy, a date range,
run it as a job, watch its progress, read the comparison. Views parse, call one service, render."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

from django import forms
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from allocation.models import Channel
from omni.errors import ValidationFailed
from orders.models import RoutingProfile
from orders.routing.criteria import DEFAULT_CRITERIA, build_criteria

from .tasks import JOB_TTL, job_key, whatif_job

BUILT_IN = "built-in"


class WhatIfForm(forms.Form):
    profile = forms.ChoiceField(label="Routing profile", help_text="The profile to try; edit its criteria below to try a copy.")
    criteria = forms.CharField(
        label="Criteria (a copy you may edit)", required=False, widget=forms.Textarea(attrs={"rows": 8, "cols": 70}),
        help_text='A JSON list like [{"name": "proximity", "weight": 2}]. Empty: the profile\'s own criteria.')
    max_shipments = forms.IntegerField(label="At most this many shipments per order", min_value=1, max_value=10, initial=2)
    since = forms.DateField(label="Orders placed from", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="… to (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.ModelChoiceField(queryset=Channel.objects.order_by("code"), required=False, empty_label="every channel")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(BUILT_IN, "built-in default")]
        choices += [(str(p.pk), f"{p.name} v{p.version}" + (f" ({p.channel.code})" if p.channel is not None else ""))
                    for p in RoutingProfile.objects.filter(is_active=True).select_related("channel").order_by("name")]
        profile_field = self.fields["profile"]
        assert isinstance(profile_field, forms.ChoiceField)
        profile_field.choices = choices

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("The date range ends before it starts.")
        chosen = data.get("profile")
        profile = None if chosen in (None, BUILT_IN) else RoutingProfile.objects.filter(pk=chosen).first()
        text = (data.get("criteria") or "").strip()
        if text:
            try:
                criteria = json.loads(text)
            except json.JSONDecodeError as exc:
                raise forms.ValidationError({"criteria": f"Not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}."})
            label = f"edited copy of {profile.name} v{profile.version}" if profile else "edited copy of the built-in default"
        else:
            criteria = list(profile.criteria) if profile else list(DEFAULT_CRITERIA)
            label = f"{profile.name} v{profile.version}" if profile else "built-in default"
        try:
            build_criteria(criteria)
        except ValidationFailed as exc:
            raise forms.ValidationError({"criteria": exc.message})
        data["criteria_list"], data["label"] = criteria, label
        return data


@staff_member_required
def whatif_start(request: HttpRequest) -> HttpResponse:
    today = timezone.now().date()
    form = WhatIfForm(request.POST or None, initial={"since": today - timedelta(days=7), "until": today})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        job_id = uuid.uuid4().hex
        spec = {"since": data["since"].isoformat(), "until": data["until"].isoformat(), "criteria": data["criteria_list"],
                "max_shipments": data["max_shipments"], "profile_label": data["label"],
                "channel_id": data["channel"].pk if data["channel"] else None}
        cache.set(job_key(job_id), {"status": "queued", "done": 0, "total": None, "spec": spec}, JOB_TTL)
        whatif_job.delay(job_id, spec)
        return redirect(reverse("whatif-job", args=[job_id]))
    profiles = [("built-in default", json.dumps(DEFAULT_CRITERIA))]
    profiles += [(f"{p.name} v{p.version}", json.dumps(p.criteria))
                 for p in RoutingProfile.objects.filter(is_active=True).order_by("name")]
    context = {**admin.site.each_context(request), "title": "Routing what-if", "form": form, "profiles": profiles}
    return render(request, "fulfillment/simulation/whatif_form.html", context)


@staff_member_required
def whatif_status(request: HttpRequest, job_id: str) -> HttpResponse:
    state = cache.get(job_key(job_id))
    if state is None:
        raise Http404("No such what-if job (jobs are kept for a day).")
    result = state.get("result")
    rows = []
    if result:
        a, w = result["actual"], result["whatif"]
        for key, label, pct in (("fill_rate", "fill rate", True), ("cost_per_order", "fulfilment cost per order", False),
                                ("split_rate", "split shipments", True), ("ship_from_store_rate", "ship-from-store rate", True)):
            fmt = (lambda v: f"{v:.1%}") if pct else (lambda v: f"{v:.2f}")
            rows.append({"label": label, "actual": fmt(a[key]), "whatif": fmt(w[key]),
                         "change": f"{w[key] - a[key]:+.1%}" if pct else f"{w[key] - a[key]:+.2f}"})
        stores = sorted(set(a["store_load"]) | set(w["store_load"]),
                        key=lambda c: -(a["store_load"].get(c, 0) + w["store_load"].get(c, 0)))
        load = [{"code": c, "actual": a["store_load"].get(c, 0), "whatif": w["store_load"].get(c, 0)} for c in stores[:40]]
    else:
        load = []
    done, total = state.get("done") or 0, state.get("total")
    context = {**admin.site.each_context(request), "title": "Routing what-if", "state": state, "result": result,
               "rows": rows, "load": load, "percent": int(100 * done / total) if total else 0,
               "running": state["status"] in ("queued", "running")}
    return render(request, "fulfillment/simulation/whatif_job.html", context)
