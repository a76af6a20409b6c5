"""Admin for inventory. On-hand is never edited as a number: stock changes go through the
"Stock operation" page (receive, adjust with reason, count, damage) and transfer actions,
which call inventory.services; the ledger shows who did what."""

from __future__ import annotations

from datetime import timezone as dt_timezone

from django.contrib import admin, messages
from django.db.models import F
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode

from omni.admin import ImportExportMixin, ModelAdmin, PlumbingAdmin, ReadOnlyAdmin, TabularInline
from omni.errors import OmniError

from . import services
from .api.idempotency import caller_label, with_caller_names
from .forms import StockOperationForm, StockShelfForm
from .resources import LocationResource, ProductResource, StockLevelResource, StockShelfResource
from .models import (
    Bucket,
    CycleCount,
    Location,
    OutboxEvent,
    Product,
    ProductBarcode,
    Reservation,
    StockLevel,
    StockMovement,
    StockRequestKey,
    Transfer,
    TransferStatus,
)


class StockRowColumns:
    """SKU and location columns for models that hang off a stock row."""

    @admin.display(description="SKU", ordering="stock_level__product__sku")
    def sku(self, obj) -> str:
        return obj.stock_level.product.sku

    @admin.display(description="location", ordering="stock_level__location__code")
    def location(self, obj) -> str:
        return obj.stock_level.location.code


@admin.register(Location)
class LocationAdmin(ImportExportMixin, ModelAdmin):
    resource_classes = [LocationResource]
    list_display = ["code", "name", "kind", "city", "country", "can_ship", "can_pickup", "daily_capacity", "is_active"]
    list_filter = ["kind", "is_active", "can_ship", "can_pickup", "country"]
    search_fields = ["code", "name", "city"]
    ordering = ["code"]
    fieldsets = [
        (None, {"fields": ["code", "name", "kind", "is_active"]}),
        ("Address", {"fields": ["address", "city", "postal_code", "country", "latitude", "longitude", "timezone"]}),
        ("Capabilities", {"fields": ["can_ship", "can_pickup", "daily_capacity", "handling_cost"]}),
    ]


class ProductBarcodeInline(TabularInline):
    model = ProductBarcode
    extra = 1


@admin.register(Product)
class ProductAdmin(ImportExportMixin, ModelAdmin):
    resource_classes = [ProductResource]
    list_display = ["sku", "name", "velocity_class", "price", "unit_cost", "lead_time_days", "season", "end_of_season", "is_active"]
    list_filter = ["velocity_class", "season", "is_active"]
    search_fields = ["sku", "name", "=barcode", "=barcodes__code"]
    inlines = [ProductBarcodeInline]
    ordering = ["sku"]


