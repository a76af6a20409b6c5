from django.urls import path

from .availability import AvailabilityView, PickupView

urlpatterns: list = [
    path("availability", AvailabilityView.as_view(), name="availability"),
    path("availability/pickup", PickupView.as_view(), name="availability-pickup"),
]
