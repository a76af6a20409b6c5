"""Forms of the store app: big fields, the right keyboards on a handheld."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class StoreLoginForm(AuthenticationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocapitalize": "none", "autocomplete": "username", "spellcheck": "false"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class LookupForm(forms.Form):
    q = forms.CharField(label=_("SKU or barcode"), max_length=64, strip=True,
                        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters",
                                                      "spellcheck": "false", "data-scan": "1", "autofocus": True}))
