"""Schemathesis against Omni's own OpenAPI schema, in-process (WSGI), as a partner token and as a
merchandiser: no server error, and every answer conforms to the schema (status code documented,
content type, body shape, headers).

- Per operation (``test_api_conforms_to_its_schema``): bounded examples for every operation the
  schema lists, so whatever endpoints main has are covered.
- Stateful (``test_api_workflows_conform``): sequences that follow the schema's OpenAPI links, one
  answer feeding the next call (an order created → read, its fulfillments listed, cancelled and
  cancelled again, its questions answered; a hold created → read → released twice; movements posted
  → the ledger and availability read; an import uploaded → polled → cancelled ...). The links are
  the published ones (omni/api/schema.py ``LINKS``), not inferred ones.

``OMNI_FUZZ_EXAMPLES`` (default 8) bounds the examples per operation and role;
``OMNI_FUZZ_SCENARIOS`` (default 40) the stateful scenarios per role, each at most
``OMNI_FUZZ_STEPS`` (default 6) calls."""

from __future__ import annotations

import os
import secrets

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi import stateful as stateful_openapi

from inventory import services
from omni.wsgi import application
from tests.access.factories import issue_token
from tests.allocation.factories import ChannelFactory, make_visible
from tests.inventory.factories import LocationFactory, MerchandiserFactory, ProductFactory

SKUS = ("FZ-0", "FZ-1", "FZ-2")
STORE, DC = "ST-FZ", "DC-FZ"
EXAMPLES = int(os.environ.get("OMNI_FUZZ_EXAMPLES", "8"))
SCENARIOS = int(os.environ.get("OMNI_FUZZ_SCENARIOS", "40"))
STEPS = int(os.environ.get("OMNI_FUZZ_STEPS", "6"))
# A floor, not a target: which links a bounded run reaches depends on the data the worker's earlier
# tests left (ids, sequences); 16–17 on a fresh database, 9 seen in the full suite. Below 6 the run
# has stopped following links (a broken link, credential or start) and tests nearly nothing.
MIN_LINKS_FOLLOWED = 6
SCHEMA_URL = "/api/v1/schema/?format=json"

schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, application)

@schemathesis.check
def no_unexpected_item_error(ctx, response, case):
    """A batch answers an item that failed unexpectedly as that item's ``item_failed`` (the rest still
    apply, no 500): for the fuzz it is a server error all the same."""
    if "json" not in (response.headers.get("content-type") or [""])[0]:
        return None
    body = response.json()
    results = body.get("results") if isinstance(body, dict) else None
    for item in results if isinstance(results, list) else []:
        error = item.get("error") if isinstance(item, dict) else None
        if isinstance(error, dict) and error.get("code") == "item_failed":
            raise AssertionError(f"Item {item.get('index')} failed unexpectedly: {error.get('message')}")
    return None


