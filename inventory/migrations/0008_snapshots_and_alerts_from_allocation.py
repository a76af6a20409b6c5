"""Inventory takes over stock snapshots and alerts from allocation's channel sync: state only,
the tables (renamed by allocation's 0005) keep their rows. Their content types move with them."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = ("stocksnapshot", "stocksnapshotline", "alert")


def _move_content_types(apps, schema_editor, *, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    for model in MOVED:
        if not types.filter(app_label=target, model=model).exists():
            types.filter(app_label=source, model=model).update(app_label=target)


def content_types_forwards(apps, schema_editor):
    _move_content_types(apps, schema_editor, source="allocation", target="inventory")


def content_types_backwards(apps, schema_editor):
    _move_content_types(apps, schema_editor, source="inventory", target="allocation")


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0007_staff_assignments_move_to_access'),
        ('allocation', '0005_snapshots_and_alerts_move_to_inventory'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Alert',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(db_index=True, max_length=32)),
                        ('message', models.CharField(max_length=255)),
                        ('details', models.JSONField(blank=True, default=list)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('acknowledged_at', models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        'ordering': ['-id'],
                    },
                ),
                migrations.CreateModel(
                    name='StockSnapshot',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('source', models.CharField(default='omni', max_length=64)),
                        ('external_id', models.CharField(blank=True, default='', max_length=128)),
                        ('received_at', models.DateTimeField(auto_now_add=True)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('location', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='inventory.location')),
                    ],
                    options={
                        'ordering': ['-id'],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('external_id', ''), _negated=True), fields=('source', 'external_id'), name='snapshot_idempotent')],
                    },
                ),
                migrations.CreateModel(
                    name='StockSnapshotLine',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('counted', models.PositiveIntegerField()),
                        ('system_quantity', models.IntegerField(help_text='Ledger on-hand when the snapshot arrived.')),
                        ('variance', models.IntegerField(help_text='counted − system')),
                        ('status', models.CharField(choices=[('applied', 'Applied'), ('unchanged', 'Matched the ledger'), ('pending', 'Waits for approval'), ('rejected', 'Rejected'), ('failed', 'Could not apply')], max_length=10)),
                        ('error', models.CharField(blank=True, default='', max_length=255)),
                        ('decided_at', models.DateTimeField(blank=True, null=True)),
                        ('cycle_count', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='inventory.cyclecount')),
                        ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('product', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='inventory.product')),
                        ('snapshot', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='inventory.stocksnapshot')),
                    ],
                    options={
                        'ordering': ['id'],
                        'indexes': [models.Index(condition=models.Q(('status', 'pending')), fields=['status'], name='snapshotline_pending')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_forwards, content_types_backwards),
    ]
