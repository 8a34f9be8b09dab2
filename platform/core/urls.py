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
    path("account/password-reset/", views.PasswordResetRequestView.as_view(), name="password_reset"),
    path("account/password-reset/sent/", views.PasswordResetSentView.as_view(), name="password_reset_sent"),
    path(
        "account/password-reset/<uidb64>/<token>/",
        views.PasswordResetSetView.as_view(),
        name="password_reset_confirm",
    ),
    path("account/password-reset/done/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("account/logout/", views.sign_out, name="logout"),
    path("account/invitation/<str:token>/", views.invitation_accept_page, name="invitation_accept"),
    path("jobs/", views.jobs_page, name="jobs"),
    path("jobs/<uuid:job_id>/", views.job_page, name="job"),
    path("jobs/<uuid:job_id>/cancel/", views.job_cancel_page, name="job_cancel"),
    path("videos/upload/", views.upload_page, name="upload"),
    path("team/", views.team_page, name="team"),
    path(
        "team/members/<int:member_id>/<slug:action>/",
        views.team_member_action_page,
        name="team_member_action",
    ),
    path("health/", views.health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("ready/", views.ready, name="ready"),
]
