"""Kernel page routes."""

from django.conf import settings
from django.urls import path
from django.views.generic import RedirectView

from core import views
from core.metrics import metrics_view

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    # Browsers ask for /favicon.ico whatever the page links; every page answered it with a 404.
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}favicon.svg", permanent=True)),
    path("account/login/", views.sign_in, name="login"),
    path("account/second-factor/", views.second_factor, name="second_factor"),
    path("account/logout/", views.sign_out, name="logout"),
    path("account/invitation/<str:token>/", views.invitation_accept_page, name="invitation_accept"),
    path("jobs/", views.jobs_page, name="jobs"),
    path("jobs/<uuid:job_id>/", views.job_page, name="job"),
    path("jobs/<uuid:job_id>/cancel/", views.job_cancel_page, name="job_cancel"),
    path("videos/upload/", views.upload_page, name="upload"),
    path("team/", views.team_page, name="team"),
    path("health/", views.health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("ready/", views.ready, name="ready"),
]
