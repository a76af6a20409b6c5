"""The API's authorization matrix: every operation the URL resolver serves under /api/v1/ × every role.

Each cell is one letter, in the column order of ``ROLES``:

  anon  partner_a  partner_b  pos_x  assoc_x  manager_x  assoc_y  merch  planner  ops

- ``A`` allowed: a 2xx answer;
- ``P`` past the gate: the caller may act on this object, and the answer is the business rule's
  (e.g. 409 "nothing to return yet"), never 401/403/404;
- ``D`` refused: 401 for the anonymous, 403 for everyone else (a stock movement item refused with
  ``permission_denied`` counts as 403);
- ``H`` hidden: 404, the object of another channel or store is not revealed.

Objects: ``order_a``/``work_x`` are channel A's order and its work at store X; ``order_b``/``work_y``
channel B's at store Y. A refused or hidden answer never carries the other party's data.
Partner tokens carry every scope (partner A and B) or stock read/write at X (the POS of X); the
head-office users are in the groups of ``omni.access.groups`` and reach the API with their session:
a merchandiser may do everything, a planner and operations read only.

A new endpoint without a row here fails ``test_every_endpoint_has_a_row``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.generators import EndpointEnumerator

from .conftest import ROLES, AuthzWorld

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # with {placeholders} from AuthzWorld.ids
    expect: str  # one letter per role
    body: Any = None
    query: str = ""
    multipart: bool = False
    leak: tuple[str, ...] = ()  # text that a refused or hidden answer must not contain


def _upload() -> dict[str, Any]:
    return {"file": SimpleUploadedFile("stock.csv", b"sku,location,quantity\nSKU-X,ST-X,5\n", content_type="text/csv"),
            "mode": "delta", "note": "matrix"}


MOVE_AT_X = {"movements": [{"external_id": "matrix-1", "kind": "receipt", "sku": "SKU-X", "location": "ST-X", "quantity": 1}]}
ORDER = {"external_id": "NEW-ORDER", "channel": "chan-a", "lines": [{"sku": "SKU-D", "quantity": 1}], "latitude": 41, "longitude": 29}
HOLD = {"channel": "chan-a", "lines": [{"sku": "SKU-D", "quantity": 1}], "ttl_seconds": 600}
SECRET_A, SECRET_B = ("EXT-A-ORDER",), ("EXT-B-ORDER",)

#          operation                                            anon/pa/pb/pos/ax/mx/ay/merch/plan/ops
ROWS = [
    # reference data: anyone with a role
    Row("GET", "/api/v1/locations/", "DAAAAAAAAA"),
    Row("GET", "/api/v1/locations/ST-X/", "DAAAAAAAAA"),
    Row("GET", "/api/v1/products/", "DAAAAAAAAA"),
    Row("GET", "/api/v1/products/SKU-X/", "DAAAAAAAAA"),
    # stock: everyone reads (a partner its channel's locations, the POS its store); writes at one's own locations
    Row("GET", "/api/v1/stock-levels/", "DAAAAAAAAA"),
    Row("GET", "/api/v1/stock-levels/{level_x}/", "DAAAAAAAAA"),
    Row("GET", "/api/v1/stock-levels/{level_dc}/", "DAAHAAAAAA"),
    Row("GET", "/api/v1/stock-movements/", "DAAAAAAAAA"),
    Row("POST", "/api/v1/stock-movements/", "DAAAAADADD", body=MOVE_AT_X),
    Row("POST", "/api/v1/stock-snapshots", "DAAAAADADD", body={"location": "ST-X", "external_id": "snap-1",
                                                               "lines": [{"sku": "SKU-X", "counted": 20}]}),
    Row("GET", "/api/v1/ledger/check/", "DDDDDDDADD"),
    # availability: a token only for its own channel (B naming A is refused)
    Row("GET", "/api/v1/availability", "DADDAAAAAA", query="sku=SKU-X&channel=chan-a"),
    Row("GET", "/api/v1/availability/pickup", "DADDAAAAAA", query="sku=SKU-X&channel=chan-a&lat=41&lon=29"),
    Row("GET", "/api/v1/availability/changes", "DADDAAAAAA", query="channel=chan-a"),
    Row("GET", "/api/v1/availability/snapshot.csv", "DADDAAAAAA", query="channel=chan-a"),
    # orders: partners their own channel's; head office reads all, only the merchandiser writes
    Row("GET", "/api/v1/orders", "DAADDDDAAA"),
    Row("POST", "/api/v1/orders", "DADDDDDADD", body=ORDER),
    Row("GET", "/api/v1/orders/{order_a}", "DAHDDDDAAA", leak=SECRET_A),
    Row("GET", "/api/v1/orders/{order_b}", "DHADDDDAAA", leak=SECRET_B),
    Row("POST", "/api/v1/orders/{cancel_a}/cancel", "DAHDDDDADD", body={"reason": "matrix"}),
    Row("POST", "/api/v1/orders/{cancel_b}/cancel", "DHADDDDADD", body={"reason": "matrix"}),
    Row("GET", "/api/v1/orders/{order_a}/fulfillments", "DAHDAAHAAA", leak=SECRET_A),
    # a return is taken where the goods come back: store staff at their own store, for any channel's order
    Row("POST", "/api/v1/orders/{order_a}/returns", "DPHDPPDPDD",
        body={"location": "ST-X", "items": [{"line": 1, "quantity": 1}], "external_id": "ret-1"}),
    Row("POST", "/api/v1/holds", "DADDDDDADD", body=HOLD),
    Row("GET", "/api/v1/holds/{hold_a}", "DAHDDDDAAA"),
    Row("GET", "/api/v1/holds/{hold_b}", "DHADDDDAAA"),
    Row("DELETE", "/api/v1/holds/{hold_a}", "DAHDDDDADD"),
    # imports: a partner its own jobs; head office reads all, only the merchandiser uploads or cancels
    Row("POST", "/api/v1/imports/stock", "DAADDDDADD", multipart=True),
    Row("GET", "/api/v1/imports/stock/{import_a}", "DAHDDDDAAA"),
    Row("GET", "/api/v1/imports/stock/{import_a}/errors.csv", "DAHDDDDAAA"),
    Row("POST", "/api/v1/imports/stock/{import_b}/cancel", "DHADDDDADD"),
    # fulfilment: store staff at their own store; a partner token only at the locations it is limited to
    # (these have none); head office reads all, only the merchandiser acts
    Row("GET", "/api/v1/fulfillment/works", "DAADAAAAAA"),
    Row("GET", "/api/v1/fulfillment/works/{work_x}", "DHHDAAHAAA", leak=SECRET_A),
    Row("GET", "/api/v1/fulfillment/works/{work_y}", "DHHDHHAAAA", leak=SECRET_B),
    Row("POST", "/api/v1/fulfillment/works/{work_x}/start", "DHHDAAHADD", body={}),
    Row("POST", "/api/v1/fulfillment/works/{work_x}/pick", "DHHDPPHPDD", body=lambda ids: {"line": ids["wline_x"], "quantity": 1}),
    Row("POST", "/api/v1/fulfillment/works/{work_x}/pack", "DHHDPPHPDD", body={"box_type": "M"}),
    Row("POST", "/api/v1/fulfillment/works/{work_x}/ship", "DHHDPPHPDD", body={"tracking_number": "T1", "carrier": "x"}),
    Row("POST", "/api/v1/fulfillment/works/{work_x}/ready", "DHHDPPHPDD", body={}),
    Row("POST", "/api/v1/fulfillment/works/{work_x}/dispatch", "DHHDPPHPDD", body={}),
    Row("POST", "/api/v1/fulfillment/works/{work_x}/receive", "DHHDPPHPDD", body={}),
    Row("POST", "/api/v1/fulfillment/works/{work_x}/hand-over", "DHHDPPHPDD",
        body=lambda ids: {"lines": [{"line": ids["wline_x"], "quantity": 1}], "collector_name": "Ayse", "id_kind": "id_card",
                          "id_last_digits": "1234"}),
    Row("POST", "/api/v1/fulfillment/works/{work_y}/reject", "DHHDHHPPDD",
        body=lambda ids: {"lines": [{"line": ids["wline_y"], "quantity": 1, "reason": "damaged"}], "note": "matrix"}),
    # the schema and its documentation pages are public: they describe the API, not its data
    Row("GET", "/api/v1/schema/", "AAAAAAAAAA"),
    Row("GET", "/api/v1/docs/", "AAAAAAAAAA"),
    Row("GET", "/api/v1/redoc/", "AAAAAAAAAA"),
]


def _template(path: str) -> str:
    """``/api/v1/orders/{order_a}/cancel`` → ``/api/v1/orders/{pk}/cancel`` (the resolver's form)."""
    parts = []
    for part in path.strip("/").split("/"):
        if part.startswith("{"):
            part = "{code}" if "locations" in path else "{pk}"
        parts.append(part)
    out = "/" + "/".join(parts)
    out = out.replace("/locations/ST-X", "/locations/{code}").replace("/products/SKU-X", "/products/{sku}")
    return out.rstrip("/")


def test_every_endpoint_has_a_row():
    served = {(method, path.rstrip("/")) for path, _regex, method, _cb in EndpointEnumerator().get_api_endpoints()}
    covered = {(row.method, _template(row.path)) for row in ROWS}
    assert served - covered == set(), "endpoints without a row in the authorization matrix"
    assert covered - served == set(), "rows for endpoints that no longer exist"
    assert all(len(row.expect) == len(ROLES) for row in ROWS)


def _status(res) -> int:
    """A stock movement batch answers 200/207 with a result per item: a refused item is a 403."""
    if res.status_code == 207 and "application/json" in res.get("Content-Type", ""):
        codes = {r.get("error", {}).get("code") for r in res.json()["results"]}
        if codes == {"permission_denied"}:
            return 403
    return res.status_code


JUDGE: dict[str, Callable[[str, int], bool]] = {
    "A": lambda role, s: 200 <= s < 300,
    "P": lambda role, s: s not in (401, 403, 404) and s < 500,
    "D": lambda role, s: s == (401 if role == "anon" else 403),
    "H": lambda role, s: s == 404,
}


def _call(world: AuthzWorld, role: str, row: Row):
    client = world.client(role)
    path = row.path.format(**world.ids) + (f"?{row.query}" if row.query else "")
    if row.multipart:
        return client.post(path, _upload(), format="multipart")
    if row.method == "GET":
        return client.get(path)
    if row.method == "DELETE":
        return client.delete(path)
    body = row.body(world.ids) if callable(row.body) else row.body
    return client.post(path, body if body is not None else {}, format="json",
                       HTTP_IDEMPOTENCY_KEY=f"{role}-{row.method}-{row.path}")


@pytest.mark.parametrize("role", ROLES)
def test_api_matrix(authz, role):
    """Every row for one role, reads before writes (so that a write does not change what a read sees)."""
    col = ROLES.index(role)
    wrong = []
    for row in sorted(ROWS, key=lambda r: r.method != "GET"):
        res = _call(authz, role, row)
        status, want = _status(res), row.expect[col]
        body = res.content.decode(errors="replace") if not getattr(res, "streaming", False) else ""
        if not JUDGE[want](role, status):
            wrong.append(f"{row.method} {row.path}: want {want}, got {status} {body[:160]}")
        elif want in "DH":
            leaked = [s for s in row.leak if s in body]
            if leaked:
                wrong.append(f"{row.method} {row.path}: a {status} answer shows {leaked}")
            if res.status_code in (401, 403, 404) and "application/json" in res.get("Content-Type", ""):
                assert set(json.loads(body)) == {"error"}, body  # the error shape, nothing else
    assert wrong == [], "\n".join(wrong)
