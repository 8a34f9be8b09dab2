"""The job progress websocket: who may listen, and that the current state and updates arrive."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile

from config.asgi import application
from core.models import MediaJob, User
from core.progress import JobProgress
from core.services import job_claim, video_proxy_start
from tests.support import ClinicPeople, signed_in_client

pytestmark = pytest.mark.django_db(transaction=True)


def _job(clinic: ClinicPeople, video: Path) -> MediaJob:
    from django.db import transaction

    with transaction.atomic():
        # Enqueueing is not under test here; drop the on-commit send.
        job = video_proxy_start(actor=clinic.clinician, file=SimpleUploadedFile("c.mp4", video.read_bytes()))
        transaction.get_connection().run_on_commit.clear()
    return job


def _communicator(job: MediaJob, user: User | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if user is not None:
        cookie = signed_in_client(user).cookies["sessionid"].value
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, f"/ws/jobs/{job.id}/", headers=headers)


async def _closed_with(communicator: WebsocketCommunicator) -> int:
    connected, _ = await communicator.connect()
    assert connected
    message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    return message["code"]


def test_an_unauthenticated_socket_is_refused(clinic_a: ClinicPeople, tiny_video: Path) -> None:
    from asgiref.sync import async_to_sync

    job = _job(clinic_a, tiny_video)
    assert async_to_sync(_closed_with)(_communicator(job, None)) == 4401


def test_another_clinics_job_is_refused(
    clinic_a: ClinicPeople, clinic_b: ClinicPeople, tiny_video: Path
) -> None:
    from asgiref.sync import async_to_sync

    job = _job(clinic_a, tiny_video)
    for user in (clinic_b.admin, clinic_b.clinician):
        assert async_to_sync(_closed_with)(_communicator(job, user)) == 4403


def test_a_patient_cannot_watch_a_clinicians_job(clinic_a: ClinicPeople, tiny_video: Path) -> None:
    from asgiref.sync import async_to_sync

    job = _job(clinic_a, tiny_video)
    assert async_to_sync(_closed_with)(_communicator(job, clinic_a.patient)) == 4403


def test_the_current_state_then_updates_arrive(clinic_a: ClinicPeople, tiny_video: Path) -> None:
    from asgiref.sync import async_to_sync

    job = _job(clinic_a, tiny_video)
    communicator = _communicator(job, clinic_a.clinician)

    async def scenario() -> list[dict]:
        connected, _ = await communicator.connect()
        assert connected
        received = [await communicator.receive_json_from(timeout=5)]
        claimed = await sync_to_async(job_claim)(job_id=job.id)
        await sync_to_async(JobProgress(claimed))(0.4, "converting")
        while received[-1].get("stage") != "converting":
            received.append(await communicator.receive_json_from(timeout=5))
        await communicator.disconnect()
        return received

    messages = async_to_sync(scenario)()
    assert messages[0]["status"] == "queued" and messages[0]["job"] == str(job.id)
    assert messages[-1]["percent"] == 40.0 and messages[-1]["status"] == "running"
    for message in messages:  # ids, codes and numbers only: no names, no file names
        assert "c.mp4" not in str(message) and clinic_a.clinician.username not in str(message)


def test_the_admin_of_the_clinic_may_watch(clinic_a: ClinicPeople, tiny_video: Path) -> None:
    from asgiref.sync import async_to_sync

    job = _job(clinic_a, tiny_video)
    communicator = _communicator(job, clinic_a.admin)

    async def first() -> dict:
        await communicator.connect()
        message = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return message

    assert async_to_sync(first)()["job"] == str(job.id)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the Redis channel layer needs REDIS_URL")
def test_a_redis_channel_layer_listener_outlives_a_quiet_spell_longer_than_its_blocking_pop() -> None:
    """A consumer waiting on the Redis layer for more than 5 s still gets the next message.

    With redis-py 8 the default read timeout (5 s) equalled channels_redis's blocking pop (5 s):
    a quiet job page's consumer died with "Timeout reading from 127.0.0.1:6379" and the page never
    showed the finished render (CI, 2026-12-01).
    """
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()

    async def quiet_then_message() -> dict[str, str]:
        channel = await layer.new_channel()

        async def send_later() -> None:
            await asyncio.sleep(layer.brpop_timeout + 2)
            await layer.send(channel, {"type": "job.state", "state": "done"})

        sender = asyncio.ensure_future(send_later())
        try:
            return await layer.receive(channel)
        finally:
            await sender

    assert async_to_sync(quiet_then_message)()["state"] == "done"
