from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from omni import health

api_v1: list[URLPattern | URLResolver] = [
    path("", include("inventory.api.urls")),
    path("", include("allocation.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("fulfillment.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI and ReDoc load their scripts from drf-spectacular-sidecar (installed): they work offline.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="v1:schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="v1:schema"), name="api-redoc"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("admin/what-if/", include("fulfillment.simulation.urls")),  # the routing what-if (merchandisers)
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("fulfillment.urls")),
]

handler400 = "omni.api.guard.api_handler400"
handler403 = "omni.api.guard.api_handler403"
handler404 = "omni.api.guard.api_handler404"
handler500 = "omni.api.guard.api_handler500"

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
