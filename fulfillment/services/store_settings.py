"""A store's settings (require scanning ...), changed by its manager (read: ``selectors.store_settings_get``)."""

from __future__ import annotations

from django.db import transaction

from fulfillment.models import StoreSettings
from inventory.models import Location


def store_settings_set(*, location: Location | int, require_scanning: bool) -> StoreSettings:
    location_id = location.pk if isinstance(location, Location) else location
    with transaction.atomic():
        settings, _ = StoreSettings.objects.update_or_create(location_id=location_id,
                                                             defaults={"require_scanning": bool(require_scanning)})
    return settings