CHECKS = [
    schemathesis.checks.not_a_server_error,
    no_unexpected_item_error,
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
def auth(request, db, client):
    store = LocationFactory(code=STORE, kind="store", latitude=41.0, longitude=29.0, can_pickup=True, daily_capacity=50)
    dc = LocationFactory(code=DC, kind="dc", latitude=40.8, longitude=29.4)
    web = ChannelFactory(code="web")
    make_visible(web, store, dc)
    for sku in SKUS:
        product = ProductFactory(sku=sku)
        services.stock_receive(product=product, location=store, quantity=20)
        services.stock_receive(product=product, location=dc, quantity=50)
    if request.param == "partner":
        return {"headers": {"Authorization": f"Token {issue_token(web)}"}}
    client.force_login(MerchandiserFactory(username="fuzz-merch"))
    csrf = secrets.token_hex(16)
    # As cookies, not a Cookie header: the WSGI test client replaces the header with its own jar.
    return {"headers": {"X-CSRFToken": csrf}, "cookies": {"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf}}


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.generate], suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, auth):
    case.call_and_validate(checks=CHECKS, **auth)


# --- Stateful: sequences along the published links --------------------------------------------

# A schema object of its own: its hooks (below) steer the bodies that start a workflow and must not
# change the per-operation run above. Only the links the schema publishes are followed.
workflows = schemathesis.openapi.from_wsgi(SCHEMA_URL, application)
workflows.config.phases.stateful.inference.algorithms = []

_line = st.fixed_dictionaries({"sku": st.sampled_from(SKUS), "quantity": st.integers(1, 3)})
_lines = st.lists(_line, min_size=1, max_size=3, unique_by=lambda ln: ln["sku"])


def _order(body: dict) -> st.SearchStrategy:
    return st.builds(
        lambda ref, lines, mode, tier: {
            "external_id": f"FZ-{ref}", "channel": "web", "lines": lines, "delivery_mode": mode, "customer_tier": tier,
            **({"pickup_location": STORE} if mode == "bopis" else {"latitude": 41.05, "longitude": 29.01}),
            # a link may have merged a hold's id into the generated body: keep it
            **({"hold_id": body["hold_id"]} if "hold_id" in body else {})},
        st.integers(0, 10**9), _lines, st.sampled_from(["standard", "express", "bopis"]), st.sampled_from(["standard", "gold"]))


def _hold(body: dict) -> st.SearchStrategy:
    return st.builds(lambda lines: {"channel": "web", "lines": lines, "ttl_seconds": 600}, _lines)


def _movements(body: dict) -> st.SearchStrategy:
    movement = st.fixed_dictionaries({
        "external_id": st.integers(0, 10**9).map(lambda n: f"FZ-{n}"),
        "kind": st.sampled_from(["receipt", "sale", "return", "damage", "count"]),
        "sku": st.sampled_from(SKUS), "location": st.sampled_from([STORE, DC]), "quantity": st.integers(1, 5)})
    return st.lists(movement, min_size=1, max_size=4).map(lambda items: {"movements": items})


def _snapshot(body: dict) -> st.SearchStrategy:
    return st.builds(lambda lines: {"location": STORE, "lines": [{"sku": ln["sku"], "counted": ln["quantity"]} for ln in lines]},
                     _lines)


def _upload(body: dict) -> st.SearchStrategy:
    return st.builds(lambda lines: {"location": "", "mode": "delta", "note": "fuzz", "file": (
        "sku,location,quantity\n" + "".join(f"{ln['sku']},{STORE},{ln['quantity']}\n" for ln in lines)).encode()}, _lines)


def _cancel(body: dict) -> st.SearchStrategy:
    return st.sampled_from([{}, {"reason": "customer changed their mind"}, {"lines": [1]}])


# Bodies of the calls that start or carry a workflow: as generated, or (mostly) naming this test's
# channel, SKUs and locations, so that creates succeed often enough for their links to be followed.
_REALISTIC = {("POST", "/api/v1/orders"): _order, ("POST", "/api/v1/holds"): _hold,
              ("POST", "/api/v1/stock-movements"): _movements, ("POST", "/api/v1/stock-snapshots"): _snapshot,
              ("POST", "/api/v1/imports/stock"): _upload, ("POST", "/api/v1/orders/{id}/cancel"): _cancel}


# Besides the per-answer checks: a resource a create just answered must be there for the next
# call. (``use_after_free`` does not apply: DELETE /holds/{id} releases a hold, which stays readable.)
STATEFUL_CHECKS = [*CHECKS, schemathesis.checks.ensure_resource_availability]


@workflows.hook
def flatmap_body(context, body):
    operation = context.operation
    realistic = _REALISTIC.get((operation.method.upper(), operation.path)) if operation is not None else None
    if realistic is None or not isinstance(body, dict):
        return st.just(body)
    return st.one_of(st.just(body), realistic(body), realistic(body))


def _workflow_starts(operations, transitions, graph):
    """Scenarios start where a workflow starts: an operation with links out and no path parameter (a
    create, a list). Schemathesis' own guess (pinned version) also starts at POSTs on random ids
    (404s the per-operation test covers) and skips creates whose body names a SKU or a location
    (no operation creates those), the very ones that start the stock workflows."""
    roots = stateful_openapi.RootTransitions()
    roots.reliable.update(op.label for op in operations if "{" not in op.path
                          and op.label in transitions.operations and transitions.operations[op.label].outgoing)
    return roots


@pytest.mark.django_db
def test_api_workflows_conform(auth, monkeypatch):
    """Scenarios of up to STEPS calls along the schema's links, as both roles: no server error, every
    answer as the schema says, and each link resolves to the operation it names."""

    followed: set[str] = set()  # links followed to a successful answer
    monkeypatch.setattr(stateful_openapi, "classify_root_transitions", _workflow_starts)
    machine = workflows.as_state_machine()

    class Workflow(machine):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case):
            return auth

        def step(self, input):
            output = super().step(input)
            if input.transition is not None and input.is_applied and output.response.status_code < 300:
                followed.add(input.transition.id)
            return output

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=STATEFUL_CHECKS, transport_kwargs=kwargs or None, recorder=self.recorder)

    Workflow.run(settings=settings(max_examples=SCENARIOS, stateful_step_count=STEPS, deadline=None,
                                   derandomize=True, database=None, phases=[Phase.generate],
                                   suppress_health_check=list(HealthCheck)))
    # The run did follow links (a broken link, credential or start would leave it testing nothing).
    assert len(followed) >= MIN_LINKS_FOLLOWED, sorted(followed)
