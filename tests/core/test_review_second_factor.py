"""Issue 9 finding 1: a privileged session that has not passed the second factor gets nothing, whatever
Authorization header it carries; real tokens keep working; the session id changes at the factor."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from consent.models import Disclosure
from core.models import Invitation, Role
from tests.support import PASSWORD, ClinicPeople, api_client, totp_now

PRIVILEGED = [Role.CLINIC_ADMIN, Role.COMPLIANCE_OFFICER]
PAGES = ["/compliance/", "/team/", "/studio/", "/"]
FORGED = {"HTTP_AUTHORIZATION": "Token anything"}


def _password_only(user: object) -> Client:
    client = Client()
    response = client.post("/account/login/", {"username": user.username, "password": PASSWORD})  # type: ignore[attr-defined]
    assert response["Location"] == "/account/second-factor/"
    return client


@pytest.mark.parametrize("role", PRIVILEGED)
def test_a_token_header_does_not_open_pages_before_the_second_factor(
    clinic_a: ClinicPeople, role: str
) -> None:
    """Issue 9 finding 1: any `Authorization: Token` header used to exempt the session from the factor."""
    client = _password_only(clinic_a.by_role[role])
    for path in PAGES:
        response = client.get(path, **FORGED)
        assert (response.status_code, response.get("Location")) == (302, "/account/second-factor/"), path


@pytest.mark.parametrize("role", PRIVILEGED)
def test_a_token_header_does_not_open_the_api_before_the_second_factor(
    clinic_a: ClinicPeople, role: str
) -> None:
    """Issue 9 finding 1: the ledger, an evidence export and a new admin invitation were all allowed."""
    client = _password_only(clinic_a.by_role[role])
    listed = client.get("/api/v1/ledger/entries/", **FORGED)
    exported = client.post(
        "/api/v1/compliance/exports/",
        {"format": "json", "recipient": "Anyone", "purpose": "curiosity", "include_names": True},
        content_type="application/json",
        **FORGED,
    )
    invited = client.post(
        "/api/v1/invitations/",
        {"email": "intruder@example.org", "role": Role.CLINIC_ADMIN},
        content_type="application/json",
        **FORGED,
    )
    for response in (listed, exported, invited):
        assert response.status_code == 403
        assert response.json()["code"] == "second_factor_required"
    assert not Disclosure.objects.exists()
    assert not Invitation.objects.exists()


def test_the_team_page_creates_no_invitation_before_the_second_factor(clinic_a: ClinicPeople) -> None:
    """Issue 9 finding 1: the attack created a clinic-admin invitation through /team/ as well."""
    client = _password_only(clinic_a.admin)
    response = client.post("/team/", {"email": "intruder@example.org", "role": Role.CLINIC_ADMIN}, **FORGED)
    assert response["Location"] == "/account/second-factor/"
    assert not Invitation.objects.exists()


def test_the_api_itself_refuses_a_session_without_the_second_factor(clinic_a: ClinicPeople, settings) -> None:
    """Issue 9 finding 1: DRF authenticates by session first, so the API checks the factor on its own
    too (here with the page middleware removed)."""
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("SecondFactorRequiredMiddleware")]
    client = _password_only(clinic_a.admin)
    for headers in ({}, FORGED):
        response = client.get("/api/v1/ledger/entries/", **headers)
        assert response.status_code == 403 and response.json()["code"] == "second_factor_required"


@pytest.mark.parametrize("role", PRIVILEGED)
def test_a_token_issued_with_the_totp_code_still_works(clinic_a: ClinicPeople, role: str) -> None:
    """Issue 9 finding 1: closing the bypass must not lock out real API tokens."""
    client = api_client(clinic_a.by_role[role])
    assert client.get("/api/v1/ledger/entries/").status_code == 200
    if role == Role.CLINIC_ADMIN:
        created = client.post(
            "/api/v1/invitations/", {"email": "new@example.org", "role": Role.CLINICIAN}, format="json"
        )
        assert created.status_code == 201


def test_the_session_id_changes_when_the_second_factor_passes(clinic_a: ClinicPeople) -> None:
    """Issue 9 finding 1: an id learnt while the session was half signed in must be worth nothing after."""
    client = _password_only(clinic_a.compliance)
    before = client.session.session_key
    assert client.post("/account/second-factor/", {"code": totp_now(clinic_a.compliance)})["Location"] == "/"
    after = client.session.session_key
    assert after != before
    assert not SessionStore().exists(before)
    assert client.get("/compliance/").status_code == 200
    stale = Client()
    stale.cookies["sessionid"] = before
    assert stale.get("/compliance/")["Location"].startswith("/account/login/")


@pytest.mark.django_db(transaction=True)
def test_the_job_websocket_refuses_a_session_without_the_second_factor(clinic_a: ClinicPeople) -> None:
    """Issue 9 finding 1 (checked, already held): websockets read the verified device from the session."""
    from config.asgi import application

    client = _password_only(clinic_a.admin)
    headers = [
        (b"origin", b"http://127.0.0.1"),
        (b"host", b"127.0.0.1"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        (b"authorization", b"Token anything"),
    ]

    async def close_code() -> int:
        communicator = WebsocketCommunicator(
            application, "/ws/jobs/00000000-0000-0000-0000-000000000000/", headers=headers
        )
        connected, _ = await communicator.connect()
        assert connected
        message = await communicator.receive_output(timeout=5)
        await communicator.disconnect()
        return int(message["code"])

    assert async_to_sync(close_code)() == 4401
