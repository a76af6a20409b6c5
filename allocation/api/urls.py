from django.urls import path  # noqa: F401

urlpatterns: list = []

from django.urls import include  # noqa: E402  (channel sync)

urlpatterns += [path("", include("allocation.sync.urls"))]
