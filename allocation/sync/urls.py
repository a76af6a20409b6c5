from django.urls import path

from .api import AvailabilityChangesView, AvailabilitySnapshotView, StockSnapshotView

urlpatterns = [
    path("availability/changes", AvailabilityChangesView.as_view(), name="availability-changes"),
    path("availability/snapshot.csv", AvailabilitySnapshotView.as_view(), name="availability-snapshot"),
    path("stock-snapshots", StockSnapshotView.as_view(), name="stock-snapshots"),
]
