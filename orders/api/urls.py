from django.urls import path

from . import views

urlpatterns = [
    path("orders", views.OrderListCreateView.as_view(), name="orders"),
    path("orders/<int:pk>", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<int:pk>/cancel", views.OrderCancelView.as_view(), name="order-cancel"),
    path("orders/<int:pk>/lines/<int:line_no>/pin", views.OrderLinePinView.as_view(), name="order-line-pin"),
    path("orders/<int:pk>/returns", views.OrderReturnView.as_view(), name="order-returns"),
    path("holds", views.HoldCreateView.as_view(), name="holds"),
    path("holds/<str:pk>", views.HoldDetailView.as_view(), name="hold-detail"),
]
