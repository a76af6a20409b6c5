"""The admin roles again, now that they view (merchandiser: also edit) each location's preparation
promise (``fulfillment.LocationSLA``, which arrived after 0003)."""

from django.db import migrations

from omni.access.migrations._roles import roles_sync_forwards


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0004_one_name_per_model"),
        ("fulfillment", "0006_location_sla"),
    ]
    operations = [migrations.RunPython(roles_sync_forwards, migrations.RunPython.noop)]
