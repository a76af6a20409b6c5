"""Hooks for code that follows fulfillment (notifications, webhooks). Business logic never lives
in a receiver: these only tell that something happened, after it committed.

``work_ready``: a pickup became ready for the customer (``mark_ready``). Sent after commit with
keyword ``work_id``; the pickup helper's notifier connects to it.
"""

from django.dispatch import Signal

work_ready = Signal()
