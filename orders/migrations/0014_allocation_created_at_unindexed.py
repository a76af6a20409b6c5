"""``orders_allocation.created_at`` loses its own index: nothing filters or sorts allocations by time
alone (they are read by line, order, id or status; a location's by ``allocation_loc_created``), and every
allocation of every order maintained it."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0013_status_plain_indexes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='allocation',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True),
        ),
    ]
