"""Every write of the orders app. Import from here: ``from orders.services import order_create``."""

from .changes import (
    AllocationStep,
    RerouteResult,
    ReturnItem,
    allocation_cancel,
    allocation_fulfil,
    allocation_lock,
    allocation_reject,
    allocations_settle,
    allocations_withdraw,
    backorders_allocate,
    order_cancel,
    order_line_cancel,
    order_lines_cancel,
    order_line_reroute,
    order_lock,
    order_return,
    order_status_refresh,
)
from .events import order_event_record
from .holds import HoldLineInput, hold_create, hold_release, holds_expire
from .idempotency import IdempotentAnswer, idempotency_keys_prune, idempotent_call, request_fingerprint
from .intake import order_as_written, order_create
from .pinning import PIN_KIND, PinResult, order_line_pin
from .lost_sales import lost_sales_deferred, lost_sales_of_refused_order, lost_sales_record, lost_sales_write
from .planning import ROUTE_ATTEMPTS, Planned, RouteRequest, plan_and_reserve
from .profiles import routing_profile_save
from .ship_to_store import allocation_arrive, allocation_dispatch
from .status import ALLOCATION_TRANSITIONS, HOLD_TRANSITIONS, LINE_TRANSITIONS, ORDER_TRANSITIONS
from .validation import CheckedOrder, LineInput, OrderInput, order_products_read_ahead, order_validate

__all__ = [
    "ALLOCATION_TRANSITIONS", "lost_sales_deferred", "lost_sales_write", "lost_sales_of_refused_order", "lost_sales_record", "PIN_KIND", "PinResult", "allocations_withdraw", "order_line_pin", "HOLD_TRANSITIONS", "LINE_TRANSITIONS", "ORDER_TRANSITIONS", "ROUTE_ATTEMPTS",
    "CheckedOrder", "HoldLineInput", "IdempotentAnswer", "LineInput", "OrderInput", "Planned", "RerouteResult", "ReturnItem",
    "AllocationStep", "RouteRequest", "allocation_arrive", "allocation_cancel", "allocation_dispatch", "allocation_fulfil", "allocation_lock", "allocation_reject", "allocations_settle", "backorders_allocate", "hold_create", "hold_release",
    "holds_expire", "idempotency_keys_prune", "idempotent_call", "order_as_written", "order_cancel", "order_create", "order_event_record", "order_line_cancel",
    "order_lines_cancel", "order_line_reroute", "order_lock", "order_return", "order_status_refresh", "order_products_read_ahead", "order_validate",
    "plan_and_reserve", "request_fingerprint", "routing_profile_save",
]
