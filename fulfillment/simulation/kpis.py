"""The KPI table of one policy's season, computed from what the run produced: orders and lines,
fulfillment works and their events, the stock ledger, the run's daily stock snapshots, and the
run log for demand that never became an order (walk-in customers who found nothing, shoppers the
channel showed nothing to). The definitions are the console's (issue 12); costs are the model's
(``COSTS``), the same for both policies.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time
from datetime import timezone as dt_timezone

from django.db.models import Count, Q, Sum

from fulfillment.models import Work, WorkKind, WorkStatus
from inventory.models import MovementReason, Product, StockMovement
from omni.geo import haversine_km
from orders.models import DeliveryMode, LineStatus, Order, OrderLine
from orders.routing.criteria import DEFAULT_BANDS, shipping_cost

from .run import RunLog
from .scenario import Scenario


@dataclass(frozen=True)
class Costs:
    pick_order: dict  # labour per work (order × location) by location kind
    pick_line: dict  # … per line
    return_handling: float  # per returned order, wherever it comes back
    holding_rate: float  # of the average stock value, per year
    salvage_loss: float  # of the cost of every unit left at the end (sold off to a jobber)


COSTS = Costs(pick_order={"dc": 1.2, "store": 2.5}, pick_line={"dc": 0.3, "store": 0.8}, return_handling=1.5,
              holding_rate=0.25, salvage_loss=0.5)
CLEARED_SHARE = 0.8  # clearance: the days after the end of season until 80 % of its stock is gone


def _km(lat1: float | None, lon1: float | None, lat2: float | None, lon2: float | None) -> float | None:
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return None
    return haversine_km(lat1, lon1, lat2, lon2)


def _p90(values: list[float]) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(int(round(0.9 * (len(values) - 1))), len(values) - 1)]


def compute(sc: Scenario, log: RunLog) -> dict:
    orders = Order.objects.all()
    n_orders = orders.count()
    accepted = n_orders + log.oversold_orders  # orders the shops took
    lines = OrderLine.objects.all()
    n_lines = lines.count()
    oversold_orders_db = orders.filter(lines__status=LineStatus.CANCELLED,
                                       lines__status_reason__startswith="no stock").distinct().count()

    # Fill: every line delivered (a pickup the customer never collected is the customer's choice),
    # and every work that reached the customer on time.
    not_full = set(lines.exclude(status=LineStatus.FULFILLED).exclude(
        status=LineStatus.CANCELLED, status_reason__icontains="not collected").values_list("order_id", flat=True))
    late = set(Work.objects.filter(on_time=False).values_list("order_id", flat=True))
    no_show_orders = set(lines.filter(status=LineStatus.CANCELLED).exclude(status_reason__startswith="no stock")
                         .values_list("order_id", flat=True))
    filled = n_orders - len(not_full | late)
    lines_filled = lines.filter(status=LineStatus.FULFILLED).count()

    works = Work.objects.select_related("location", "order")
    shipped = list(works.filter(status=WorkStatus.SHIPPED))
    delivery_orders = orders.exclude(delivery_mode=DeliveryMode.BOPIS)
    n_delivery = delivery_orders.count()
    from_store = orders.filter(fulfillment_works__kind=WorkKind.SHIP_FROM_STORE, fulfillment_works__status=WorkStatus.SHIPPED).distinct().count()
    per_order = Work.objects.filter(status=WorkStatus.SHIPPED).values("order_id").annotate(n=Count("id"))
    split_orders = sum(1 for r in per_order if r["n"] > 1)

    bopis = list(works.filter(kind=WorkKind.BOPIS).exclude(ready_at=None))
    prep_h = [(w.ready_at - w.order.created_at).total_seconds() / 3600 for w in bopis if w.ready_at]
    collected = [w for w in bopis if w.status == WorkStatus.COLLECTED]
    wait_h = [(w.closed_at - w.ready_at).total_seconds() / 3600 for w in collected if w.closed_at and w.ready_at]
    cross_sold = -(StockMovement.objects.filter(reason=MovementReason.SALE, reference__startswith="cross-sell:")
                   .aggregate(n=Sum("quantity"))["n"] or 0)

    # Fulfilment cost of online orders: picking labour per work and line, shipping by distance band
    # for every parcel (a split order pays twice), handling and shipping of returns.
    labour = shipping = 0.0
    order_cost: dict[int, float] = {}
    work_lines = dict(Work.objects.filter(status__in=[WorkStatus.SHIPPED, WorkStatus.COLLECTED])
                      .annotate(n=Count("lines")).values_list("id", "n"))
    for w in works.filter(status__in=[WorkStatus.SHIPPED, WorkStatus.COLLECTED]):
        kind = "dc" if w.location.kind != "store" else "store"
        cost = COSTS.pick_order[kind] + COSTS.pick_line[kind] * work_lines.get(w.pk, 1)
        labour += cost
        order_cost[w.order_id] = order_cost.get(w.order_id, 0.0) + cost
    for w in shipped:
        o, loc = w.order, w.location
        dist = _km(o.latitude, o.longitude, loc.latitude, loc.longitude)
        cost = shipping_cost(dist, DEFAULT_BANDS)
        shipping += cost
        order_cost[w.order_id] = order_cost.get(w.order_id, 0.0) + cost
    returns = list(StockMovement.objects.filter(reason=MovementReason.RETURN).select_related("stock_level__location")
                   .values_list("reference", "stock_level__location__kind", "stock_level__location__latitude",
                                "stock_level__location__longitude"))
    returned_orders = {ref for ref, *_x in returns}
    return_cost = len(returned_orders) * COSTS.return_handling
    dest = {f"order:{o.external_id}": (o.latitude, o.longitude) for o in orders.filter(latitude__isnull=False)}
    seen = set()
    for ref, kind, lat, lon in returns:
        if kind != "store" and ref not in seen and ref in dest:  # sent back by parcel to the DC
            seen.add(ref)
            return_cost += shipping_cost(_km(dest[ref][0], dest[ref][1], lat, lon), DEFAULT_BANDS)
    fulfilment_cost = labour + shipping + return_cost

    # Turnover: cost of goods sold (sales and fulfilments less returns, at cost) over the average
    # stock at cost (the daily snapshots), annualised.
    cost_of = dict(Product.objects.values_list("pk", "unit_cost"))
    cogs = 0.0
    for pid, reason, qty in (StockMovement.objects.filter(reason__in=[MovementReason.SALE, MovementReason.FULFILMENT,
                                                                      MovementReason.RETURN], bucket="on_hand")
                             .values_list("stock_level__product_id", "reason").annotate(q=Sum("quantity"))):
        cogs += -float(qty) * float(cost_of[pid])
    values = [d["stock_value"] for d in log.daily]
    avg_value = statistics.mean(values) if values else 0.0
    days = len(log.daily)
    turnover = cogs / avg_value * 365 / days if avg_value and days else 0.0
    holding = avg_value * COSTS.holding_rate * days / 365

    # Clearance: from the end of season, days until 80 % of the stock then held is gone.
    units = [d["store_units"] + d["dc_units"] + d["transit_units"] for d in log.daily]
    eos = sc.end_of_season_day
    clearance, extrapolated = None, False
    if 0 < eos <= len(units):
        start_units = units[eos - 1]
        goal = start_units * (1 - CLEARED_SHARE)
        for d in range(eos, len(units)):
            if units[d] <= goal:
                clearance = d - eos + 1
                break
        if clearance is None and len(units) > eos:
            sold_per_day = (start_units - units[-1]) / (len(units) - eos)
            clearance = round((start_units - goal) / sold_per_day, 1) if sold_per_day > 0 else None
            extrapolated = True
    leftover = units[-1] if units else 0
    leftover_value = log.daily[-1]["stock_value"] if log.daily else 0.0
    markdown_cost = log.markdown_revenue_lost + leftover_value * COSTS.salvage_loss

    # Per day of ordering: the share of orders filled, and their fulfilment cost per order.
    start = datetime.combine(date.fromisoformat(sc.start), time(0), tzinfo=dt_timezone.utc)
    by_day: dict[int, list[int]] = {}
    for pk, created in orders.values_list("pk", "created_at"):
        by_day.setdefault((created - start).days, []).append(pk)
    unfilled = not_full | late
    daily_fill = [sum(1 for pk in by_day.get(d, []) if pk not in unfilled) / len(by_day[d]) if by_day.get(d) else None
                  for d in range(days)]
    daily_cost = [sum(order_cost.get(pk, 0.0) for pk in by_day[d]) / len(by_day[d]) if by_day.get(d) else None
                  for d in range(days)]

    lost_total = log.walk_in_lost + log.online_refused_units + log.oversold_units
    lost_pool_had = log.walk_in_lost_pool_had + log.online_refused_pool_had + log.oversold_units
    units_sold = log.walk_in_sold + log.cross_sell_sold + (lines_filled)
    return {
        "policy": log.policy, "demand_digest": log.digest, "days": days, "stores": len(sc.stores), "skus": len(sc.skus),
        "orders": n_orders, "orders_accepted": accepted, "lines": n_lines,
        "fill_rate": filled / accepted if accepted else 0.0,
        "line_fill_rate": lines_filled / (n_lines + log.oversold_units) if n_lines else 0.0,
        "oversell_rate": (oversold_orders_db + log.oversold_orders) / accepted if accepted else 0.0,
        "oversold_orders": oversold_orders_db + log.oversold_orders,
        "store_rejections": log.store_rejections,
        "ship_from_store_rate": from_store / n_delivery if n_delivery else 0.0,
        "bopis_orders": n_orders - n_delivery, "bopis_share": (n_orders - n_delivery) / n_orders if n_orders else 0.0,
        "bopis_prep_hours_mean": statistics.mean(prep_h) if prep_h else 0.0, "bopis_prep_hours_p90": _p90(prep_h),
        "bopis_wait_hours_mean": statistics.mean(wait_h) if wait_h else 0.0,
        "bopis_never_collected": (len(bopis) - len(collected)) / len(bopis) if bopis else 0.0,
        "bopis_cross_sell_rate": cross_sold / len(collected) if collected else 0.0,
        "no_show_orders": len(no_show_orders),
        "split_rate": split_orders / n_orders if n_orders else 0.0,
        "lost_sales_units": lost_total, "lost_sales_pool_had_units": lost_pool_had,
        "walk_in_lost_units": log.walk_in_lost, "online_lost_units": log.online_refused_units + log.oversold_units,
        "lost_margin": round(log.lost_margin, 2),
        "units_sold": units_sold, "demand_units": log.walk_in_demand + log.online_demand_units,
        "fulfillment_cost": round(fulfilment_cost, 2),
        "fulfillment_cost_per_order": fulfilment_cost / n_orders if n_orders else 0.0,
        "shipping_cost": round(shipping, 2), "picking_cost": round(labour, 2), "returns_cost": round(return_cost, 2),
        "holding_cost": round(holding, 2), "markdown_cost": round(markdown_cost, 2),
        "total_cost": round(fulfilment_cost + holding + markdown_cost + log.lost_margin, 2),
        "cogs": round(cogs, 2), "avg_stock_value": round(avg_value, 2), "turnover": turnover,
        "clearance_days": clearance, "clearance_extrapolated": extrapolated,
        "leftover_units": leftover, "leftover_value": round(leftover_value, 2),
        "sync_lag": "nightly batch" if log.policy == "siloed" else "seconds (near real time)",
        "returns": len(returned_orders),
        "daily_fill": daily_fill, "daily_cost_per_order": daily_cost,
    }


def ledger_consistency(sc: Scenario, log: RunLog) -> dict:
    """Figures the KPI table rests on, recomputed from the ledger, orders and works (the test checks
    they agree with the table and the run log)."""
    walk_in = -(StockMovement.objects.filter(reason=MovementReason.SALE, reference__startswith="day ")
                .aggregate(n=Sum("quantity"))["n"] or 0)
    fulfilled_units = -(StockMovement.objects.filter(reason=MovementReason.FULFILMENT).aggregate(n=Sum("quantity"))["n"] or 0)
    lines_fulfilled = OrderLine.objects.filter(status=LineStatus.FULFILLED).aggregate(n=Sum("quantity"))["n"] or 0
    handed = Work.objects.filter(Q(status=WorkStatus.SHIPPED) | Q(status=WorkStatus.COLLECTED)).aggregate(
        n=Sum("lines__handed_over"))["n"] or 0
    return {"walk_in_sold_ledger": walk_in, "fulfilled_units_ledger": fulfilled_units,
            "lines_fulfilled_units": lines_fulfilled, "handed_over_units_works": handed}
