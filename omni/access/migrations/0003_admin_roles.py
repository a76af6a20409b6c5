"""The admin roles (groups merchandiser, planner, operations) with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def forwards(apps, schema_editor):
    from omni.access.groups import admin_roles_sync

    for app_config in apps.get_app_configs():  # permissions are normally created after migrate: make them now
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    admin_roles_sync(group_model=apps.get_model("auth", "Group"), permission_model=apps.get_model("auth", "Permission"))


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["merchandiser", "planner", "operations"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0002_staffassignment_role"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("inventory", "0012_movement_arrivals_index"),
        ("allocation", "0007_location_stock_accuracies_plural"),
        ("orders", "0004_order_customer_contact"),
        ("fulfillment", "0004_store_settings"),
        ("insights", "0001_kpi_facts"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
