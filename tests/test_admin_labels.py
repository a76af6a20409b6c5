"""List columns and filters are headed in words, not in field names: "Active", not "Is active";
a phone's row cards say them in sentence case."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.utils import label_for_field
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.test import RequestFactory

from tests.allocation.factories import ChannelFactory
from tests.inventory.factories import UserFactory

pytestmark = pytest.mark.django_db


def _field(model, name):
    try:
        return model._meta.get_field(name) if isinstance(name, str) else None
    except FieldDoesNotExist:
        return None


def test_no_boolean_column_or_filter_is_headed_by_its_field_name():
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(username="root", is_staff=True, is_superuser=True)
    wrong = []
    for model, model_admin in admin.site._registry.items():
        for item in model_admin.get_list_display(request):
            name = getattr(item, "__name__", item)
            field = _field(model, name)
            label = str(label_for_field(item, model, model_admin))
            if isinstance(field, models.BooleanField) and label == field.name.replace("_", " "):
                wrong.append(f"{model._meta.label} column {name}: {label!r}")
        for spec in model_admin.get_list_filter(request):
            name = spec[0] if isinstance(spec, tuple) else spec
            field = _field(model, name)
            if isinstance(field, models.BooleanField) and not isinstance(spec, tuple) \
                    and str(field.verbose_name) == field.name.replace("_", " "):
                wrong.append(f"{model._meta.label} filter {name}")
    assert wrong == []


def test_the_channel_list_says_active_and_drop_ship_and_sorts_by_them(admin_client):
    ChannelFactory(code="on", is_active=True, allows_dropship=True)
    ChannelFactory(code="off", is_active=False)
    res = admin_client.get("/admin/allocation/channel/")
    html = res.content.decode()
    assert res.status_code == 200
    assert 'data-label="Active"' in html and 'data-label="Drop-ship"' in html
    assert 'data-label="is active"' not in html and "Is active" not in html
    assert html.count('data-label="Active"') == 2  # one cell per channel, shown as a tick or a cross
    # the column still sorts (column 4: the checkbox, code, name, kind, active): active first when descending
    sorted_html = admin_client.get("/admin/allocation/channel/?o=-4").content.decode()
    assert sorted_html.index(">on<") < sorted_html.index(">off<")
    filters = res.context["cl"].filter_specs
    assert [str(f.title) for f in filters][:2] == ["kind", "Active"]


def test_the_console_script_that_capitalises_card_labels_is_loaded(admin_client):
    assert "omni/console.js" in admin_client.get("/admin/allocation/channel/").content.decode()
