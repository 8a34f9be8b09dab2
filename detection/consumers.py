"""Websocket consumer of a clinic's scanner alerts, for its compliance officers and clinic admins."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from core.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, _may_use
from detection.alerts import alert_group
from detection.policy import may_scan


class ScanAlertConsumer(AsyncJsonWebsocketConsumer):
    """Joins the user's clinic alert group and forwards each alert as JSON."""

    group = ""

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        # The same second-factor rule as every page and the job progress socket.
        if not await _may_use(user, self.scope.get("session")):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not may_scan(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group = alert_group(user.clinic_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json({"type": "ready"})

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def scan_alert(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "alert", **event["alert"]})
