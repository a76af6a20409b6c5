from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from .views import LedgerCheckView, LocationViewSet, ProductViewSet, StockLevelViewSet, StockMovementBatchView

router = SimpleRouter()
router.trailing_slash = "/?"  # the slash is optional (SimpleRouter(trailing_slash=...) only knows "/" or "")
router.register("locations", LocationViewSet, basename="location")
router.register("products", ProductViewSet, basename="product")
router.register("stock-levels", StockLevelViewSet, basename="stock-level")

urlpatterns = [
    re_path(r"^stock-movements/?$", StockMovementBatchView.as_view(), name="stock-movements"),
    re_path(r"^ledger/check/?$", LedgerCheckView.as_view(), name="ledger-check"),
    path("", include("inventory.api.import_urls")),  # CSV stock imports
    path("", include("inventory.snapshots.urls")),  # inbound stock snapshots
    *router.urls,
]
