"""Studio and viewer routes."""

from django.urls import path

from avatars import views

app_name = "avatars"
urlpatterns = [
    path("studio/", views.studio_page, name="studio"),
    path("studio/scripts/new/", views.script_page, name="script_new"),
    path("studio/scripts/<uuid:script_id>/", views.script_page, name="script"),
    path("videos/<uuid:video_id>/", views.video_page, name="video"),
    path("videos/<uuid:video_id>/media/<str:name>", views.video_media, name="video_media"),
    path("v/<str:token>/", views.link_viewer, name="link"),
    path("v/<str:token>/media/<str:name>", views.link_media, name="link_media"),
]
