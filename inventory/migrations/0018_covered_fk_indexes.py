"""Foreign keys whose own index another index covers: the index dropped, the constraint untouched
(``omni.db.field_index``: a plain ``AlterField`` would drop the key and validate it again)."""

import django.db.models.deletion
from django.db import migrations, models

from omni.db.field_index import field_index_drop


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0017_alert_kinds_in_words'),
    ]

    operations = [
        field_index_drop(
            'inventory', 'stocklevel', 'location',
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='stock_levels', to='inventory.location'),
        ),
        field_index_drop(
            'inventory', 'stocklevel', 'product',
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='stock_levels', to='inventory.product'),
        ),
    ]
