from django.urls import path

from . import views

urlpatterns = [
    path("", views.whatif_start, name="whatif"),
    path("<str:job_id>/", views.whatif_status, name="whatif-job"),
]
