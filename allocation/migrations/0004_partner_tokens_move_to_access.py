"""PartnerToken moved to the access app (omni/access): state only; the table
``allocation_partnertoken`` (and its locations table) stays, with its rows."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('allocation', '0003_sync'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='PartnerToken')],
            database_operations=[],
        ),
    ]
