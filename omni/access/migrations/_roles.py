"""Shared by the migrations that (re)apply the admin roles of ``omni.access.groups``."""

from django.contrib.auth.management import create_permissions


def roles_sync_forwards(apps, schema_editor):
    from omni.access.groups import admin_roles_sync

    for app_config in apps.get_app_configs():  # permissions are normally created after migrate: make them now
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    admin_roles_sync(group_model=apps.get_model("auth", "Group"), permission_model=apps.get_model("auth", "Permission"))
