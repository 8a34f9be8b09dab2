"""Alerts of an alerting verdict: live on the clinic's alert socket, and by e-mail through a real SMTP server."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import override_settings

from config.asgi import application
from core.models import User
from detection.models import Scan
from detection.services.scans import scan_verdict_record, scans_start
from tests.support import ClinicPeople, signed_in_client


def verdict(kind: str, headline: str | None = None) -> dict[str, Any]:
    """A scan job's result as the task hands it to the service (no evidence pictures)."""
    return {
        "kind": kind,
        "headline": headline or kind,
        "subject_id": "",
        "scores": {"visual_manipulation": {"score": 0.9, "threshold": 0.5, "flagged": True, "skipped": ""}},
        "timeline": {"visual_manipulation": [[0.0, 0.8], [1.0, 0.9]]},
        "explanation": ["Manipulation evidence was found."],
        "duration": 2.0,
        "evidence": [{"analyzer": "visual_manipulation", "note": "Blending seam", "start": 0.0, "end": 1.0}],
    }


def queued_scan(clinic: ClinicPeople, video: Path) -> Scan:
    """A stored scan whose job is not sent (its run is not under test here)."""
    with transaction.atomic():
        (scan,) = scans_start(
            actor=clinic.compliance, files=[SimpleUploadedFile("clip.mp4", video.read_bytes())]
        )
        transaction.get_connection().run_on_commit.clear()
    return scan


def record(scan: Scan, kind: str) -> None:
    with transaction.atomic():
        scan_verdict_record(scan_id=scan.id, verdict=verdict(kind, f"{kind} of Dr. Test"))


def communicator(user: User | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if user is not None:
        cookie = signed_in_client(user).cookies["sessionid"].value
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, "/ws/scanner/alerts/", headers=headers)


@pytest.mark.django_db(transaction=True)
def test_a_suspected_deepfake_reaches_the_clinics_compliance_officer_live_and_not_another_clinic(
    clinic_a: ClinicPeople, clinic_b: ClinicPeople, tiny_video: Path
) -> None:
    scan = queued_scan(clinic_a, tiny_video)
    ours, theirs = communicator(clinic_a.compliance), communicator(clinic_b.compliance)

    async def scenario() -> tuple[dict[str, Any], bool]:
        for socket_ in (ours, theirs):
            connected, _ = await socket_.connect()
            assert connected
            assert (await socket_.receive_json_from(timeout=5))["type"] == "ready"
        await sync_to_async(record)(scan, "suspected unauthorized deepfake")
        alert = await ours.receive_json_from(timeout=5)
        nothing = await theirs.receive_nothing(timeout=0.5)
        await ours.disconnect()
        await theirs.disconnect()
        return alert, nothing

    alert, nothing_for_other_clinic = async_to_sync(scenario)()

    assert alert["type"] == "alert"
    assert alert["scan"] == str(scan.id)
    assert alert["verdict"] == "suspected unauthorized deepfake"
    assert alert["url"] == f"/scanner/scans/{scan.id}/"
    assert nothing_for_other_clinic


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["clinician", "patient", None])
def test_the_alert_socket_refuses_anyone_but_scanner_roles(clinic_a: ClinicPeople, who: str | None) -> None:
    user = clinic_a.by_role[who] if who else None
    socket_ = communicator(user)

    async def scenario() -> int:
        connected, _ = await socket_.connect()
        assert connected
        message = await socket_.receive_output(timeout=5)
        assert message["type"] == "websocket.close"
        return message["code"]

    assert async_to_sync(scenario)() == (4401 if user is None else 4403)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Any:
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


@pytest.mark.parametrize(
    "kind", ["suspected unauthorized deepfake", "consent withdrawn", "provenance tampered"]
)
def test_an_alerting_verdict_emails_the_compliance_officers_through_smtp(
    clinic_a: ClinicPeople,
    tiny_video: Path,
    smtp_server: Any,
    kind: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    inbox, port = smtp_server
    User.objects.filter(pk=clinic_a.compliance.pk).update(email="officer@alpha.example")
    User.objects.filter(pk=clinic_a.admin.pk).update(email="admin@alpha.example")
    scan = queued_scan(clinic_a, tiny_video)

    with (
        override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        record(scan, kind)

    (envelope,) = inbox.messages
    assert envelope.rcpt_tos == ["officer@alpha.example"]  # compliance officers, not the admin
    body = envelope.content.decode()
    assert f"{kind} of Dr. Test" in body
    assert scan.sha256 in body and f"/scanner/scans/{scan.id}/" in body


@pytest.mark.parametrize(
    "kind", ["authorized", "clinician depicted, origin unverified", "no enrolled clinician found"]
)
def test_a_verdict_that_is_not_alarming_sends_no_email(
    clinic_a: ClinicPeople, tiny_video: Path, kind: str, django_capture_on_commit_callbacks: Any
) -> None:
    User.objects.filter(pk=clinic_a.compliance.pk).update(email="officer@alpha.example")
    scan = queued_scan(clinic_a, tiny_video)

    with django_capture_on_commit_callbacks(execute=True):
        record(scan, kind)

    assert mail.outbox == []
    assert Scan.objects.get(id=scan.id).verdict_kind == kind


@pytest.mark.django_db(transaction=True)
def test_an_alert_written_by_a_worker_in_another_process_still_arrives(
    clinic_a: ClinicPeople, tiny_video: Path
) -> None:
    """No push reaches this process (an in-memory channel layer, or Redis restarting): the socket's poll finds it."""
    from django.utils import timezone

    scan = queued_scan(clinic_a, tiny_video)
    ours = communicator(clinic_a.compliance)

    async def scenario() -> dict[str, Any]:
        connected, _ = await ours.connect()
        assert connected and (await ours.receive_json_from(timeout=5))["type"] == "ready"
        await sync_to_async(
            Scan.objects.filter(id=scan.id).update,
        )(verdict_kind="provenance tampered", headline="provenance tampered", finished_at=timezone.now())
        alert = await ours.receive_json_from(timeout=5)
        assert await ours.receive_nothing(timeout=1.0)  # sent once, not at every poll
        await ours.disconnect()
        return alert

    alert = async_to_sync(scenario)()

    assert alert["scan"] == str(scan.id) and alert["verdict"] == "provenance tampered"


def test_the_compliance_home_lists_the_latest_alerts_and_listens_for_new_ones(
    clinic_a: ClinicPeople, clinic_b: ClinicPeople, tiny_video: Path, django_capture_on_commit_callbacks: Any
) -> None:
    calm, alarming = queued_scan(clinic_a, tiny_video), queued_scan(clinic_a, tiny_video)
    record(calm, "no enrolled clinician found")
    record(alarming, "provenance tampered")

    ours = signed_in_client(clinic_a.compliance).get("/").content.decode()
    theirs = signed_in_client(clinic_b.compliance).get("/").content.decode()

    assert "data-alerts-ws" in ours and f"/scanner/scans/{alarming.id}/" in ours
    assert f"/scanner/scans/{calm.id}/" not in ours
    assert f"/scanner/scans/{alarming.id}/" not in theirs
