"""Stock snapshots and alerts moved to inventory (inventory/snapshots, inventory/alerts). Their
tables keep their rows and take inventory's names (``inventory_stocksnapshot``,
``inventory_stocksnapshotline``, ``inventory_alert``); inventory's 0008 takes the models over in
the migration state."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('allocation', '0004_partner_tokens_move_to_access'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='StockSnapshotLine'),
                migrations.DeleteModel(name='StockSnapshot'),
                migrations.DeleteModel(name='Alert'),
            ],
            database_operations=[
                migrations.AlterModelTable(name='StockSnapshot', table='inventory_stocksnapshot'),
                migrations.AlterModelTable(name='StockSnapshotLine', table='inventory_stocksnapshotline'),
                migrations.AlterModelTable(name='Alert', table='inventory_alert'),
            ],
        ),
    ]
