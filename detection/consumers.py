"""Websocket consumer of a clinic's scanner alerts, for its compliance officers and clinic admins."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from core.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, socket_user_allowed
from core.models import User
from detection.alerts import alert_group, alerts_of
from detection.models import ALERTING_VERDICTS, DICOM_ALERTING_VERDICTS, DicomStudy, Scan
from detection.policy import may_scan


@database_sync_to_async
def _alerts_since(clinic_id: Any, since: datetime) -> list[dict[str, Any]]:
    scans = Scan.objects.filter(
        clinic_id=clinic_id, verdict_kind__in=ALERTING_VERDICTS, finished_at__gt=since
    ).order_by("finished_at")
    studies = DicomStudy.objects.filter(
        clinic_id=clinic_id, verdict__in=DICOM_ALERTING_VERDICTS, finished_at__gt=since
    )
    return alerts_of(scans, studies)


class ScanAlertConsumer(AsyncJsonWebsocketConsumer):
    """Joins the user's clinic alert group and forwards each alert once, as JSON.

    Alerts are pushed through the clinic's group; like the job progress socket, the consumer also
    looks for alerting verdicts every JOB_PROGRESS_POLL_SECONDS, because an in-memory channel layer
    cannot carry a worker's message across processes and a push is lost while Redis restarts.
    """

    group = ""

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        # The same second-factor rule as every page and the job progress socket.
        if not await socket_user_allowed(user, self.scope.get("session")):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not isinstance(user, User) or not may_scan(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.sent: set[str] = set()
        self.since: datetime = timezone.now()
        self.group = alert_group(user.clinic_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json({"type": "ready"})
        self.poller = asyncio.create_task(self._poll(user.clinic_id))

    async def disconnect(self, code: int) -> None:
        poller = getattr(self, "poller", None)
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def scan_alert(self, event: dict[str, Any]) -> None:
        await self._send_once(event["alert"])

    async def _send_once(self, alert: dict[str, Any]) -> None:
        if alert["scan"] not in self.sent:
            self.sent.add(alert["scan"])
            await self.send_json({"type": "alert", **alert})

    async def _poll(self, clinic_id: Any) -> None:
        while True:
            await asyncio.sleep(settings.JOB_PROGRESS_POLL_SECONDS)
            for alert in await _alerts_since(clinic_id, self.since):
                self.since = max(self.since, alert.pop("finished_at"))
                await self._send_once(alert)
