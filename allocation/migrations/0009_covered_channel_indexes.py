"""Sync state and sync messages: the channel's own index is covered (the unique ``(channel, product)``
and ``syncmessage_feed`` ``(channel, id)`` lead with it). The index dropped, the foreign key untouched
(``omni.db.field_index``: a plain ``AlterField`` would drop the key and validate it again)."""

import django.db.models.deletion
from django.db import migrations, models

from omni.db.field_index import field_index_drop


class Migration(migrations.Migration):

    dependencies = [
        ('allocation', '0008_one_name_per_model'),
    ]

    operations = [
        field_index_drop(
            'allocation', 'syncmessage', 'channel',
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='allocation.channel'),
        ),
        field_index_drop(
            'allocation', 'syncstate', 'channel',
            models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='allocation.channel'),
        ),
    ]
