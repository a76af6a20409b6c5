"""python manage.py roles_sync: (re)create the merchandiser, planner and operations groups."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand

from omni.access.groups import admin_roles_sync


class Command(BaseCommand):
    help = "Create or update the admin roles (groups merchandiser, planner, operations) with their permissions."

    def handle(self, *args, **options) -> None:
        for name, count in admin_roles_sync(group_model=Group, permission_model=Permission).items():
            self.stdout.write(f"{name}: {count} permission(s)")
