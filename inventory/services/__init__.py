"""Every write to stock. Import from here: ``from inventory.services import stock_receive``.

Each function is atomic, keyword-only, and idempotent by ``(source, external_id)`` when an
external id is given. By sub-domain:

- ``_buckets``: the one place that changes a stock row's buckets (lock, check, apply, ledger
  rows, outbox row);
- ``movements``: receipts, POS sales, returns, adjustments, damage;
- ``counts``: cycle counts (the variance posted as a count correction);
- ``transfers``: ship and receive between locations;
- ``reservations``: conditional reservations, release, consume, hand-over, expiry;
- ``capacity``: a location's daily capacity, claimed on a per-local-day counter like stock;
- ``shelves``: where each item sits at a location (the store pick lists' walking order);
- ``operations``: the one table from a stock operation kind to its service (admin, API batch, imports);
- ``ledger``: reconciliation of stock rows with the ledger and of reservations with their owners.
"""

from ._buckets import Actor, MovementResult, validate_quantity
from .capacity import capacity_claim, capacity_release, capacity_reopenings_announce, location_capacity_set
from .counts import CountResult, cycle_count_record
from .ledger import LedgerDiscrepancy, ledger_check, stock_arrivals_refresh
from .movements import stock_adjust, stock_mark_damaged, stock_receive, stock_return, stock_sell
from .operations import (
    ADMIN_OPERATIONS,
    IMPORT_MODE_OPERATION,
    STOCK_OPERATIONS,
    OperationSpec,
    StockOperation,
    StockOperationKind,
    StockOperationResult,
    stock_operation_apply,
)
from .reservations import (
    RESERVE_SQL,
    Reassignment,
    ReservationMove,
    ReservationRequest,
    reservation_consume,
    reservation_create,
    reservation_release,
    reservations_create,
    reservations_expire,
    reservations_reassign,
    reservations_release,
)
from .request_keys import stock_request_keys_prune
from .shelves import SHELF_MAX, shelf_clean, stock_shelf_set
from .transfers import TRANSFER_TRANSITIONS, TransferResult, transfer_receive, transfer_ship

__all__ = [
    "capacity_claim", "capacity_release", "capacity_reopenings_announce", "location_capacity_set",
    "Actor", "ADMIN_OPERATIONS", "IMPORT_MODE_OPERATION", "STOCK_OPERATIONS", "OperationSpec", "StockOperation",
    "StockOperationKind", "StockOperationResult", "stock_operation_apply",
    "RESERVE_SQL", "TRANSFER_TRANSITIONS", "CountResult", "LedgerDiscrepancy", "MovementResult", "Reassignment",
    "ReservationMove", "ReservationRequest", "TransferResult", "cycle_count_record", "ledger_check", "reservation_consume",
    "reservation_create", "reservation_release", "reservations_create", "reservations_expire", "reservations_reassign",
    "reservations_release", "stock_adjust", "stock_arrivals_refresh", "stock_mark_damaged", "stock_receive", "stock_return", "stock_sell",
    "transfer_receive", "transfer_ship", "validate_quantity", "SHELF_MAX", "shelf_clean", "stock_shelf_set",
    "stock_request_keys_prune",
]
