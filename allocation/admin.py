"""Admin for allocation: channels, visibility, quotas, safety stock and the ATP explorer
(``admin_channels``); channel sync (``sync.admin``)."""

from __future__ import annotations

from . import admin_channels  # noqa: F401  (channels, visibility, quotas, safety stock, ATP explorer)
from .sync.admin import *  # noqa: E402,F401,F403  (channel sync: dead letters, snapshots, alerts)
