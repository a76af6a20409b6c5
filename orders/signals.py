"""Signals orders sends so that the apps above it (fulfillment) can follow, without orders
importing them.

``allocations_changed``: an order's allocations were created, re-routed or closed (intake,
re-route, backorder allocation, cancel). Sent INSIDE the transaction that changed them, with the
order locked, so a receiver's writes commit or roll back with the change. Keyword: ``order_id``.
"""

from django.dispatch import Signal

allocations_changed = Signal()
