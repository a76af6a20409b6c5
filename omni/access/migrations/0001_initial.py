"""The access app takes over two existing tables, which the migrations it depends on renamed
(``access_partnertoken`` + ``access_partnertoken_locations``, ``access_staffassignment``): state
only, no table is created or dropped. Their content types move with them, so admin permissions
granted on them and admin log entries stay attached."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = (("allocation", "partnertoken"), ("inventory", "staffassignment"))


def _move_content_types(apps, schema_editor, *, forwards: bool) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    for old_label, model in MOVED:
        source, target = (old_label, "access") if forwards else ("access", old_label)
        if not types.filter(app_label=target, model=model).exists():
            types.filter(app_label=source, model=model).update(app_label=target)


def content_types_forwards(apps, schema_editor):
    _move_content_types(apps, schema_editor, forwards=True)


def content_types_backwards(apps, schema_editor):
    _move_content_types(apps, schema_editor, forwards=False)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('allocation', '0004_partner_tokens_move_to_access'),
        ('inventory', '0007_staff_assignments_move_to_access'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='PartnerToken',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=120)),
                        ('key_hash', models.CharField(editable=False, max_length=64, unique=True)),
                        ('prefix', models.CharField(editable=False, help_text='First characters of the key, to recognise it.', max_length=8)),
                        ('scopes', models.JSONField(blank=True, default=list)),
                        ('is_active', models.BooleanField(default=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('last_used_at', models.DateTimeField(blank=True, null=True)),
                        ('channel', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='tokens', to='allocation.channel')),
                        ('locations', models.ManyToManyField(blank=True, related_name='+', to='inventory.location')),
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='partner_token', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='StaffAssignment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('location', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='staff_assignments', to='inventory.location')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='location_assignments', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'constraints': [models.UniqueConstraint(fields=('user', 'location'), name='staff_assignment_unique')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_forwards, content_types_backwards),
    ]
