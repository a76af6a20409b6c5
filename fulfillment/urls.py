"""Pages served at the site root: the store app (fulfillment/store)."""

from django.urls import include, path

urlpatterns = [
    path("", include("fulfillment.store.urls")),
]
