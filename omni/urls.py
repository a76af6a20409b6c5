from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from omni import error_pages, health
from omni.api import guard

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

# /api/ answers in JSON (omni.api.guard); a page answers in the look of where it was (omni.error_pages).


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return guard.api_handler400(request, exception) if guard.is_api(request) else error_pages.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return guard.api_handler403(request, exception) if guard.is_api(request) else error_pages.forbidden(request, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return guard.api_handler404(request, exception) if guard.is_api(request) else error_pages.not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    return guard.api_handler500(request) if guard.is_api(request) else error_pages.server_error(request)

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
