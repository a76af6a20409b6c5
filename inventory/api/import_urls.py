from django.urls import path

from .imports import StockImportCancelView, StockImportCreateView, StockImportDetailView, StockImportErrorsView

urlpatterns = [
    path("imports/stock", StockImportCreateView.as_view(), name="stock-import-create"),
    path("imports/stock/<int:pk>", StockImportDetailView.as_view(), name="stock-import-detail"),
    path("imports/stock/<int:pk>/errors.csv", StockImportErrorsView.as_view(), name="stock-import-errors"),
    path("imports/stock/<int:pk>/cancel", StockImportCancelView.as_view(), name="stock-import-cancel"),
]
