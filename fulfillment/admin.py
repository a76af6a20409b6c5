"""Admin of fulfillment's pickup follow-up: customer notifications (read-only, *resend* for
failed ones), each store's pickup policy (reminder and expiry), and put-back tasks."""

from __future__ import annotations

from django.contrib import admin

from omni.admin import ModelAdmin, ReadOnlyAdmin, TabularInline, admin_apply_each

from .models import ChannelChoicePolicy, CustomerChoice, LocationSLA, Notification, NotificationStatus, PickupPolicy, PutBackLine, PutBackStatus, PutBackTask
from .notifications.services import notification_send
from .services.pickup import put_back_done


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "kind", "channel", "recipient", "status", "error", "order", "work")
    list_filter = ("status", "kind", "channel")
    search_fields = ("recipient", "order__external_id", "work__pickup_code")
    list_select_related = ("order", "work")
    actions = ("resend",)

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
    list_display = ("id", "location", "work", "status", "created_at", "done_at", "done_by")
    list_filter = ("status",)
    search_fields = ("location__code", "work__order__external_id")
    list_select_related = ("location", "work", "done_by")
    inlines = [PutBackLineInline]
    actions = ("mark_done",)

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
