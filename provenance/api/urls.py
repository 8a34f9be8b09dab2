"""Provenance API routes (/api/v1/verify/)."""

from django.urls import path

from provenance.api import views

urlpatterns = [
    path("verify/", views.VerifyApi.as_view(), name="verify"),
]
