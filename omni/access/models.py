"""Partner API tokens with their scopes, and staff assignments to locations (both moved here from
``allocation`` and ``inventory`` with their rows)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models


class Scope(models.TextChoices):
    """What a partner token may do. Checked in ``omni.access.roles``."""

    STOCK_READ = "stock:read", "Read stock levels"
    STOCK_WRITE = "stock:write", "Post stock movements"
    AVAILABILITY_READ = "availability:read", "Read availability"
    ORDERS_WRITE = "orders:write", "Place and change orders"
    IMPORTS_WRITE = "imports:write", "Upload stock files"
    FULFILLMENT_WRITE = "fulfillment:write", "Fulfil orders at the token's locations"


class PartnerToken(models.Model):
    """A partner system's API key. Only its hash is stored; the key is shown once when issued.

    A token acts for one channel. ``locations`` (when any) limits where it may post stock movements,
    e.g. a store's POS posts only for that store.
    """

    name = models.CharField(max_length=120)
    channel = models.ForeignKey("allocation.Channel", on_delete=models.CASCADE, related_name="tokens")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_token")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False, help_text="First characters of the key, to recognise it.")
    scopes = models.JSONField(default=list, blank=True)
    locations = models.ManyToManyField("inventory.Location", blank=True, related_name="+")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "partner API token"
        verbose_name_plural = "partner API tokens"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def new_key() -> str:
        return "omni_" + secrets.token_urlsafe(32)

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])


class StaffRole(models.TextChoices):
    """What a store staff user may do at a store (checked in ``omni.access.roles``)."""

    ASSOCIATE = "associate", "Associate"
    MANAGER = "manager", "Store manager"


class StaffAssignment(models.Model):
    """A store staff user works at these locations (and may act only for them), with a role at each:
    a manager may also reject whole orders, set the store's daily capacity, pause new work and
    approve counts."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="location_assignments")
    location = models.ForeignKey("inventory.Location", on_delete=models.CASCADE, related_name="staff_assignments")
    role = models.CharField(max_length=16, choices=StaffRole.choices, default=StaffRole.ASSOCIATE)

    class Meta:
        verbose_name = "store staff assignment"
        verbose_name_plural = "store staff assignments"
        constraints = [models.UniqueConstraint(fields=["user", "location"], name="staff_assignment_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.location.code}"
