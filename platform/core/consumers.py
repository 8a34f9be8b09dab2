"""Websocket consumer for one job's live progress."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from core.errors import ApplicationError
from core.progress import job_group, job_state_message
from core.selectors import job_get

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@database_sync_to_async
def _state_for(user: Any, job_id: str) -> dict[str, Any] | None:
    try:
        return job_state_message(job_get(user=user, job_id=job_id))
    except ApplicationError:
        return None


@database_sync_to_async
def socket_user_allowed(user: Any, session: Any) -> bool:
    # A privileged user who has not passed the second factor gets nothing, as on every page. The
    # websocket has no OTP middleware, so the verified device is read from the session as it does.
    if not (user and user.is_authenticated):
        return False
    if not user.is_privileged:
        return True
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.models import Device

    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk


class JobProgressConsumer(AsyncJsonWebsocketConsumer):
    """Sends the job's current state first, then every update, until the job finishes.

    Updates are pushed through the job's channel group; the consumer also re-reads the row every
    JOB_PROGRESS_POLL_SECONDS, because an in-memory channel layer cannot carry messages across
    processes (embedded mode) and a push can be lost when Redis restarts.
    """

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.job_id = str(self.scope["url_route"]["kwargs"]["job_id"])
        await self.accept()
        if not await socket_user_allowed(user, self.scope.get("session")):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        state = await _state_for(user, self.job_id)
        if state is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.last_sent: dict[str, Any] | None = None
        await self.channel_layer.group_add(job_group(self.job_id), self.channel_name)
        await self._send_if_new(state)
        self.poller = asyncio.create_task(self._poll(user))

    async def disconnect(self, code: int) -> None:
        poller = getattr(self, "poller", None)
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            await self.channel_layer.group_discard(job_group(self.job_id), self.channel_name)

    async def job_state(self, event: dict[str, Any]) -> None:
        await self._send_if_new(event["state"])

    async def _send_if_new(self, state: dict[str, Any]) -> None:
        if state != self.last_sent:
            self.last_sent = state
            await self.send_json(state)

    async def _poll(self, user: Any) -> None:
        while True:
            await asyncio.sleep(settings.JOB_PROGRESS_POLL_SECONDS)
            state = await _state_for(user, self.job_id)
            if state is None:
                await self.close(code=CLOSE_FORBIDDEN)
                return
            await self._send_if_new(state)
