"""Admin of fulfillment's pickup follow-up: customer notifications (read-only, *resend* for
failed ones), each store's pickup policy (reminder and expiry), and put-back tasks."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from omni.admin import ModelAdmin, ReadOnlyAdmin, TabularInline, admin_apply_each

from .models import ChannelChoicePolicy, CustomerChoice, LocationSLA, Notification, NotificationStatus, PickupPolicy, PutBackLine, PutBackStatus, PutBackTask
from .notifications.services import notification_send
from .services.pickup import put_back_done


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """One line per message: when, what, to whom, how it went (the reason under a failure), for which
    order at which store."""

    list_display = ("sent", "kind", "channel", "recipient", "outcome", "order_number", "store")
    list_filter = ("status", "kind", "channel")
    search_fields = ("recipient", "order__external_id", "work__pickup_code")
    list_select_related = ("order", "work__location", "work__pickup_location")
    list_per_page = 25  # a phone shows each row as a card
    actions = ("resend",)

    @admin.display(description="Created", ordering="created_at")
    def sent(self, obj: Notification) -> str:
        return format_html('<span style="white-space:nowrap">{}</span>', timezone.localtime(obj.created_at).strftime("%d %b %H:%M"))

    @admin.display(description="Outcome", ordering="status")
    def outcome(self, obj: Notification) -> str:
        if not obj.error:
            return obj.get_status_display()
        return format_html('{}<br><small class="text-base-500">{}</small>', obj.get_status_display(), Truncator(obj.error).chars(90))

    @admin.display(description="Order", ordering="order__external_id")
    def order_number(self, obj: Notification) -> str:
        return obj.order.external_id

    @admin.display(description="Store")
    def store(self, obj: Notification) -> str:
        location = obj.work.pickup_location or obj.work.location
        return location.code

    @admin.action(description="Send failed messages again")
    def resend(self, request, queryset):
        def send(note: Notification) -> None:
            result = notification_send(notification_id=note.pk)
            if result is not None and result.status == NotificationStatus.FAILED:
                self.message_user(request, f"Notification {note.pk}: {result.error}", level="WARNING")

        admin_apply_each(self, request, queryset.filter(status=NotificationStatus.FAILED).order_by("pk"), send,
                         label="Notification", verb="sent again")


@admin.register(PickupPolicy)
class PickupPolicyAdmin(ModelAdmin):
    list_display = ("location", "reminder_after_hours", "expire_after_days")
    autocomplete_fields = ("location",)
    search_fields = ("location__code", "location__name")
    list_select_related = ("location",)


@admin.register(LocationSLA)
class LocationSLAAdmin(ModelAdmin):
    """Each location's preparation promise and opening hours (its time zone is the location's)."""

    list_display = ("location", "bopis_hours", "ship_hours", "ship_to_store_hours", "opens_at", "closes_at", "open_days")
    autocomplete_fields = ("location",)
    search_fields = ("location__code", "location__name")
    list_select_related = ("location",)


class PutBackLineInline(TabularInline):
    model = PutBackLine
    extra = 0
    can_delete = False
    fields = readonly_fields = ("product", "quantity")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PutBackTask)
class PutBackTaskAdmin(ReadOnlyAdmin):
    empty_message = ("No put-back tasks: one appears when a ready pickup is not collected in time and its goods "
                     "must go back on the shelf.")
    list_display = ("id", "location", "order_number", "items", "status", "created_at", "done_at", "done_by")
    list_filter = ("status",)
    search_fields = ("location__code", "work__order__external_id")
    list_select_related = ("location", "work", "done_by")
    inlines = [PutBackLineInline]
    actions = ("mark_done",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("work__order").prefetch_related("lines__product")

    @admin.display(description="Order", ordering="work__order__external_id")
    def order_number(self, obj: PutBackTask) -> str:
        return obj.work.order.external_id

    @admin.display(description="To put back")
    def items(self, obj: PutBackTask) -> str:
        return ", ".join(f"{line.quantity} × {line.product.sku}" for line in obj.lines.all())

    @admin.action(description="Mark as put back on the shelf")
    def mark_done(self, request, queryset):
        admin_apply_each(self, request, queryset.filter(status=PutBackStatus.OPEN).order_by("pk"),
                         lambda task: put_back_done(task=task, actor=request.user), label="Put-back task", verb="done")


@admin.register(CustomerChoice)
class CustomerChoiceAdmin(ReadOnlyAdmin):
    """The questions put to customers about units a pickup store could not supply (answered through
    the partner API, or expired by the beat job into the channel's shortage rule)."""

    list_display = ("id", "created_at", "order", "location", "status", "chosen", "expires_at", "answered_by")
    list_filter = ("status",)
    search_fields = ("order__external_id",)


@admin.register(ChannelChoicePolicy)
class ChannelChoicePolicyAdmin(ModelAdmin):
    list_display = ("channel", "answer_within_hours")
