from . import admin_channels  # noqa: F401  (channels, visibility, quotas, safety stock, ATP explorer)
