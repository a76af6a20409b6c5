from django.urls import include, path

from .availability import AvailabilityView, PickupView

urlpatterns: list = [
    path("availability", AvailabilityView.as_view(), name="availability"),
    path("availability/pickup", PickupView.as_view(), name="availability-pickup"),
    path("", include("allocation.sync.urls")),  # channel sync: changes feed, snapshot CSV
]
