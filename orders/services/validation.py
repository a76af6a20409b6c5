"""Order input and its checks that need no stock: lines, SKUs, quantities, prices, tiers,
delivery mode, pickup store, and the delivery destination (coordinates, or a known postal code).
Order intake and checkout holds both start here."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import connection

from allocation.models import Channel
from inventory.models import Location, Product
from omni.errors import ValidationFailed
from omni.limits import MAX_QUANTITY
from omni.prepared import fetch_prepared, read_ahead_prepared
from orders.models import CustomerTier, DeliveryMode, PostalCentroid
from orders.routing.engine import ProfileSpec
from orders.selectors import routing_profile_for


@dataclass(frozen=True)
class LineInput:
    sku: Any
    quantity: Any
    unit_price: Any = "0"


@dataclass(frozen=True)
class OrderInput:
    external_id: str
    lines: list[LineInput]
    customer_ref: str = ""
    customer_tier: str = CustomerTier.STANDARD
    delivery_mode: str = DeliveryMode.STANDARD
    pickup_location: str = ""
    ship_to_store: bool = False
    ship_name: str = ""
    customer_email: str = ""
    customer_phone: str = ""
    customer_language: str = ""
    address: str = ""
    city: str = ""
    postal_code: str = ""
    country: str = ""
    latitude: Any = None
    longitude: Any = None
    hold_id: str = ""


@dataclass
class CheckedOrder:
    products: list[Product]
    quantities: list[int]
    prices: list[Decimal]
    destination: tuple[float, float] | None
    pickup: Location | None
    profile: ProfileSpec
    extra: dict[str, Any] = field(default_factory=dict)


def _bad(message: str, code: str, field_name: str, detail: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, details={field_name: [detail]})


def _coordinate(value: Any, name: str, limit: float) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _bad(f"{name} must be a number.", "invalid_coordinates", name, "Must be a number.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _bad(f"{name} must be a number, got {value!r}.", "invalid_coordinates", name, "Must be a number.") from None
    if not -limit <= number <= limit:
        raise _bad(f"{name} must be between -{limit:g} and {limit:g}, got {number}.", "invalid_coordinates", name,
                   f"Between -{limit:g} and {limit:g}.")
    return number


def _destination(data: OrderInput) -> tuple[float, float] | None:
    lat, lon = _coordinate(data.latitude, "latitude", 90), _coordinate(data.longitude, "longitude", 180)
    if (lat is None) != (lon is None):
        raise _bad("Give both latitude and longitude, or neither.", "invalid_coordinates",
                   "longitude" if lon is None else "latitude", "Missing.")
    if lat is not None and lon is not None:
        return lat, lon
    if data.postal_code:
        centroid = PostalCentroid.objects.filter(
            country=(data.country or "").upper(), postal_code=data.postal_code.strip()
        ).values_list("latitude", "longitude").first()
        if centroid:
            return centroid
    return None


_PRODUCT_FIELDS = [f.attname for f in Product._meta.concrete_fields]
_PRODUCTS_BY_SKU = (f"SELECT {', '.join(str(f.column) for f in Product._meta.concrete_fields)} FROM {Product._meta.db_table} "
                    "WHERE sku = ANY(%s::varchar[])")


def _products_by_sku(wanted: list[str]) -> dict[str, Product]:
    """The products of these SKUs (every order reads them). On PostgreSQL a prepared statement
    (one text whatever the number of SKUs: planned once per connection, not per order), elsewhere
    ``raw``: either way the same instances at half the CPU of the ORM's query."""
    if connection.vendor != "postgresql":
        return {p.sku: p for p in Product.objects.raw(
            f"SELECT * FROM {Product._meta.db_table} WHERE sku IN ({', '.join(['%s'] * len(wanted))})", wanted)}
    rows = fetch_prepared(_PRODUCTS_BY_SKU, [wanted], prefix="omni_sku_")  # read ahead, or read now
    products = (Product.from_db(connection.alias, _PRODUCT_FIELDS, row) for row in rows)
    return {p.sku: p for p in products}


def order_products_read_ahead(lines: Any) -> None:
    """Send the look-up of the products that an order's lines (as the partner sent them, not yet
    parsed) name in front of the connection's next statement — the idempotency key's claim —
    instead of in a round trip of its own once the body is parsed (``omni.prepared``). The claim
    cannot change a product; when the parsed lines name other SKUs, or anything else is sent
    first, validation reads them itself."""
    if not isinstance(lines, list) or not lines or len(lines) > 200:
        return
    skus = []
    for line in lines:
        sku = line.get("sku") if isinstance(line, dict) else None
        if not isinstance(sku, str) or not sku.strip():
            return
        skus.append(sku.strip())  # as the serializer leaves it
    read_ahead_prepared(_PRODUCTS_BY_SKU, [sorted(set(skus))], prefix="omni_sku_")


# The choices' values, once: ``TextChoices.values`` builds its list (and the labels') on every call.
_TIERS = tuple(CustomerTier.values)
_MODES = tuple(DeliveryMode.values)


