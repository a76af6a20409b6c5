"""Work and its events maintain two indexes fewer: ``fulfillment_work.location_id``'s own index is
covered by ``work_queue`` (location, status, deadline), dropped without touching the foreign key
(``omni.db.field_index``); ``fulfillment_workevent.at``'s index served nothing (events are read by work
and in id order), a plain column now."""

import django.db.models.deletion
from django.db import migrations, models

from omni.db.field_index import field_index_drop


class Migration(migrations.Migration):

    dependencies = [
        ('fulfillment', '0009_delivery_choice_on_the_line'),
    ]

    operations = [
        field_index_drop(
            'fulfillment', 'work', 'location',
            models.ForeignKey(db_index=False, help_text='Where the units are picked.', on_delete=django.db.models.deletion.PROTECT, related_name='fulfillment_works', to='inventory.location'),
        ),
        migrations.AlterField(
            model_name='workevent',
            name='at',
            field=models.DateTimeField(),
        ),
    ]
