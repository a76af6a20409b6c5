"""Foreign keys whose own index another index covers: the index dropped, the constraint untouched
(``omni.db.field_index``: a plain ``AlterField`` would drop the key and validate it again)."""

import django.db.models.deletion
from django.db import migrations, models

from omni.db.field_index import field_index_drop


class Migration(migrations.Migration):

    dependencies = [
        ('allocation', '0008_one_name_per_model'),
        ('inventory', '0018_covered_fk_indexes'),
        ('orders', '0010_idempotency_key_names'),
    ]

    operations = [
        field_index_drop(
            'orders', 'allocation', 'location',
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='order_allocations', to='inventory.location'),
        ),
        field_index_drop(
            'orders', 'idempotencyrecord', 'channel',
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='allocation.channel'),
        ),
        field_index_drop(
            'orders', 'order', 'channel',
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='orders', to='allocation.channel'),
        ),
        field_index_drop(
            'orders', 'orderline', 'order',
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='orders.order'),
        ),
    ]
