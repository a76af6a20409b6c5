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
