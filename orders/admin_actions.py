"""The order page's actions for merchandisers, each through the service the API (or the store
app) calls: cancel the order or some lines, re-route a line away from its location, pin a line to a
location of the merchandiser's choice, allocate a backordered line now (overriding the scarcity
decision that parked it), resend a partner event.

Each action is a small form page: GET shows what will happen, POST calls one service and goes
back to the order with the outcome. Nothing here decides anything the services do not."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from allocation.sync.models import MessageKind, SyncMessage
from allocation.sync.publish import sync_event_publish
from omni.errors import OmniError

from inventory.models import Location

from .models import Allocation, AllocationStatus, LineStatus, Order, OrderEvent
from .selectors import PinCandidate, pin_candidates
from .services import allocation_reject, order_cancel, order_line_pin, order_line_reroute, order_lines_cancel
from .timeline import order_timeline


def _actor(request: HttpRequest) -> str:
    return f"{request.user.get_username()} via admin"


class _ReasonForm(forms.Form):
    reason = forms.CharField(max_length=200, required=True, help_text="Kept on the order's timeline.")


class CancelLinesForm(_ReasonForm):
    lines = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, help_text="Lines to cancel (all or none).")

    def __init__(self, *args: Any, order: Order, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lines"].choices = [  # type: ignore[attr-defined]
            (ln.line_no, f"Line {ln.line_no}: {ln.quantity} × {ln.product.sku} ({ln.get_status_display().lower()})")
            for ln in order.lines.select_related("product").exclude(status__in=[LineStatus.CANCELLED, LineStatus.FULFILLED])
        ]


class RerouteForm(_ReasonForm):
    allocation = forms.TypedChoiceField(coerce=int, label="Move", help_text="Its units are released there and routed "
                                        "to the best other location (never back to this one).")

    def __init__(self, *args: Any, order: Order, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["allocation"].choices = [  # type: ignore[attr-defined]
            (a.pk, f"Line {a.line.line_no}: {a.quantity} × {a.line.product.sku} from {a.location.code} · {a.location.name}")
            for a in Allocation.objects.filter(line__order=order, status=AllocationStatus.RESERVED)
            .select_related("line__product", "location").order_by("line__line_no", "id")
        ]


class AllocateNowForm(forms.Form):
    line = forms.TypedChoiceField(coerce=int, help_text="The line is routed now to wherever the stock is, ahead of the "
                                  "priority order the scarcity rules gave it.")

    def __init__(self, *args: Any, order: Order, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["line"].choices = [  # type: ignore[attr-defined]
            (ln.line_no, f"Line {ln.line_no}: {ln.quantity} × {ln.product.sku} — {ln.status_reason or 'backordered'}")
            for ln in order.lines.select_related("product").filter(status=LineStatus.BACKORDERED)
        ]


class PinForm(forms.Form):
    """Pin one open line to a location: ``location`` offers only the candidates a pin could use
    (the page shows every candidate, with why the others cannot)."""

    line = forms.TypedChoiceField(coerce=int, help_text="The line whose open units move (its backordered rest too).")
    location = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label="Move them to")
    reason = forms.CharField(max_length=200, required=False, help_text="Kept with the routing decision and on the timeline.")

    def __init__(self, *args: Any, lines: list[tuple[int, str]], candidates: list[PinCandidate], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["line"].choices = lines  # type: ignore[attr-defined]
        self.fields["location"].choices = [(c.location_id, c.code) for c in candidates if c.eligible]  # type: ignore[attr-defined]


def _open_lines(order: Order) -> list[tuple[int, str]]:
    return [(ln.line_no, f"Line {ln.line_no}: {ln.quantity} × {ln.product.sku} ({ln.get_status_display().lower()})")
            for ln in order.lines.select_related("product").filter(status__in=[LineStatus.ALLOCATED, LineStatus.BACKORDERED])]


def pin_view(model_admin: Any, request: HttpRequest, object_id: str) -> HttpResponse:
    order = get_object_or_404(Order.objects.select_related("channel", "pickup_location"), pk=object_id)
    lines = _open_lines(order)
    if not lines:
        return _done(request, order, f"Order {order.external_id} has no open line to pin.", messages.WARNING)
    asked = request.POST.get("line") or request.GET.get("line") or ""
    line_no = int(asked) if asked.isdigit() and int(asked) in {n for n, _t in lines} else lines[0][0]
    candidates = pin_candidates(order=order, line_no=line_no)
    form = PinForm(request.POST or None, lines=lines, candidates=candidates, initial={"line": line_no})
    if request.method == "POST" and form.is_valid():
        location = Location.objects.get(pk=form.cleaned_data["location"])
        try:
            result = order_line_pin(order=order, line_no=form.cleaned_data["line"], location=location,
                                    actor=_actor(request), reason=form.cleaned_data["reason"])
        except OmniError as exc:
            return _done(request, order, exc.message, messages.ERROR)
        moved = ", ".join(f"{q} from {code}" for code, q in result.moved_from)
        return _done(request, order, f"Line {result.line_no} pinned to {result.location}: {result.quantity} unit(s) reserved "
                     f"there{f' ({moved} released)' if moved else ''}.")
    context = {
        **model_admin.admin_site.each_context(request), "title": f"Pin a line of order {order.external_id}",
        "lead": "Force the line's open units (and its backordered rest) to a location of your choice. The units are "
                "reserved there through the same stock and capacity rules as routing; the units it held elsewhere "
                "go back to stock there.",
        "form": form, "order": order, "opts": model_admin.model._meta, "original": order, "candidates": candidates,
        "line_no": line_no, "lines": lines, "back": reverse("admin:orders_order_change", args=[order.pk]),
        "destination": "the pickup store" if order.pickup_location_id else "the customer",
    }
    return TemplateResponse(request, "admin/orders/order/pin.html", context)


class ResendEventForm(forms.Form):
    message = forms.TypedChoiceField(coerce=int, label="Event")

    def __init__(self, *args: Any, order: Order, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["message"].choices = [  # type: ignore[attr-defined]
            (m.pk, f"#{m.sequence} {m.event} ({m.get_status_display().lower()}, {m.created_at:%Y-%m-%d %H:%M})")
            for m in order_partner_events(order)
        ]


def order_partner_events(order: Order) -> list[SyncMessage]:
    return list(SyncMessage.objects.filter(channel_id=order.channel_id, kind=MessageKind.EVENT,
                                           payload__order=order.external_id).order_by("id"))


def _page(request: HttpRequest, model_admin: Any, order: Order, *, title: str, lead: str, form: forms.Form,
          submit: str, danger: bool = False) -> HttpResponse:
    context = {
        **model_admin.admin_site.each_context(request), "title": title, "lead": lead, "form": form, "submit": submit,
        "danger": danger, "order": order, "opts": model_admin.model._meta, "original": order,
        "back": reverse("admin:orders_order_change", args=[order.pk]),
    }
    return TemplateResponse(request, "admin/orders/order/action.html", context)


def _done(request: HttpRequest, order: Order, text: str, level: int = messages.SUCCESS) -> HttpResponse:
    messages.add_message(request, level, text)
    return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))


def cancel_order_view(model_admin: Any, request: HttpRequest, object_id: str) -> HttpResponse:
    order = get_object_or_404(Order, pk=object_id)
    form = _ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            order_cancel(order=order, actor=_actor(request), reason=form.cleaned_data["reason"])
        except OmniError as exc:
            return _done(request, order, exc.message, messages.ERROR)
        return _done(request, order, f"Order {order.external_id} cancelled; its reserved units are back in stock.")
    return _page(request, model_admin, order, title=f"Cancel order {order.external_id}", form=form, danger=True,
                 submit="Cancel the order", lead="Every line is cancelled and its reserved units go back to sellable stock.")


def cancel_lines_view(model_admin: Any, request: HttpRequest, object_id: str) -> HttpResponse:
    order = get_object_or_404(Order, pk=object_id)
    form = CancelLinesForm(request.POST or None, order=order)
    if request.method == "POST" and form.is_valid():
        nos = [int(n) for n in form.cleaned_data["lines"]]
        try:
            order_lines_cancel(order=order, line_nos=nos, actor=_actor(request), reason=form.cleaned_data["reason"])
        except OmniError as exc:
            return _done(request, order, exc.message, messages.ERROR)
        return _done(request, order, f"Cancelled line(s) {', '.join(map(str, nos))}; their reserved units are back in stock.")
    return _page(request, model_admin, order, title=f"Cancel lines of order {order.external_id}", form=form, danger=True,
                 submit="Cancel these lines", lead="The chosen lines are cancelled together (or none is) and their "
                 "reserved units go back to sellable stock. Shipped lines are returned, not cancelled.")


def reroute_view(model_admin: Any, request: HttpRequest, object_id: str) -> HttpResponse:
    order = get_object_or_404(Order, pk=object_id)
    form = RerouteForm(request.POST or None, order=order)
    if request.method == "POST" and form.is_valid():
        alloc = Allocation.objects.select_related("location", "line").get(pk=form.cleaned_data["allocation"])
        try:
            result = allocation_reject(allocation=alloc, actor=_actor(request),
                                       reason=f"re-routed in the admin: {form.cleaned_data['reason']}")
        except OmniError as exc:
            return _done(request, order, exc.message, messages.ERROR)
        if result.backordered:
            return _done(request, order, f"Line {result.line_no}: no other location has the stock; the line is "
                         f"backordered ({result.reason}).", messages.WARNING)
        where = ", ".join(f"{a.quantity} × {a.location.code}" for a in result.allocations) or "nothing to move"
        return _done(request, order, f"Line {result.line_no} moved from {alloc.location.code} to {where}.")
    return _page(request, model_admin, order, title=f"Re-route a line of order {order.external_id}", form=form,
                 submit="Re-route", lead="Choose the allocation to move away from its location.")


def allocate_now_view(model_admin: Any, request: HttpRequest, object_id: str) -> HttpResponse:
    order = get_object_or_404(Order, pk=object_id)
    form = AllocateNowForm(request.POST or None, order=order)
    if request.method == "POST" and form.is_valid():
        try:
            result = order_line_reroute(order=order, line_no=form.cleaned_data["line"], actor=_actor(request))
        except OmniError as exc:
            return _done(request, order, exc.message, messages.ERROR)
        if result.backordered:
            return _done(request, order, f"Line {result.line_no} stays backordered: {result.reason}", messages.WARNING)
        where = ", ".join(f"{a.quantity} × {a.location.code}" for a in result.allocations)
        return _done(request, order, f"Line {result.line_no} allocated now: {where}.")
    return _page(request, model_admin, order, title=f"Allocate a backordered line of order {order.external_id}", form=form,
                 submit="Allocate now", lead="Overrides the scarcity decision: the line takes stock now instead of "
                 "waiting for its turn.")


def resend_event_view(model_admin: Any, request: HttpRequest, object_id: str) -> HttpResponse:
    order = get_object_or_404(Order, pk=object_id)
    form = ResendEventForm(request.POST or None, order=order)
    if request.method == "POST" and form.is_valid():
        original = SyncMessage.objects.select_related("channel").get(pk=form.cleaned_data["message"])
        try:
            again = sync_event_publish(channel=original.channel, kind=original.event, payload=original.payload)
        except OmniError as exc:
            return _done(request, order, exc.message, messages.ERROR)
        return _done(request, order, f"Event {original.event} sent again to {original.channel.code} as #{again.sequence}.")
    return _page(request, model_admin, order, title=f"Resend a partner event of order {order.external_id}", form=form,
                 submit="Resend", lead="The event goes to the channel again with a new sequence number; a receiver "
                 "that already has it can tell.")


# --- readable timeline and routing tables -------------------------------------------------------

def _event_sentence(event: OrderEvent) -> str:
    d = event.data or {}
    line = f"line {d['line']}" if "line" in d else ""
    texts = {
        "created": "Order placed",
        "routed": "Routed",
        "line_routed": f"{line.capitalize()} routed{' for delivery (the customer chose it)' if d.get('mode') == 'delivery' else ''}: " + ", ".join(f"{p['quantity']} × {p['location']}" for p in d.get("plan", [])),
        "line_backordered": f"{line.capitalize()} backordered: {d.get('reason', '')}",
        "line_cancelled": f"{line.capitalize()} cancelled: {d.get('reason', '') or 'no reason given'}",
        "cancelled": f"Order cancelled: {d.get('reason', '') or 'no reason given'}",
        "allocation_rejected": f"{d.get('location', '')} could not fill {d.get('quantity', '')} of {line}: {d.get('reason', '')}",
        "allocation_cancelled": f"{d.get('quantity', '')} of {line} given up at {d.get('location', '')}: {d.get('reason', '')}",
        "allocation_fulfilled": f"{d.get('quantity', '')} of {line} shipped or collected at {d.get('location', '')}",
        "status_changed": f"Status {d.get('from', '')} → {d.get('to', '')}",
        "returned": f"Return at {d.get('location', '')}: " + ", ".join(
            f"{i['quantity']} of line {i['line']}{'' if i.get('resellable', True) else ' (damaged)'}" for i in d.get("items", [])),
        "hold_consumed": "Checkout hold used",
        "customer_choice_requested": "The customer was asked what to do with " + ", ".join(
            f"{ln.get('quantity', '')} of line {ln.get('line', '')}" for ln in d.get("lines", []))
            + f" (options: {', '.join(d.get('options', [])) or 'none'}; answer by {str(d.get('expires_at', ''))[:16].replace('T', ' ')})",
        "customer_chose": f"The customer chose {d.get('option', '')}",
        "line_pinned": f"{line.capitalize()} pinned to {d.get('location', '')} by hand ({d.get('quantity', '')} units)"
                       + (": " + d["reason"] if d.get("reason") else ""),
    }
    return texts.get(event.kind, event.kind.replace("_", " ").capitalize())


def timeline_html(order: Order) -> str:
    """The order's events and its fulfilment steps (registered by fulfillment), in time order."""
    rows = [(timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.text)
            for e in order_timeline(order, sentence=_event_sentence)]
    if not rows:
        return "—"
    return format_html('<ol class="omni-timeline">{}</ol>', format_html_join(
        "", '<li><time>{}</time> <span class="who">{}</span> <span class="what">{}</span></li>', rows))


