"""StaffAssignment moved to the access app (omni/access). Its table keeps its rows and is
renamed to the new app's name (``access_staffassignment``); the access app's 0001 takes the
model over in the migration state."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0006_fewer_indexes_on_hot_paths'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='StaffAssignment')],
            database_operations=[migrations.AlterModelTable(name='StaffAssignment', table='access_staffassignment')],
        ),
    ]
