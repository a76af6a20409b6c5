"""The newest acknowledged figure per channel and SKU, read in one pass (DISTINCT ON on PostgreSQL,
ROW_NUMBER() on SQLite), is exactly what the correlated subquery it replaced returned, and the
query count of the drift does not grow with the log."""

from __future__ import annotations

import random
import re

import pytest
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from allocation.sync.models import MessageKind, MessageStatus, SyncMessage
from omni.insights.live import newest_acked_figures, sync_drift
from tests.allocation.factories import ChannelFactory
from tests.inventory.factories import ProductFactory

pytestmark = pytest.mark.django_db


def _reference(acked):
    """The former query: for each message, a subquery for the newest id of its channel and SKU."""
    newest = acked.filter(channel_id=OuterRef("channel_id"), product_id=OuterRef("product_id")).order_by("-sequence").values("id")[:1]
    return sorted(acked.filter(id=Subquery(newest)).values_list("channel_id", "product_id", "available"))


def _log(rng: random.Random):
    """Three channels × six SKUs, sequences written out of id order, some not acknowledged (the newest
    of those must not count), a figure of None, and events without a SKU."""
    channels = [ChannelFactory(code=f"ch-{i}") for i in range(3)]
    products = [ProductFactory(sku=f"DRIFT-{i}") for i in range(6)]
    now = timezone.now()
    rows = []
    for ch in channels:
        for p in products[: rng.randint(2, 6)]:
            sequences = rng.sample(range(1, 60), rng.randint(1, 6))  # shuffled: id order is not sequence order
            for seq in sequences:
                acked = rng.random() < 0.7
                rows.append(SyncMessage(channel=ch, product=p, sequence=seq, changed_at=now,
                                        available=None if rng.random() < 0.1 else rng.randint(0, 40),
                                        status=MessageStatus.SENT if acked else MessageStatus.PENDING,
                                        acked_at=now if acked else None))
        rows.append(SyncMessage(channel=ch, kind=MessageKind.EVENT, event="order.cancelled", sequence=1, changed_at=now,
                                acked_at=now, status=MessageStatus.SENT))
    SyncMessage.objects.bulk_create(rows)
    return channels


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_pass_returns_what_the_correlated_subquery_returned(seed):
    channels = _log(random.Random(seed))
    acked = SyncMessage.objects.filter(kind=MessageKind.AVAILABILITY, acked_at__isnull=False, product__isnull=False)
    expected = _reference(acked)
    assert len(expected) >= 6  # the log is not trivial
    assert sorted(newest_acked_figures(acked)) == expected
    one = acked.filter(channel_id=channels[1].pk)
    assert sorted(newest_acked_figures(one)) == _reference(one)


def test_the_drift_reads_the_log_once():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _log(random.Random(7))
    with CaptureQueriesContext(connection) as ctx:
        drift = sync_drift()
    log_reads = [q["sql"] for q in ctx.captured_queries if "allocation_syncmessage" in q["sql"]]
    assert len(log_reads) == 1
    assert not re.search(r'\bU0\."', log_reads[0])  # no subquery per message (Django names a subquery's table U0)
    assert {d.code for d in drift} >= {"ch-0", "ch-1", "ch-2"}
    assert all(d.skus > 0 for d in drift if d.code.startswith("ch-"))