def routing_tables_html(order: Order) -> str:
    parts = []
    for d in order.routing_decisions.order_by("id"):
        cands = format_html_join("", "<tr><td>{}</td><td class='num'>{}</td><td class='num'>{}</td><td class='num'>{}</td><td>{}</td></tr>", (
            (c["location"], c["total"], c.get("distance_km", "—"), c.get("coverable_units", "—"),
             ", ".join(f"{k} {v}" for k, v in c.get("scores", {}).items())) for c in d.candidates))
        plan = ", ".join(f"line {p['line']} → {p['location']} × {p['quantity']}" for p in d.plan) or "nothing"
        parts.append(format_html(
            "<div class='omni-decision'><p><strong>{} · profile {} v{}</strong> · {} candidate(s) · chosen: {}</p><p>{}</p>"
            "<div class='omni-table-wrap'><table class='omni-table'><thead><tr><th>Location</th><th class='num'>Score</th>"
            "<th class='num'>km</th><th class='num'>Units it can cover</th><th>Criteria</th></tr></thead><tbody>{}</tbody></table></div></div>",
            d.kind, d.profile_name, d.profile_version or "-", d.candidate_count, plan, d.reason, cands))
    return format_html_join("", "{}", ((p,) for p in parts)) if parts else "—"


def allocations_html(order: Order) -> str:
    rows = Allocation.objects.filter(line__order=order).select_related("line__product", "location", "ship_to_store").order_by("id")
    body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td class='num'>{}</td><td>{}</td><td>{}</td></tr>", (
        (a.line.line_no, a.line.product.sku, f"{a.location.code} · {a.location.name}", a.quantity, a.get_status_display(),
         a.reason or (f"ship to {a.ship_to_store.code}" if a.ship_to_store else "")) for a in rows))
    return format_html("<div class='omni-table-wrap omni-allocations'><table class='omni-table'><thead><tr><th>Line</th><th>SKU</th><th>From</th>"
                       "<th class='num'>Units</th><th>Status</th><th>Note</th></tr></thead><tbody>{}</tbody></table></div>", body)
