"""The season simulation: a chain run twice under the same seeded demand — ``siloed`` (online only
from the DC, stores sell their own stock) and ``omni`` (one pool, routing, ship-from-store, BOPIS,
online priority for end-of-season stock) — through Omni's real services, in a scratch database.

Top layer: it reads and drives every app; nothing imports it. Modules:

- ``demand``: the seeded demand (seasonal curve, store demand correlated across stores, online
  demand by customer geography) and the small samplers it needs;
- ``pooling``: the check against theory (Eppen 1979's square-root law), with Omni's safety-stock
  formulas;
- ``chain``, ``run``, ``kpis``, ``report``: building the chain, the day loop, the KPI tables and
  the HTML report (``python manage.py simulate``).
"""

DESIGN = """\
Both policies: the same seeded demand (walk-in customers per store, SKU and day: Poisson around a
seasonal curve x weekday, times a Gamma shock per SKU and day shared by all stores, so stores are
correlated, rho = 0.25; online orders placed by customers near the stores by footfall, a quarter far
from any store; 25 % of web/app customers within 30 km of a store want to collect), the same season's
buy (expected demand, per SKU), the same markdown (30 % off from the end of season, demand lifted by a
price elasticity of 2), the same store record errors (60 % of store stock records wrong by -2..+3 units
at the start; 0.3 % of store rows lose a unit unrecorded each day), the same walk-in protection (a
floor of 1 unit of every A SKU at every store that online orders may not take), the same DC
replenishment rule (a store below half of a week's expected demand gets the difference, the DC keeping
a week of online demand; none in the last week before the end of season), the same no-shows (7 %),
returns (12 % after 5 days) and costs.

siloed: web, app and marketplace see only the DC (a nightly batch sync: a shop sells on last night's
figure, and what Omni then cannot reserve is an oversell); stores sell only their own stock; customers
who wanted to collect get a delivery from the DC; returns go back to the DC by parcel.
Initial allocation: 35 % of the buy at the DC as the replenishment reserve; the rest split between the
stores (by expected walk-in demand) and the DC (by expected online demand).

omni: web and app see the DC and every store (near-real-time sync), routed by a profile (stock status,
fewest splits, proximity, cost, capacity 40 orders/store/day, stock priority: the age of the units at
each location and the end of season); BOPIS at the customer's store (when it lacks the stock, the
customer takes a delivery instead); stores pick what their records promise and reject what they do not
find (re-routed by Omni; the record is corrected by a count); returns to the nearest store.
Initial allocation: as siloed, but the stores' share also covers the pickups their area will ask for.

Walk-in sales are booked as one POS sale per store, SKU and day; every online order goes through
intake, routing, reservation, the fulfillment state machine (pick, pack, ship; pick, ready, hand-over),
returns, transfers and weekly safety-stock recomputes, at simulated times (time_machine), in a scratch
database of its own per policy.

Costs: picking labour per work (DC 1.20, store 2.50) and per line (DC 0.30, store 0.80); shipping by
distance band (routing's bands) per parcel, so a split order pays twice; returns 1.50 handling plus a
parcel back when returned to the DC; holding 25 %/year of the average stock at cost; lost margin on
every unit demanded and not sold; markdowns: the price cut on units sold after the end of season plus
50 % of the cost of the units left at the end.
"""
