"""An ``Idempotency-Key`` on the stock API (movement batches, snapshots, CSV uploads and their
cancel): a resend changes nothing more and answers the first answer (``Idempotent-Replayed:
true``); the same key with another body is refused (409 ``idempotency_key_reused``) and changes
nothing; an empty key is refused (400 ``idempotency_key_required``). Keys are the caller's own."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inventory import services
from inventory.imports.models import ImportJob
from inventory.models import StockLevel, StockMovement
from inventory.snapshots.models import StockSnapshot
from omni.access.models import Scope
from tests.access.factories import issue_token
from tests.allocation.factories import ChannelFactory

from .factories import LocationFactory, MerchandiserFactory, ProductFactory

pytestmark = pytest.mark.django_db

MOVEMENTS, SNAPSHOTS, IMPORTS = "/api/v1/stock-movements", "/api/v1/stock-snapshots", "/api/v1/imports/stock"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def store():
    store = LocationFactory(code="ST-01")
    services.stock_receive(product=ProductFactory(sku="TEE-S"), location=store, quantity=10, source="wms")
    return store


def on_hand() -> int:
    return StockLevel.objects.get(product__sku="TEE-S").on_hand


def ledger() -> list[tuple[int, int]]:
    return list(StockMovement.objects.order_by("id").values_list("id", "quantity"))


def token_client(api_client, store, *scopes):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(ChannelFactory(), *scopes, locations=[store])}")
    return api_client


def batch(*external_ids: str, quantity: int = 2) -> dict:
    return {"movements": [{"external_id": e, "kind": "receipt", "sku": "TEE-S", "location": "ST-01", "quantity": quantity}
                          for e in external_ids]}


# --- movement batches ----------------------------------------------------------------------------


def test_a_resent_movement_batch_with_its_key_answers_the_first_answer_and_moves_nothing(api_client, store):
    client = token_client(api_client, store, Scope.STOCK_WRITE)
    first = client.post(MOVEMENTS, batch("GRN-1", "GRN-2"), format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    assert first.status_code == 200 and first.json()["summary"] == {"applied": 2, "replayed": 0, "failed": 0}
    before = ledger()
    again = client.post(MOVEMENTS, batch("GRN-1", "GRN-2"), format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    # the first answer, not "replayed" items: a client that lost it reads what happened
    assert again.status_code == 200 and again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert ledger() == before and on_hand() == 14


def test_the_same_batch_key_for_another_batch_is_refused_and_moves_nothing(api_client, store):
    client = token_client(api_client, store, Scope.STOCK_WRITE)
    client.post(MOVEMENTS, batch("GRN-1"), format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    before = ledger()
    other = client.post(MOVEMENTS, batch("GRN-9"), format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert ledger() == before and on_hand() == 12


def test_an_empty_key_is_refused_and_moves_nothing(api_client, store):
    client = token_client(api_client, store, Scope.STOCK_WRITE)
    res = client.post(MOVEMENTS, batch("GRN-1"), format="json", HTTP_IDEMPOTENCY_KEY="")
    assert res.status_code == 400 and res.json()["error"]["code"] == "idempotency_key_required"
    assert on_hand() == 10


def test_stock_keys_are_the_callers_own(api_client, store):
    """Two systems (tokens) may use the same key; a merchandiser's keys are theirs too."""
    from rest_framework.test import APIClient

    wms = token_client(api_client, store, Scope.STOCK_WRITE)
    assert wms.post(MOVEMENTS, batch("GRN-1"), format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 200
    pos = token_client(APIClient(), store, Scope.STOCK_WRITE)
    res = pos.post(MOVEMENTS, batch("POS-1"), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert res.status_code == 200 and "Idempotent-Replayed" not in res
    merch = APIClient()
    merch.force_authenticate(MerchandiserFactory())
    res = merch.post(MOVEMENTS, batch("ERP-1"), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert res.status_code == 200 and "Idempotent-Replayed" not in res
    assert on_hand() == 16


def test_a_refused_batch_is_stored_and_replayed(api_client, store):
    client = token_client(api_client, store, Scope.STOCK_WRITE)
    first = client.post(MOVEMENTS, {"movements": []}, format="json", HTTP_IDEMPOTENCY_KEY="empty")
    again = client.post(MOVEMENTS, {"movements": []}, format="json", HTTP_IDEMPOTENCY_KEY="empty")
    assert first.status_code == again.status_code == 400 and first.json()["error"]["code"] == "invalid_batch_size"
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"


# --- snapshots -----------------------------------------------------------------------------------


def test_a_resent_snapshot_without_external_id_reconciles_once_with_its_key(api_client, store):
    client = token_client(api_client, store, Scope.STOCK_WRITE)
    body = {"location": "ST-01", "lines": [{"sku": "TEE-S", "counted": 9}]}
    first = client.post(SNAPSHOTS, body, format="json", HTTP_IDEMPOTENCY_KEY="count-1")
    assert first.status_code == 201, first.json()
    services.stock_receive(product=StockLevel.objects.get().product, location=store, quantity=5, source="wms")
    again = client.post(SNAPSHOTS, body, format="json", HTTP_IDEMPOTENCY_KEY="count-1")
    assert again.status_code == 201 and again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    # the count was taken once: the receipt since is kept (9 + 5), not counted away to 9 again
    assert StockSnapshot.objects.count() == 1 and on_hand() == 14
    other = client.post(SNAPSHOTS, {**body, "lines": [{"sku": "TEE-S", "counted": 8}]}, format="json",
                        HTTP_IDEMPOTENCY_KEY="count-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert StockSnapshot.objects.count() == 1 and on_hand() == 14


def test_a_refused_snapshot_answers_the_same_400_again(api_client, store):
    client = token_client(api_client, store, Scope.STOCK_WRITE)
    body = {"location": "ST-01", "lines": [{"sku": "TEE-S", "counted": -1}]}
    first = client.post(SNAPSHOTS, body, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    again = client.post(SNAPSHOTS, body, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    assert first.status_code == again.status_code == 400 and first.json()["error"]["code"] == "invalid"
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    without_key = client.post(SNAPSHOTS, body, format="json")
    assert without_key.json() == first.json()  # the key changes nothing of the answer
    assert StockSnapshot.objects.count() == 0 and on_hand() == 10


# --- CSV imports ---------------------------------------------------------------------------------


def delta(text: str = "sku,quantity\nTEE-S,4\n", name: str = "d.csv") -> dict:
    """A delta file for the token's store (a token limited to locations names one)."""
    return {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv"), "mode": "delta", "note": "weekly",
            "location": "ST-01"}


def test_a_resent_delta_upload_with_its_key_is_applied_once(api_client, store, django_capture_on_commit_callbacks):
    client = token_client(api_client, store, Scope.IMPORTS_WRITE)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(IMPORTS, delta(), format="multipart", HTTP_IDEMPOTENCY_KEY="upload-1")
    assert first.status_code == 202, first.json()
    assert on_hand() == 14
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = client.post(IMPORTS, delta(), format="multipart", HTTP_IDEMPOTENCY_KEY="upload-1")
    assert again.status_code == 202 and again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert callbacks == [] and ImportJob.objects.count() == 1 and on_hand() == 14
    # another file (one byte differs) under the key is refused and queues nothing
    other = client.post(IMPORTS, delta("sku,quantity\nTEE-S,5\n"), format="multipart",
                        HTTP_IDEMPOTENCY_KEY="upload-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert ImportJob.objects.count() == 1 and on_hand() == 14


def test_an_invalid_upload_with_a_key_answers_as_without_one(api_client, store):
    client = token_client(api_client, store, Scope.IMPORTS_WRITE)
    bad = {**delta(), "mode": "replace"}
    keyed = client.post(IMPORTS, bad, format="multipart", HTTP_IDEMPOTENCY_KEY="upload-2")
    plain = client.post(IMPORTS, {**delta(), "mode": "replace"}, format="multipart")
    assert keyed.status_code == plain.status_code == 400 and keyed.json() == plain.json()
    assert keyed.json()["error"]["code"] == "invalid" and "mode" in keyed.json()["error"]["details"]
    assert ImportJob.objects.count() == 0


def test_cancelling_an_import_with_a_key_replays_and_the_key_cannot_cancel_another(api_client, store):
    client = token_client(api_client, store, Scope.IMPORTS_WRITE)
    one = client.post(IMPORTS, delta(), format="multipart").json()["id"]
    two = client.post(IMPORTS, delta(name="e.csv"), format="multipart").json()["id"]
    first = client.post(f"{IMPORTS}/{one}/cancel", HTTP_IDEMPOTENCY_KEY="cancel-1")
    again = client.post(f"{IMPORTS}/{one}/cancel", HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert first.status_code == again.status_code == 200 and first.json()["status"] == "cancelled"
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    other = client.post(f"{IMPORTS}/{two}/cancel", HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert ImportJob.objects.get(pk=two).status == "queued" and on_hand() == 10


@pytest.mark.parametrize("key", ["two words", "k" * 256, "ключ"])
def test_a_key_the_schema_does_not_allow_is_refused_as_an_empty_one_is(api_client, store, key):
    client = token_client(api_client, store, Scope.STOCK_WRITE)
    res = client.post(MOVEMENTS, batch("GRN-1"), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert res.status_code == 400 and res.json()["error"]["code"] == "idempotency_key_required"
    assert on_hand() == 10


def test_stock_keys_past_their_keeping_time_are_forgotten_by_the_nightly_job(api_client, store, settings):
    """After ``OMNI_IDEMPOTENCY_KEEP_DAYS`` a key no longer replays its answer: the batch's items
    are still protected by their external ids (replayed per item, nothing moves twice)."""
    from datetime import timedelta

    from django.utils import timezone

    from inventory.models import StockRequestKey
    from inventory.schedules import BEAT_SCHEDULE
    from inventory.tasks import stock_request_keys_prune

    settings.OMNI_IDEMPOTENCY_KEEP_DAYS = 7
    client = token_client(api_client, store, Scope.STOCK_WRITE)
    client.post(MOVEMENTS, batch("GRN-1"), format="json", HTTP_IDEMPOTENCY_KEY="batch-old")
    client.post(MOVEMENTS, batch("GRN-2"), format="json", HTTP_IDEMPOTENCY_KEY="batch-new")
    StockRequestKey.objects.filter(key="batch-old").update(created_at=timezone.now() - timedelta(days=8))

    assert stock_request_keys_prune() == 1
    assert any(e["task"] == "inventory.tasks.stock_request_keys_prune" for e in BEAT_SCHEDULE.values())
    assert client.post(MOVEMENTS, batch("GRN-2"), format="json", HTTP_IDEMPOTENCY_KEY="batch-new")["Idempotent-Replayed"] == "true"
    old = client.post(MOVEMENTS, batch("GRN-1"), format="json", HTTP_IDEMPOTENCY_KEY="batch-old")
    assert "Idempotent-Replayed" not in old and old.json()["summary"] == {"applied": 0, "replayed": 1, "failed": 0}
    assert on_hand() == 14


def test_operations_finds_a_stock_key_in_the_admin_by_the_key_a_partner_quotes(api_client, store, client):
    """The stock API's keys are in the admin beside orders' (read-only): operations searches by the
    key and filters by caller; a merchandiser does not see these technical records."""
    from django.contrib.auth.models import Group, Permission

    from inventory.models import StockRequestKey
    from omni.access.models import PartnerToken
    from omni.access.groups import MERCHANDISER, OPERATIONS, admin_roles_sync
    from tests.inventory.factories import UserFactory

    token = token_client(api_client, store, Scope.STOCK_WRITE)
    token.post(MOVEMENTS, batch("GRN-1"), format="json", HTTP_IDEMPOTENCY_KEY="batch-grn-1")
    token.post(MOVEMENTS, batch("GRN-2"), format="json", HTTP_IDEMPOTENCY_KEY="batch-grn-2")
    caller = StockRequestKey.objects.get(key="batch-grn-1").caller
    assert caller.startswith("token:")
    admin_roles_sync(group_model=Group, permission_model=Permission)
    ops, merch = UserFactory(username="ops", is_staff=True), UserFactory(username="merch", is_staff=True)
    ops.groups.set([Group.objects.get(name=OPERATIONS)])
    merch.groups.set([Group.objects.get(name=MERCHANDISER)])

    client.force_login(ops)
    found = client.get("/admin/inventory/stockrequestkey/", {"q": "batch-grn-1"})
    assert found.status_code == 200
    assert list(found.context["cl"].result_list.values_list("key", flat=True)) == ["batch-grn-1"]
    by_caller = client.get("/admin/inventory/stockrequestkey/", {"caller": caller})
    assert sorted(by_caller.context["cl"].result_list.values_list("key", flat=True)) == ["batch-grn-1", "batch-grn-2"]
    # the caller is shown by the token's name, in the rows and in the filter, not as its stored "token:<id>"
    token_name = PartnerToken.objects.get(pk=int(caller.split(":")[1])).name
    listing = by_caller.content.decode()
    assert f"partner token “{token_name}”" in listing and f">{caller}<" not in listing
    page = client.get(f"/admin/inventory/stockrequestkey/{StockRequestKey.objects.get(key='batch-grn-1').pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()  # read-only
    assert "Stock API idempotency keys" in client.get("/admin/").content.decode()  # in the operations menu

    client.force_login(merch)
    assert client.get("/admin/inventory/stockrequestkey/").status_code == 403