def order_validate(*, channel: Channel, data: OrderInput, require_destination: bool = True) -> CheckedOrder:
    """Every check that needs no stock; raises a clear error naming the field."""
    if not channel.is_active:
        raise ValidationFailed(f"Channel {channel.code} is inactive.", code="inactive_channel", details={"channel": ["Inactive."]})
    external_id = (data.external_id or "").strip() if isinstance(data.external_id, str) else ""
    if not external_id or len(external_id) > 128:
        raise _bad("An order needs an external_id (1–128 characters).", "invalid", "external_id", "Required, at most 128 characters.")
    if data.customer_tier not in _TIERS:
        raise _bad(f"customer_tier must be one of {', '.join(CustomerTier.values)}.", "invalid", "customer_tier",
                   f"Unknown tier {data.customer_tier!r}.")
    if data.delivery_mode not in _MODES:
        raise _bad(f"delivery_mode must be one of {', '.join(DeliveryMode.values)}.", "invalid", "delivery_mode",
                   f"Unknown mode {data.delivery_mode!r}.")
    email = (data.customer_email or "").strip()
    if email:
        try:
            validate_email(email)
        except DjangoValidationError:
            raise _bad(f"customer_email {email!r} is not an email address.", "invalid", "customer_email",
                       "Not an email address.") from None
    if not data.lines:
        raise _bad("An order needs at least one line.", "invalid", "lines", "At least one line.")
    if len(data.lines) > 200:
        raise _bad("An order may have at most 200 lines.", "invalid", "lines", "At most 200 lines.")
    skus = [ln.sku for ln in data.lines]
    for i, sku in enumerate(skus):
        if not isinstance(sku, str) or not sku.strip():
            raise _bad(f"Line {i + 1}: sku is required.", "invalid", f"lines[{i}].sku", "Required.")
    by_sku = _products_by_sku(sorted(set(skus)))
    products, quantities, prices = [], [], []
    for i, ln in enumerate(data.lines):
        product = by_sku.get(ln.sku)
        if product is None or not product.is_active:
            raise ValidationFailed(
                f"Line {i + 1}: unknown SKU {ln.sku!r}. Nothing was reserved.", code="unknown_sku",
                details={f"lines[{i}].sku": [f"No active product with SKU {ln.sku!r}."]},
            )
        qty = ln.quantity
        if isinstance(qty, bool) or not isinstance(qty, int):
            raise _bad(f"Line {i + 1} ({ln.sku}): quantity must be a whole number, got {qty!r}.", "invalid_quantity",
                       f"lines[{i}].quantity", "Must be an integer.")
        if qty <= 0:
            raise _bad(f"Line {i + 1} ({ln.sku}): quantity must be at least 1, got {qty}.", "invalid_quantity",
                       f"lines[{i}].quantity", "Must be at least 1.")
        if qty > MAX_QUANTITY:
            raise _bad(f"Line {i + 1} ({ln.sku}): quantity must be at most {MAX_QUANTITY:,}, got {qty}. Nothing was reserved.",
                       "quantity_out_of_range", f"lines[{i}].quantity", f"At most {MAX_QUANTITY}.")
        try:
            price = Decimal(str(ln.unit_price))
        except (InvalidOperation, ValueError):
            raise _bad(f"Line {i + 1}: unit_price must be a decimal amount.", "invalid", f"lines[{i}].unit_price",
                       "Must be a decimal amount.") from None
        exponent = price.as_tuple().exponent  # an int for a finite amount
        if not price.is_finite() or price < 0 or not isinstance(exponent, int) or exponent < -2:
            raise _bad(f"Line {i + 1}: unit_price must be ≥ 0 with at most 2 decimals.", "invalid", f"lines[{i}].unit_price",
                       "At least 0, at most 2 decimals.")
        products.append(product)
        quantities.append(qty)
        prices.append(price)

    profile = routing_profile_for(channel=channel)
    pickup = None
    if data.delivery_mode == DeliveryMode.BOPIS:
        if not data.pickup_location:
            raise _bad("A BOPIS order needs a pickup_location (store code).", "pickup_required", "pickup_location", "Required for BOPIS.")
        pickup = Location.objects.filter(code=data.pickup_location).first()
        if pickup is None:
            raise _bad(f"Unknown pickup location {data.pickup_location!r}.", "unknown_location", "pickup_location",
                       f"No location with code {data.pickup_location!r}.")
        if not pickup.is_active or not pickup.can_pickup:
            raise _bad(f"{pickup.code} does not offer in-store pickup.", "pickup_not_offered", "pickup_location",
                       "Not a pickup point.")
        if data.ship_to_store and not profile.allow_ship_to_store:
            raise _bad("Ship-to-store is not allowed for this channel's routing profile.", "ship_to_store_not_allowed",
                       "ship_to_store", "Not allowed.")
        destination = ((pickup.latitude, pickup.longitude) if pickup.latitude is not None and pickup.longitude is not None
                       else None)
    else:
        if data.pickup_location:
            raise _bad("pickup_location is only for BOPIS orders.", "invalid", "pickup_location", "Only with delivery_mode bopis.")
        destination = _destination(data)
        if destination is None and require_destination:
            raise ValidationFailed(
                "A shipping order needs the delivery address's latitude and longitude, or a known country and postal code. "
                "Nothing was reserved.",
                code="missing_coordinates",
                details={"latitude": ["Required unless country + postal_code is known."],
                         "postal_code": [f"No centroid for {data.country or '?'}-{data.postal_code or '?'}."]},
            )
    return CheckedOrder(products, quantities, prices, destination, pickup, profile)
