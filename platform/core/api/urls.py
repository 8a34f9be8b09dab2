"""Versioned API routes (/api/v1/)."""

from django.urls import path

from core.api import views

app_name = "api"
urlpatterns = [
    path("auth/token/", views.AuthTokenApi.as_view(), name="auth-token"),
    path("me/", views.MeApi.as_view(), name="me"),
    path("jobs/", views.JobListApi.as_view(), name="job-list"),
    path("jobs/<uuid:job_id>/", views.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<uuid:job_id>/cancel/", views.JobCancelApi.as_view(), name="job-cancel"),
    path("jobs/<uuid:job_id>/outputs/<str:name>", views.JobOutputApi.as_view(), name="job-output"),
    path("videos/", views.VideoUploadApi.as_view(), name="video-upload"),
    path("uploads/", views.UploadListApi.as_view(), name="upload-list"),
    path("uploads/<uuid:upload_id>/", views.UploadDetailApi.as_view(), name="upload-detail"),
    path("members/", views.MemberListApi.as_view(), name="member-list"),
    path("invitations/", views.InvitationApi.as_view(), name="invitations"),
]
