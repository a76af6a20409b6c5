"""The admin roles again, now that they view the refused demand (``orders.LostSale``, which arrived
after 0005)."""

from django.db import migrations

from omni.access.migrations._roles import roles_sync_forwards


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0005_roles_see_location_slas"),
        ("orders", "0007_lost_sale_names"),
    ]
    operations = [migrations.RunPython(roles_sync_forwards, migrations.RunPython.noop)]
