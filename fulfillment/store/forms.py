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


ID_KINDS = [("national_id", _("National ID card")), ("passport", _("Passport")), ("driving_licence", _("Driving licence")),
            ("none", _("No ID (known customer)"))]
RELATIONS = [("customer", _("The customer")), ("family", _("Family member")), ("colleague", _("Colleague")),
             ("courier", _("Courier")), ("other", _("Someone else"))]


class HandOverForm(forms.Form):
    """Who collects, the ID they showed, and how many units of each line they take."""

    collector_name = forms.CharField(label=_("Collector's name"), max_length=150)
    relation = forms.ChoiceField(label=_("Relation to the customer"), choices=RELATIONS, initial="customer")
    id_kind = forms.ChoiceField(label=_("ID shown"), choices=ID_KINDS, initial="national_id")
    id_last_digits = forms.RegexField(label=_("Last 4 digits of the ID"), regex=r"^[0-9A-Za-z]{2,8}$", required=False,
                                      max_length=8, widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))

    def __init__(self, *args, lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        for ln in self.lines:
            self.fields[f"qty_{ln.pk}"] = forms.IntegerField(
                label=ln.product.name, min_value=0, max_value=ln.ready_quantity, initial=ln.ready_quantity,
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}))

    def clean(self):
        data = super().clean() or {}
        if data.get("id_kind") not in (None, "none") and not data.get("id_last_digits"):
            self.add_error("id_last_digits", _("Type the last digits of the ID the collector showed."))
        return data

    def qty_field(self, line):
        return self[f"qty_{line.pk}"]

    def quantities(self) -> dict[int, int]:
        return {ln.pk: self.cleaned_data[f"qty_{ln.pk}"] for ln in self.lines}

    def verification(self):
        from fulfillment.services import Verification

        d = self.cleaned_data
        return Verification(collector_name=d["collector_name"], id_kind=d["id_kind"], id_last_digits=d.get("id_last_digits") or "",
                            relation=d["relation"])


ISSUE_REASONS = [("not_found", _("Not on the shelf")), ("damaged", _("Damaged")),
                 ("customer_cancelled", _("Customer cancelled")), ("other", _("Other"))]


class IssueForm(forms.Form):
    """"Report an issue" for one line (``line`` + ``quantity``) or the whole order (managers)."""

    reason = forms.ChoiceField(choices=ISSUE_REASONS)
    line = forms.IntegerField(required=False)
    quantity = forms.IntegerField(required=False, min_value=1)
    whole_order = forms.BooleanField(required=False)
    note = forms.CharField(required=False, max_length=200)

    def clean(self):
        data = super().clean() or {}
        if not data.get("whole_order") and not (data.get("line") and data.get("quantity")):
            raise forms.ValidationError(_("Choose a reason and how many units."))
        return data


class StoreSettingsForm(forms.Form):
    daily_capacity = forms.IntegerField(
        label=_("Orders per day"), min_value=0, required=False,
        help_text=_("How many new orders this store takes per day. Empty: no limit. 0: paused."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    require_scanning = forms.BooleanField(label=_("Pick by scanning only (no manual counts)"), required=False)


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Pickup code, order number, name or phone"), max_length=64, strip=True,
                        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "data-scan": "1",
                                                      "autofocus": True}))
