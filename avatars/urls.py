"""Studio and viewer routes."""

from django.urls import path

from avatars import views, views_anonymize, views_biometrics

app_name = "avatars"
urlpatterns = [
    path("studio/", views.studio_page, name="studio"),
    path(
        "studio/enrollments/<uuid:enrollment_id>/delete/",
        views_biometrics.enrollment_delete_page,
        name="enrollment_delete",
    ),
    path("privacy/biometric-data/", views_biometrics.retention_schedule_page, name="retention"),
    path("studio/scripts/new/", views.script_page, name="script_new"),
    path("studio/scripts/<uuid:script_id>/", views.script_page, name="script"),
    path("videos/<uuid:video_id>/", views.video_page, name="video"),
    path("videos/<uuid:video_id>/media/<str:name>", views.video_media, name="video_media"),
    path("v/<str:token>/", views.link_viewer, name="link"),
    path("v/<str:token>/media/<str:name>", views.link_media, name="link_media"),
    path("anonymize/", views_anonymize.anonymize_page, name="anonymize"),
    path("anonymize/<uuid:anonymization_id>/", views_anonymize.anonymization_page, name="anonymization"),
    path(
        "anonymize/<uuid:anonymization_id>/media/<str:name>",
        views_anonymize.anonymization_media,
        name="anonymization_media",
    ),
    path(
        "anonymize/<uuid:anonymization_id>/report.pdf",
        views_anonymize.anonymization_report,
        name="anonymization_report",
    ),
]
