from django.urls import path

from .api import AvailabilityChangesView, AvailabilitySnapshotView

urlpatterns = [
    path("availability/changes", AvailabilityChangesView.as_view(), name="availability-changes"),
    path("availability/snapshot.csv", AvailabilitySnapshotView.as_view(), name="availability-snapshot"),
]
