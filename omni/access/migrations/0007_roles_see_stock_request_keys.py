"""The admin roles again, now that operations views the stock API's idempotency keys
(``inventory.StockRequestKey``, in the admin since this migration)."""

from django.db import migrations

from omni.access.migrations._roles import roles_sync_forwards


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0006_roles_see_lost_sales"),
        ("inventory", "0017_alert_kinds_in_words"),
    ]
    operations = [migrations.RunPython(roles_sync_forwards, migrations.RunPython.noop)]
