from django.urls import path  # noqa: F401

urlpatterns: list = []

# CSV stock imports (issue 6)
from django.urls import include  # noqa: E402

urlpatterns += [path("", include("inventory.api.import_urls"))]
