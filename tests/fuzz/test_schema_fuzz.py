"""Schemathesis against Omni's own OpenAPI schema, in-process (WSGI), bounded per operation, as a
partner token and as a merchandiser: no server error, and every answer conforms to the schema
(status code documented, content type, body shape, headers). Operations are discovered from the
schema, so whatever endpoints main has are covered.

``OMNI_FUZZ_EXAMPLES`` (default 8) bounds the examples per operation and role."""

from __future__ import annotations

import os
import secrets

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from inventory import services
from omni.wsgi import application
from tests.access.factories import issue_token
from tests.allocation.factories import ChannelFactory, make_visible
from tests.inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory

EXAMPLES = int(os.environ.get("OMNI_FUZZ_EXAMPLES", "8"))

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """As Django's test client does: the WSGI handler must not close the test's database connection."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(params=["partner", "merchandiser"])
def auth_headers(request, db, client):
    store = LocationFactory(code="ST-FZ", kind="store", latitude=41.0, longitude=29.0, can_pickup=True, daily_capacity=50)
    dc = LocationFactory(code="DC-FZ", kind="dc", latitude=40.8, longitude=29.4)
    web = ChannelFactory(code="web")
    make_visible(web, store, dc)
    for i in range(3):
        product = ProductFactory(sku=f"FZ-{i}")
        services.stock_receive(product=product, location=store, quantity=20)
        services.stock_receive(product=product, location=dc, quantity=50)
    if request.param == "partner":
        return {"Authorization": f"Token {issue_token(web)}"}
    client.force_login(MerchandiserFactory(username="fuzz-merch"))
    csrf = secrets.token_hex(16)
    return {"Cookie": f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}", "X-CSRFToken": csrf}


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.generate], suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, auth_headers):
    case.call_and_validate(headers=auth_headers, checks=CHECKS)
