"""Admin of allocation, by sub-domain: channels, visibility, quotas, location groups and the ATP
explorer (``channels``); safety stock (``safety_stock``); stock accuracy (``accuracy``) and the count tasks that feed it
(``count_tasks``); channel sync
(``allocation/sync/admin.py``)."""

from allocation.sync import admin as sync_admin  # noqa: F401

from . import accuracy, channels, count_tasks, safety_stock  # noqa: F401
