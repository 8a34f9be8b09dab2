"""Websocket routes."""

from django.urls import path

from core.consumers import JobProgressConsumer
from detection.consumers import ScanAlertConsumer

# django-stubs type path() for Django views only; Channels routes ASGI consumers through it too.
websocket_urlpatterns = [
    path("ws/jobs/<uuid:job_id>/", JobProgressConsumer.as_asgi()),  # type: ignore[arg-type]
    path("ws/scanner/alerts/", ScanAlertConsumer.as_asgi()),  # type: ignore[arg-type]
]
