"""Admin for access: partner tokens and staff assignments.

Issuing a partner token shows its key ONCE, in a message; only the key's hash is stored."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from omni.admin import ModelAdmin

from omni.errors import OmniError

from .models import PartnerToken, Scope, StaffAssignment
from .services import partner_token_issue


class PartnerTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple, required=False)

    class Meta:
        model = PartnerToken
        fields = ["name", "channel", "scopes", "locations", "is_active"]


@admin.register(PartnerToken)
class PartnerTokenAdmin(ModelAdmin):
    form = PartnerTokenForm
    list_display = ["name", "channel", "prefix", "scope_list", "is_active", "created_at", "last_used_at"]
    list_select_related = ["channel"]
    list_filter = ["is_active", "channel"]
    search_fields = ["name", "prefix", "channel__code"]
    filter_horizontal = ["locations"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    @admin.display(description="scopes")
    def scope_list(self, obj: PartnerToken) -> str:
        """"Read availability, Post stock movements", not the raw JSON list."""
        labels = dict(Scope.choices)
        return ", ".join(labels.get(s, s) for s in obj.scopes) or "—"

    def save_model(self, request, obj: PartnerToken, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            token, key = partner_token_issue(
                channel=form.cleaned_data["channel"], name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"],
            )
        except OmniError as exc:  # pragma: no cover - the form's choices only allow known scopes
            messages.error(request, exc.message)
            raise
        token.is_active = form.cleaned_data["is_active"]
        token.save(update_fields=["is_active"])
        obj.pk, obj.user_id, obj.key_hash, obj.prefix = token.pk, token.user_id, token.key_hash, token.prefix
        obj._state.adding = False
        messages.warning(
            request,
            f"API key for “{token.name}”: {key} — copy it now; it is shown only once (Authorization: Token <key>).",
        )

    def save_related(self, request, form, formsets, change: bool) -> None:
        form.instance.locations.set(form.cleaned_data["locations"])


@admin.register(StaffAssignment)
class StaffAssignmentAdmin(ModelAdmin):
    list_display = ["user", "location", "role"]
    list_select_related = ["user", "location"]
    list_filter = ["role", "location__kind"]
    search_fields = ["user__username", "location__code", "location__name"]
    autocomplete_fields = ["user", "location"]
