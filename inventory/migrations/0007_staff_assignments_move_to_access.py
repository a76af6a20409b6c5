"""StaffAssignment moved to the access app (omni/access): state only; the table
``inventory_staffassignment`` stays, with its rows."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0006_fewer_indexes_on_hot_paths'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='StaffAssignment')],
            database_operations=[],
        ),
    ]