@admin.register(StockLevel)
class StockLevelAdmin(ImportExportMixin, ModelAdmin):
    resource_classes = [StockLevelResource, StockShelfResource]  # counts go through the count service, shelves through theirs
    # Our list template: the "Stock operation" button next to import/export (stock rows have no "add").
    import_export_change_list_template = "admin/inventory/stocklevel/change_list.html"
    list_display = ["product", "location", "shelf", "on_hand", "reserved", "available", "damaged", "quarantine", "updated_at"]
    list_select_related = ["product", "location"]
    list_filter = ["location__kind", "product__velocity_class", "location"]
    search_fields = ["product__sku", "product__name", "location__code", "location__name", "=shelf"]
    autocomplete_fields = ["product", "location"]
    # Only the shelf is edited here (through its service); stock moves through the stock operation.
    fields = ["product", "location", "shelf", "on_hand", "reserved", "damaged", "quarantine", "last_received_at", "updated_at"]
    readonly_fields = ["product", "location", "on_hand", "reserved", "damaged", "quarantine", "last_received_at", "updated_at"]
    form = StockShelfForm
    actions = ["stock_operation_action"]
    show_full_result_count = False
    list_per_page = 100

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # stock rows appear when stock is first received

    def get_queryset(self, request):
        # the change page's title and breadcrumb name the SKU and the location (StockLevel.__str__)
        return super().get_queryset(request).select_related("product", "location")

    def save_model(self, request, obj: StockLevel, form, change: bool) -> None:
        """Never ``save()`` the stock row (the figures on the form may be stale by now): the shelf only."""
        services.stock_shelf_set(product=obj.product, location=obj.location, shelf=form.cleaned_data.get("shelf", ""))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="available", ordering=F("on_hand") - F("reserved"))
    def available(self, obj: StockLevel) -> int:
        return obj.unreserved

    @admin.action(description="Record a stock operation (receive / adjust / count / damage) for the selected row")
    def stock_operation_action(self, request, queryset):
        level = queryset.first()
        url = reverse("admin:inventory_stocklevel_operate")
        return HttpResponseRedirect(f"{url}?{urlencode({'product': level.product_id, 'location': level.location_id})}")

    def get_urls(self):
        custom = [path("operate/", self.admin_site.admin_view(self.operate_view), name="inventory_stocklevel_operate")]
        return custom + super().get_urls()

    def operate_view(self, request: HttpRequest):
        if not self.has_view_permission(request) or not request.user.has_perm("inventory.change_stocklevel"):
            messages.error(request, "You may not change stock.")
            return HttpResponseRedirect(reverse("admin:index"))
        form = StockOperationForm(request.POST or None, initial=request.GET.dict() if request.method == "GET" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            op = services.StockOperation(
                kind=data["operation"], product=data["product"], location=data["location"], quantity=data["quantity"],
                note=data["reason"], reference=data["reference"], source="admin", actor=request.user,
            )
            try:
                result = services.stock_operation_apply(op=op)
            except OmniError as exc:
                form.add_error(None, f"{exc.message} ({exc.code})")
            else:
                messages.success(request, _operation_message(result))
                level = StockLevel.objects.get(product=data["product"], location=data["location"])
                return HttpResponseRedirect(reverse("admin:inventory_stocklevel_change", args=[level.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Stock operation",
            "form": form,
            "opts": self.model._meta,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/inventory/stock_operation.html", context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = extra_context or {}
        if object_id:
            level = StockLevel.objects.select_related("product", "location").filter(pk=object_id).first()
            if level is not None:
                # Name the row by SKU and location (the model's __str__ shows only ids).
                extra_context["subtitle"] = f"{level.product} at {level.location}"
                extra_context["operate_url"] = (
                    reverse("admin:inventory_stocklevel_operate") + "?" + urlencode({"product": level.product_id, "location": level.location_id})
                )
                extra_context["ledger_url"] = reverse("admin:inventory_stockmovement_changelist") + f"?stock_level__id__exact={level.pk}"
        return super().changeform_view(request, object_id, form_url, extra_context)


def _operation_message(result: services.StockOperationResult) -> str:
    """What the admin's stock operation did, in a sentence."""
    level = result.stock_level
    sku, loc = level.product.sku, level.location.code
    if result.cycle_count is not None:
        c = result.cycle_count
        return f"Counted {c.counted} × {sku} at {loc}: system had {c.system_quantity}, variance {c.variance:+d}."
    moved = result.movements[0]
    if result.kind == services.StockOperationKind.DAMAGE:
        return f"Marked {-moved.quantity} × {sku} at {loc} damaged: {level.damaged} damaged."
    if result.kind == services.StockOperationKind.ADJUSTMENT:
        return f"Adjusted {sku} at {loc} by {moved.quantity:+d} ({moved.note}): {level.on_hand} on hand."
    if result.kind == services.StockOperationKind.RECEIPT:
        return f"Received {moved.quantity} × {sku} at {loc}: {level.on_hand} on hand."
    return f"{result.kind} {moved.quantity:+d} × {sku} at {loc}: {level.on_hand} on hand."


@admin.register(StockMovement)
class StockMovementAdmin(StockRowColumns, ReadOnlyAdmin):
    # Compact columns so a row fits a laptop screen between the admin's sidebar and the filters:
    # with 13 raw columns the actor was the 10th and scrolled out of sight.
    list_display = ["when", "sku", "location", "movement", "quantity", "balance_after", "who", "references", "note"]
    list_display_links = ["when"]
    list_select_related = ["stock_level__product", "stock_level__location", "actor"]
    list_filter = ["reason", "bucket", "source", "stock_level__location__kind", "created_at"]
    search_fields = ["stock_level__product__sku", "stock_level__location__code", "external_id", "reference", "actor__username"]
    show_full_result_count = False
    list_per_page = 100

    @admin.display(description="when (UTC)", ordering="created_at")
    def when(self, obj: StockMovement) -> str:
        return timezone.localtime(obj.created_at, dt_timezone.utc).strftime("%Y-%m-%d %H:%M")

    @admin.display(description="movement", ordering="reason")
    def movement(self, obj: StockMovement) -> str:
        """The reason, and the bucket when it is not the sellable on-hand: "Damage → damaged"."""
        label = obj.get_reason_display()
        return label if obj.bucket == Bucket.ON_HAND else f"{label} → {obj.get_bucket_display().lower()}"

    @admin.display(description="by", ordering="actor__username")
    def who(self, obj: StockMovement) -> str:
        """The person, and the system they used: "mira via admin"; a system alone: "pos"."""
        if obj.actor is None:
            return obj.source or "—"
        return f"{obj.actor.get_username()} via {obj.source}" if obj.source else obj.actor.get_username()

    @admin.display(description="reference / external id")
    def references(self, obj: StockMovement) -> str:
        return " / ".join(v for v in (obj.reference, obj.external_id) if v) or "—"


@admin.register(Reservation)
class ReservationAdmin(StockRowColumns, ReadOnlyAdmin):
    list_display = ["id", "reference", "sku", "location", "quantity", "status", "expires_at", "created_at", "closed_at"]
    list_select_related = ["stock_level__product", "stock_level__location"]
    list_filter = ["status"]
    search_fields = ["reference", "stock_level__product__sku", "stock_level__location__code"]
    show_full_result_count = False


@admin.register(Transfer)
class TransferAdmin(ModelAdmin):
    """Shipping a transfer (add) takes the units off the source through inventory.services;
    the "receive" action books them in at the destination."""

    list_display = ["id", "product", "from_location", "to_location", "quantity", "received_quantity", "status", "shipped_at",
                    "received_at", "created_by"]
    list_select_related = ["product", "from_location", "to_location", "created_by"]
    list_filter = ["status", "from_location__kind", "to_location__kind"]
    search_fields = ["product__sku", "from_location__code", "to_location__code", "reference"]
    autocomplete_fields = ["product", "from_location", "to_location"]
    actions = ["receive_in_full"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["product", "from_location", "to_location", "quantity", "reference"]
        return ["product", "from_location", "to_location", "quantity", "received_quantity", "status", "reference",
                "shipped_at", "received_at", "created_by"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: Transfer, form, change: bool) -> None:
        if change:
            return
        transfer = services.transfer_ship(
            product=obj.product, from_location=obj.from_location, to_location=obj.to_location, quantity=obj.quantity,
            reference=obj.reference, actor=request.user, source="admin",
        ).transfer
        obj.pk = transfer.pk
        obj.shipped_at = transfer.shipped_at

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except OmniError as exc:
            messages.error(request, f"{exc.message} ({exc.code})")
            return HttpResponseRedirect(request.get_full_path())

    @admin.action(description="Receive the selected transfers in full at their destination")
    def receive_in_full(self, request, queryset):
        done = 0
        for transfer in queryset.filter(status=TransferStatus.IN_TRANSIT).order_by("pk"):
            try:
                services.transfer_receive(transfer=transfer, actor=request.user, source="admin")
                done += 1
            except OmniError as exc:
                messages.error(request, f"Transfer #{transfer.pk}: {exc.message}")
        messages.success(request, f"Received {done} transfer(s).")


@admin.register(CycleCount)
class CycleCountAdmin(StockRowColumns, ReadOnlyAdmin):
    """Counts are recorded on the Stock operation page (operation "count") or through the API."""

    list_display = ["id", "counted_at", "sku", "location", "counted", "system_quantity", "variance", "actor", "source"]
    list_select_related = ["stock_level__product", "stock_level__location", "actor"]
    list_filter = ["source", "stock_level__location__kind"]
    search_fields = ["stock_level__product__sku", "stock_level__location__code", "external_id"]
    date_hierarchy = "counted_at"


@admin.register(OutboxEvent)
class OutboxEventAdmin(PlumbingAdmin):
    list_display = ["id", "product", "location", "reason", "created_at", "processed_at"]
    list_select_related = ["product", "location"]
    list_filter = ["reason", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["product__sku", "location__code"]
    show_full_result_count = False


class CallerFilter(admin.SimpleListFilter):
    """The callers that have keys, by name (not by their stored "token:3")."""

    title = "caller"
    parameter_name = "caller"

    def lookups(self, request, model_admin):
        rows = (with_caller_names(StockRequestKey.objects.order_by())
                .values_list("caller", "token_name", "user_name").distinct()[:200])
        return sorted(((caller, caller_label(caller, token, user)) for caller, token, user in rows),
                      key=lambda item: item[1].lower())

    def queryset(self, request, queryset):
        return queryset.filter(caller=self.value()) if self.value() else queryset


@admin.register(StockRequestKey)
class StockRequestKeyAdmin(PlumbingAdmin):
    """The stock API's Idempotency-Keys per caller (orders' keys per channel are beside orders):
    operations looks one up by the key a partner quotes ("did our retry run twice?"), or lists a
    caller's keys of the last days; kept OMNI_IDEMPOTENCY_KEEP_DAYS, then forgotten nightly."""

    list_display = ["caller_name", "key", "response_status", "created_at"]
    list_filter = [CallerFilter, "created_at"]
    search_fields = ["key"]
    readonly_fields = ["caller_name", "key", "request_hash", "response_status", "response_body", "created_at"]
    exclude = ["caller"]

    def get_queryset(self, request):
        return with_caller_names(super().get_queryset(request))

    @admin.display(description="caller", ordering="caller")
    def caller_name(self, obj: StockRequestKey) -> str:
        return caller_label(obj.caller, getattr(obj, "token_name", None), getattr(obj, "user_name", None))
    empty_message = ("No stock API idempotency keys: one is kept for each Idempotency-Key a caller sends with a "
                     "movement batch, a snapshot or a CSV import, so that a retry gets the first answer again.")


from . import admin_imports  # noqa: E402,F401  (stock-file import pages, ImportJob admin)
from .alerts import admin as alerts_admin  # noqa: E402,F401  (alerts)
from .snapshots import admin as snapshots_admin  # noqa: E402,F401  (inbound stock snapshots)
