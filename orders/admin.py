"""Admin: orders with their lines, allocations, events and routing decisions; routing profiles
are versioned (saving an edit creates a new version through the service).

Orders, their lines and allocations, holds and routing decisions are never deleted nor edited
here: an order is cancelled and a hold released through the services (admin actions), which give
their reserved units back; a deleted order would leave its reservations holding stock forever."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from omni.admin import ModelAdmin, PlumbingAdmin, ReadOnlyAdmin, TabularInline
from omni.errors import OmniError

from .models import (
    Allocation,
    Hold,
    HoldLine,
    HoldStatus,
    IdempotencyRecord,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PostalCentroid,
    RoutingDecision,
    RoutingProfile,
)
from .services import hold_release, order_cancel, routing_profile_save


class OrderLineInline(TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = ["line_no", "product", "quantity", "unit_price", "status", "status_reason", "quantity_returned"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OrderEventInline(TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "actor", "data"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "channel", "status", "delivery_mode", "customer_tier", "created_at"]
    list_filter = ["status", "channel", "delivery_mode"]
    search_fields = ["external_id", "customer_ref"]
    inlines = [OrderLineInline, OrderEventInline]
    readonly_fields = ["channel", "external_id", "status", "hold", "routing_profile", "created_at", "allocations_table",
                       "routing_decisions"]
    fields = ["channel", "external_id", "status", "customer_ref", "customer_tier", "delivery_mode", "pickup_location",
              "ship_name", "address", "city", "postal_code", "country", "latitude", "longitude", "hold", "routing_profile",
              "created_at", "allocations_table", "routing_decisions"]

    actions = ["cancel_orders"]

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("orders.change_order")

    @admin.action(description="Cancel the selected orders (their reserved units go back to stock)", permissions=["cancel"])
    def cancel_orders(self, request, queryset):
        done = 0
        for order in queryset.exclude(status=OrderStatus.CANCELLED).order_by("pk"):
            try:
                order_cancel(order=order, actor=request.user.get_username(), reason="cancelled in the admin")
                done += 1
            except OmniError as exc:
                messages.error(request, f"Order {order.external_id}: {exc.message}")
        messages.success(request, f"Cancelled {done} order(s).")

    @admin.display(description="Allocations")
    def allocations_table(self, obj: Order) -> str:
        rows = Allocation.objects.filter(line__order=obj).select_related("line", "location", "ship_to_store").order_by("id")
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (a.line.line_no, a.location.code, a.quantity, a.status, a.reservation_id or "", a.ship_to_store.code if a.ship_to_store else "")
            for a in rows))
        return format_html("<table><tr><th>Line</th><th>Location</th><th>Qty</th><th>Status</th><th>Reservation</th>"
                           "<th>Ship to store</th></tr>{}</table>", body)

    @admin.display(description="Routing decisions")
    def routing_decisions(self, obj: Order) -> str:
        parts = []
        for d in obj.routing_decisions.order_by("id"):
            cands = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
                (c["location"], c["total"], c.get("distance_km"), c.get("coverable_units"),
                 ", ".join(f"{k} {v}" for k, v in c["scores"].items())) for c in d.candidates))
            parts.append(format_html(
                "<div><strong>{} · profile {} v{} · {} candidates</strong><p>{}</p><p>Plan: {}</p>"
                "<table><tr><th>Location</th><th>Score</th><th>km</th><th>Units</th><th>Criteria</th></tr>{}</table></div>",
                d.kind, d.profile_name, d.profile_version or "-", d.candidate_count, d.reason,
                ", ".join(f"line {p['line']} → {p['location']} × {p['quantity']}" for p in d.plan), cands))
        return format_html_join("", "{}", ((p,) for p in parts)) if parts else "—"


@admin.register(RoutingProfile)
class RoutingProfileAdmin(ModelAdmin):
    list_display = ["name", "version", "channel", "max_shipments", "is_active", "created_at"]
    list_filter = ["is_active", "channel"]
    fields = ["name", "channel", "criteria", "max_shipments", "allow_ship_to_store", "version", "is_active"]
    readonly_fields = ["version", "is_active"]

    def save_model(self, request, obj: RoutingProfile, form, change: bool) -> None:
        """Never edit a version in place: the service writes version N+1 and retires the older ones."""
        new = routing_profile_save(
            name=obj.name, channel=obj.channel, criteria=obj.criteria, max_shipments=obj.max_shipments,
            allow_ship_to_store=obj.allow_ship_to_store, actor=request.user,
        )
        obj.pk, obj.version, obj.is_active = new.pk, new.version, new.is_active
        if change:
            messages.info(request, f"Saved as {new.name} v{new.version}; older versions are kept for the record.")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class HoldLineInline(TabularInline):
    model = HoldLine
    extra = 0
    readonly_fields = ["product", "location", "quantity", "reservation_id"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["id", "channel", "status", "expires_at", "created_at"]
    list_filter = ["status", "channel"]
    readonly_fields = ["channel", "status", "expires_at", "created_at", "closed_at"]
    inlines = [HoldLineInline]
    actions = ["release_holds"]

    def has_release_permission(self, request) -> bool:
        return request.user.has_perm("orders.change_hold")

    @admin.action(description="Release the selected holds (their units go back to stock)", permissions=["release"])
    def release_holds(self, request, queryset):
        done = 0
        for hold in queryset.filter(status=HoldStatus.ACTIVE).order_by("pk"):
            hold_release(hold=hold)
            done += 1
        messages.success(request, f"Released {done} hold(s).")


@admin.register(PostalCentroid)
class PostalCentroidAdmin(PlumbingAdmin):
    list_display = ["country", "postal_code", "latitude", "longitude"]
    search_fields = ["postal_code"]


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(PlumbingAdmin):
    list_display = ["order", "kind", "profile_name", "profile_version", "candidate_count", "created_at"]
    readonly_fields = ["order", "kind", "profile_name", "profile_version", "candidates", "candidate_count", "plan", "reason"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(PlumbingAdmin):
    list_display = ["channel", "key", "response_status", "created_at"]
    readonly_fields = ["channel", "key", "request_hash", "response_status", "response_body"]
