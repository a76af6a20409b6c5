"""The merchandiser's console: the KPI dashboard (the admin's home page), its daily snapshots, the
"needs attention now" panel and the admin's sidebar.

Top layer: it reads across every app (inventory, allocation, orders, fulfillment) and nothing
imports it (settings name it by string: the dashboard callback, the sidebar, the beat job)."""
