"""Websocket routes."""

from django.urls import path

from core.consumers import JobProgressConsumer
from detection.consumers import ScanAlertConsumer

websocket_urlpatterns = [
    path("ws/jobs/<uuid:job_id>/", JobProgressConsumer.as_asgi()),
    path("ws/scanner/alerts/", ScanAlertConsumer.as_asgi()),
]
