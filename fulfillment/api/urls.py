from django.urls import path

from . import views

urlpatterns = [
    path("fulfillment/works", views.WorkListView.as_view(), name="fulfillment-works"),
    path("fulfillment/works/<int:pk>", views.WorkDetailView.as_view(), name="fulfillment-work"),
    *[path(f"fulfillment/works/<int:pk>/{action}", view.as_view(), name=f"fulfillment-work-{action}")
      for action, view in views.WORK_ACTION_VIEWS.items()],
    path("orders/<int:pk>/fulfillments", views.OrderFulfillmentsView.as_view(), name="order-fulfillments"),
    path("orders/<int:pk>/choices", views.OrderChoicesView.as_view(), name="order-choices"),
    path("orders/<int:pk>/choices/<int:choice_id>", views.OrderChoiceAnswerView.as_view(), name="order-choice-answer"),
]
