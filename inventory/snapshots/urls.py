from django.urls import path

from .api import StockSnapshotView

urlpatterns = [
    path("stock-snapshots", StockSnapshotView.as_view(), name="stock-snapshots"),
]
