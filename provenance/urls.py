"""The public verify page."""

from django.urls import path

from provenance import views

app_name = "provenance"
urlpatterns = [
    path("verify/", views.verify_page, name="verify"),
]
