"""PartnerToken moved to the access app (omni/access). Its table keeps its rows and is renamed
to the new app's name (``access_partnertoken``, and ``access_partnertoken_locations``); the
access app's 0001 takes the model over in the migration state."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('allocation', '0003_sync'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='PartnerToken')],
            database_operations=[migrations.AlterModelTable(name='PartnerToken', table='access_partnertoken')],
        ),
    ]
