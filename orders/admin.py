"""Admin: orders with their lines, allocations, events and routing decisions; routing profiles
are versioned (saving an edit creates a new version through the service).

Orders, their lines and allocations, holds and routing decisions are never deleted nor edited
here: an order is cancelled and a hold released through the services (admin actions), which give
their reserved units back; a deleted order would leave its reservations holding stock forever."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from unfold.decorators import action as unfold_action

from omni.admin import ModelAdmin, PlumbingAdmin, ReadOnlyAdmin, TabularInline
from omni.errors import OmniError

from . import admin_actions
from .models import (
    Allocation,
    DeliveryMode,
    Hold,
    HoldLine,
    HoldStatus,
    IdempotencyRecord,
    LostSale,
    Order,
    OrderLine,
    OrderReturn,
    OrderStatus,
    PostalCentroid,
    RoutingDecision,
    RoutingProfile,
)
from .selectors import lost_sales_with_bought_later
from .services import hold_release, order_cancel, routing_profile_save


class OrderLineInline(TabularInline):
    """One row per line, in columns (no ``str()`` title row above each)."""

    model = OrderLine
    extra = 0
    can_delete = False
    fields = readonly_fields = ("line_no", "sku", "product_name", "quantity", "unit_price", "status", "status_reason",
                                "quantity_returned", "fulfilment")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product", "order")

    @admin.display(description="SKU")
    def sku(self, obj: OrderLine) -> str:
        return obj.product.sku

    @admin.display(description="Product")
    def product_name(self, obj: OrderLine) -> str:
        return obj.product.name

    @admin.display(description="Fulfilment")
    def fulfilment(self, obj: OrderLine) -> str:
        if obj.delivered_on_request:
            return f"Delivery (the customer's choice, {timezone.localtime(obj.delivery_chosen_at):%Y-%m-%d %H:%M})"
        return "Pickup" if obj.order.delivery_mode == DeliveryMode.BOPIS else "Delivery"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OrderReturnInline(TabularInline):
    model = OrderReturn
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "location", "external_id", "reason", "refund_amount", "actor")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """View-only order page (no Save that would be refused) with the merchandiser's actions at the top,
    each a form page that calls the service the API calls (``orders/admin_actions.py``)."""

    list_display = ["external_id", "channel", "status", "delivery_mode", "customer_tier", "created_at"]
    list_filter = ["status", "channel", "delivery_mode"]
    list_select_related = ["channel"]
    search_fields = ["external_id", "customer_ref"]
    inlines = [OrderLineInline, OrderReturnInline]
    readonly_fields = ["channel", "external_id", "status", "hold", "routing_profile", "created_at", "allocations_table",
                       "timeline", "routing_decisions"]
    fieldsets = [
        (None, {"fields": ["channel", "external_id", "status", "created_at", "customer_ref", "customer_tier", "delivery_mode",
                           "pickup_location"]}),
        ("Delivery", {"fields": ["ship_name", "address", "city", "postal_code", "country", "latitude", "longitude"],
                      "classes": ["collapse"]}),
        ("Where it is fulfilled from", {"fields": ["allocations_table"]}),
        ("Timeline", {"fields": ["timeline"]}),
        ("Routing decisions", {"fields": ["routing_decisions", "routing_profile", "hold"]}),
    ]
    actions = ["cancel_orders"]
    actions_detail = ["action_cancel", "action_cancel_lines", "action_reroute", "action_pin", "action_allocate_now", "action_resend_event"]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """The page is titled by the order's number and channel, in the page itself and in the browser's
        tab: the header's breadcrumb gives way to the order's actions at 1280 px and is cut short on a phone."""
        extra_context = extra_context or {}
        found = Order.objects.filter(pk=object_id).values_list("external_id", "channel__name").first() if object_id else None
        if found is not None:
            extra_context["subtitle"] = "Order {} · {}".format(*found)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_inlines(self, request, obj):
        """The returns table only where something came back (an empty table with headers says nothing)."""
        if obj is not None and not obj.returns.exists():
            return [OrderLineInline]
        return self.inlines

    def has_cancel_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("orders.change_order")

    def has_resend_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("orders.change_order") or request.user.has_perm("allocation.change_syncmessage")

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

    @unfold_action(description="Cancel order", url_path="cancel", permissions=["cancel"], icon="cancel")
    def action_cancel(self, request, object_id):
        return admin_actions.cancel_order_view(self, request, object_id)

    @unfold_action(description="Cancel lines", url_path="cancel-lines", permissions=["cancel"], icon="remove_shopping_cart")
    def action_cancel_lines(self, request, object_id):
        return admin_actions.cancel_lines_view(self, request, object_id)

    @unfold_action(description="Re-route", url_path="reroute", permissions=["cancel"], icon="alt_route")
    def action_reroute(self, request, object_id):
        return admin_actions.reroute_view(self, request, object_id)

    @unfold_action(description="Pin", url_path="pin", permissions=["cancel"], icon="push_pin")
    def action_pin(self, request, object_id):
        return admin_actions.pin_view(self, request, object_id)

    @unfold_action(description="Allocate now", url_path="allocate-now", permissions=["cancel"], icon="bolt")
    def action_allocate_now(self, request, object_id):
        return admin_actions.allocate_now_view(self, request, object_id)

    @unfold_action(description="Resend event", url_path="resend-event", permissions=["resend"], icon="send")
    def action_resend_event(self, request, object_id):
        return admin_actions.resend_event_view(self, request, object_id)

    @admin.display(description="Allocations")
    def allocations_table(self, obj: Order) -> str:
        return admin_actions.allocations_html(obj)

    @admin.display(description="What happened")
    def timeline(self, obj: Order) -> str:
        return admin_actions.timeline_html(obj)

    @admin.display(description="Routing decisions")
    def routing_decisions(self, obj: Order) -> str:
        return admin_actions.routing_tables_html(obj)


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
    empty_message = ("No checkout holds: a hold keeps units for a customer's checkout for a few minutes, "
                     "from the web shop's API, and ends when the order arrives or the time runs out.")
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
    """The order API's Idempotency-Keys per channel (the stock API's are beside stock): operations
    looks one up by the key a partner quotes ("did our retry create a second order?")."""

    list_display = ["channel", "key", "response_status", "created_at"]
    list_filter = ["channel", "created_at"]
    list_select_related = ["channel"]
    search_fields = ["key"]
    readonly_fields = ["channel", "key", "request_hash", "response_status", "response_body", "created_at"]
    empty_message = ("No order API idempotency keys: one is kept for each Idempotency-Key a channel sends with an "
                     "order, a cancellation, a return, a checkout hold or a store's work step, so that a retry gets the "
                     "first answer again.")


@admin.register(LostSale)
class LostSaleAdmin(ReadOnlyAdmin):
    """Demand refused (intake without ATP, quotas, lost scarce SKUs, checkout holds refused for want
    of stock — order ref ``hold:<Idempotency-Key>`` unless the shop named the cart's order — units
    given up after a rejection): what the dashboard's lost-sales figure sums."""

    list_display = ["created_at", "channel", "product", "quantity", "reason", "pool_could_cover", "pool_free", "order_ref",
                    "bought_later"]
    list_filter = ["reason", "pool_could_cover", "channel"]

    def get_queryset(self, request):
        return lost_sales_with_bought_later(super().get_queryset(request))

    @admin.display(description="bought later", ordering="bought_later")
    def bought_later(self, obj: LostSale) -> str | None:
        """Ordered under the same number once stock came back: not counted lost on the dashboard.
        Only a "yes" is shown (a red cross on every other row read as an error)."""
        return "Yes, not counted lost" if getattr(obj, "bought_later", False) else None
    list_select_related = ["channel", "product"]
    search_fields = ["order_ref", "product__sku"]
    date_hierarchy = "created_at"
