"""Issue 9 findings 4, 5, 6 and the rate-limit part of 10: the role check before the write, whose
address a rate limit counts, every upload counted, and sign-in while the shared cache is down."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from core.errors import ApplicationError
from core.models import Invitation, Role, Upload
from core.ratelimit import _local_counters, forwarded_client
from core.services import invitation_create, invitation_revoke
from tests.support import PASSWORD, ClinicPeople, signed_in_client

REPO = Path(__file__).resolve().parents[2]
JUNK = b"\x13\x37" * 600  # not a media file: refused by upload_check after the rate limit counted it


def _junk(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, JUNK)


# --- finding 4: role check before the write -------------------------------------------------------


def test_a_compliance_officer_cannot_revoke_an_invitation_through_the_team_page(
    clinic_a: ClinicPeople,
) -> None:
    """Issue 9 finding 4: the page answered "not found" but the UPDATE had already revoked it."""
    invitation, _ = invitation_create(actor=clinic_a.admin, email="new@example.org", role=Role.CLINICIAN)
    client = signed_in_client(clinic_a.compliance)
    page = client.post("/team/", {"revoke": str(invitation.id)}, follow=True)
    assert b"Only clinic admins can withdraw invitations." in page.content
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


@pytest.mark.parametrize("role", [Role.COMPLIANCE_OFFICER, Role.CLINICIAN, Role.PATIENT])
def test_invitation_revoke_refuses_other_roles_before_writing(clinic_a: ClinicPeople, role: str) -> None:
    """Issue 9 finding 4: the service checks the role first, and says it is a permission refusal."""
    invitation, _ = invitation_create(actor=clinic_a.admin, email="new@example.org", role=Role.CLINICIAN)
    with pytest.raises(ApplicationError) as refused:
        invitation_revoke(actor=clinic_a.by_role[role], invitation_id=invitation.id)
    assert (refused.value.status, refused.value.code) == (403, "permission_denied")
    assert Invitation.objects.get(id=invitation.id).revoked_at is None


def test_a_clinic_admin_still_revokes_and_a_malformed_id_is_not_found(clinic_a: ClinicPeople) -> None:
    """Issue 9 finding 4: the reordering keeps the admin's revoke, and a bad id is a clean 404."""
    invitation, _ = invitation_create(actor=clinic_a.admin, email="new@example.org", role=Role.CLINICIAN)
    invitation_revoke(actor=clinic_a.admin, invitation_id=str(invitation.id))
    assert Invitation.objects.get(id=invitation.id).revoked_at is not None
    for bad in ("not-a-uuid", invitation.id):  # the second is already revoked
        with pytest.raises(ApplicationError) as refused:
            invitation_revoke(actor=clinic_a.admin, invitation_id=bad)
        assert refused.value.status == 404


# --- finding 5: trusted proxies -------------------------------------------------------------------


def test_forwarded_for_is_read_only_from_a_trusted_proxy_right_to_left() -> None:
    """Issue 9 finding 5: the right-most address that is not a trusted proxy is the client."""
    trusted = ["10.0.0.0/8", "::1"]
    assert (
        forwarded_client(peer="203.0.113.9", forwarded_for="1.2.3.4", trusted_proxies=trusted)
        == "203.0.113.9"
    )
    assert forwarded_client(peer="10.1.1.1", forwarded_for="1.2.3.4", trusted_proxies=[]) == "10.1.1.1"
    chain = "6.6.6.6, 198.51.100.2, 10.2.2.2"  # the client's claim, its real address, an inner proxy
    assert forwarded_client(peer="10.1.1.1", forwarded_for=chain, trusted_proxies=trusted) == "198.51.100.2"
    assert (
        forwarded_client(peer="::1", forwarded_for="198.51.100.3", trusted_proxies=trusted) == "198.51.100.3"
    )
    assert forwarded_client(
        peer="::ffff:10.1.1.1", forwarded_for="198.51.100.4", trusted_proxies=trusted
    ) == ("198.51.100.4")
    assert forwarded_client(peer="10.1.1.1", forwarded_for="", trusted_proxies=trusted) == "10.1.1.1"


def test_rotating_forwarded_for_from_an_untrusted_peer_does_not_defeat_the_login_limit(
    clinic_a: ClinicPeople, settings
) -> None:
    """Issue 9 finding 5: without CANDOR_TRUSTED_PROXIES the header is ignored by Django."""
    settings.LOGIN_RATE_LIMIT = 3
    client = Client()
    codes = [
        client.post(
            "/account/login/",
            {"username": clinic_a.clinician.username, "password": "wrong-password"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        ).status_code
        for n in range(5)
    ]
    assert codes == [400, 400, 400, 429, 429]


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(clinic_a: ClinicPeople, settings) -> None:
    """Issue 9 finding 5: with the proxy listed, each real client has its own count."""
    settings.LOGIN_RATE_LIMIT = 2
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    client = APIClient()  # REMOTE_ADDR 127.0.0.1: the proxy
    body = {"username": clinic_a.clinician.username, "password": "wrong-password"}

    def attempt(forwarded: str) -> int:
        return client.post(
            "/api/v1/auth/token/", body, format="json", HTTP_X_FORWARDED_FOR=forwarded
        ).status_code

    assert [attempt("198.51.100.1") for _ in range(3)] == [401, 401, 429]
    assert attempt("198.51.100.2") == 401  # another client behind the same proxy
    assert attempt("198.51.100.2, 198.51.100.1") == 429  # the proxy appended the limited client


def test_a_malformed_trusted_proxy_setting_stops_start_up() -> None:
    """Issue 9 finding 5: a typo in CANDOR_TRUSTED_PROXIES must not silently trust nobody (or everybody)."""
    env = {**os.environ, "CANDOR_TRUSTED_PROXIES": "10.0.0.0/8, not-an-address"}
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings.base"],
        cwd=REPO / "platform",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "CANDOR_TRUSTED_PROXIES: 'not-an-address'" in result.stderr


def _demo_server_options() -> dict[str, Any]:
    """The proxy options bin/demo gives uvicorn, parsed by uvicorn's own command line."""
    import uvicorn

    script = (REPO / "bin" / "demo").read_text().replace("\\\n", " ")
    line = next(row for row in script.splitlines() if row.startswith(".venv/bin/uvicorn "))
    args = shlex.split(line.replace('"$HOST"', "127.0.0.1").replace('"$PORT"', "0"))[1:]
    params = uvicorn.main.make_context("uvicorn", args).params
    return {"proxy_headers": params["proxy_headers"], "forwarded_allow_ips": params["forwarded_allow_ips"]}


@pytest.fixture
def demo_server(transactional_db: None, settings: Any) -> Iterator[str]:
    """The ASGI application served by uvicorn on loopback with the options bin/demo uses."""
    import uvicorn

    from config.asgi import application

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            **_demo_server_options(),
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _post(url: str, body: bytes, content_type: str, forwarded: str) -> int:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type, "X-Forwarded-For": forwarded}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_the_demo_server_does_not_let_forwarded_for_defeat_the_login_and_verify_limits(
    demo_server: str, settings: Any
) -> None:
    """Issue 9 finding 5: uvicorn took X-Forwarded-For from any loopback peer as the client, so a
    rotating header gave every attempt a fresh count."""
    from tests.support import ClinicPeople

    people = ClinicPeople("gamma")
    settings.LOGIN_RATE_LIMIT = 2
    settings.PROVENANCE_VERIFY_RATE_LIMIT = 2
    login = json.dumps({"username": people.clinician.username, "password": "wrong-password"}).encode()
    codes = [
        _post(f"{demo_server}/api/v1/auth/token/", login, "application/json", f"198.51.100.{n}")
        for n in range(4)
    ]
    assert codes == [401, 401, 429, 429]
    boundary = "candorboundary"
    empty_file = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        f"Content-Type: image/png\r\n\r\n\r\n--{boundary}--\r\n"
    ).encode()
    verify = [
        _post(
            f"{demo_server}/api/v1/verify/",
            empty_file,
            f"multipart/form-data; boundary={boundary}",
            f"192.0.2.{n}",
        )
        for n in range(4)
    ]
    assert verify == [400, 400, 429, 429]


# --- finding 6: every upload counts ---------------------------------------------------------------


@pytest.fixture
def one_upload_per_window(settings: Any) -> None:
    settings.UPLOAD_RATE_LIMIT = 1


def _refused_for_rate(response: Any) -> bool:
    return b"Too many attempts" in response.content


@pytest.mark.usefixtures("one_upload_per_window")
def test_consent_statement_uploads_are_rate_limited(clinic_a: ClinicPeople) -> None:
    """Issue 9 finding 6: the consent-statement upload did not count against the upload limit."""
    client = signed_in_client(clinic_a.clinician)
    url = f"/consent/likeness/{uuid.uuid4()}/evidence/"
    first = client.post(url, {"file": _junk("statement.mp4")}, follow=True)
    assert not _refused_for_rate(first)
    assert _refused_for_rate(client.post(url, {"file": _junk("statement.mp4")}, follow=True))
    assert not Upload.objects.exists()


@pytest.mark.usefixtures("one_upload_per_window")
@pytest.mark.parametrize(
    "files",
    [{"footage": "footage.mp4"}, {"footage": "footage.mp4", "voice": "voice.wav"}, {"photo": "portrait.png"}],
    ids=["enrollment-footage", "voice-sample", "portrait"],
)
def test_studio_enrollment_uploads_are_rate_limited(clinic_a: ClinicPeople, files: dict[str, str]) -> None:
    """Issue 9 finding 6: enrollment footage, voice samples and portraits did not count either."""
    client = signed_in_client(clinic_a.clinician)

    def send() -> Any:
        return client.post("/studio/", {field: _junk(name) for field, name in files.items()})

    assert not _refused_for_rate(send())
    assert _refused_for_rate(send())
    assert not Upload.objects.exists()


@pytest.mark.usefixtures("one_upload_per_window")
def test_the_enrollment_and_portrait_services_answer_429(clinic_a: ClinicPeople) -> None:
    """Issue 9 finding 6: the services refuse with the rate limit's own status, for the API and pages."""
    from avatars.services import enrollment_footage_start, enrollment_portrait_create

    user = clinic_a.clinician
    with pytest.raises(ApplicationError) as first:
        enrollment_portrait_create(actor=user, clinician=user, photo=_junk("portrait.png"))
    assert first.value.status != 429
    with pytest.raises(ApplicationError) as second:
        enrollment_footage_start(actor=user, clinician=user, footage=_junk("f.mp4"), voice=_junk("v.wav"))
    assert second.value.status == 429


@pytest.mark.usefixtures("one_upload_per_window")
def test_narration_uploads_are_rate_limited(clinic_a: ClinicPeople) -> None:
    """Issue 9 finding 6: a recorded narration is an upload too."""
    from avatars.models import NarrationSource
    from avatars.services import enrollment_stock_get_or_create, script_save

    stock = enrollment_stock_get_or_create(actor=clinic_a.clinician)

    def save() -> None:
        script_save(
            actor=clinic_a.clinician,
            enrollment_id=stock.id,
            title="Fasting before a blood test",
            language="en",
            topic="diabetes",
            audience="patients",
            channel="portal",
            text="Please do not eat for eight hours before your blood test.",
            narration_source=NarrationSource.RECORDING,
            narration=_junk("narration.wav"),
        )

    with pytest.raises(ApplicationError) as first:
        save()
    assert first.value.status != 429
    with pytest.raises(ApplicationError) as second:
        save()
    assert second.value.status == 429


# --- finding 10 (rate-limit part): the counter while Redis is down ---------------------------------


@pytest.fixture
def cache_down(settings: Any) -> Iterator[None]:
    """The shared cache is Redis on a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
        }
    }
    _local_counters.clear()
    yield
    _local_counters.clear()


@pytest.mark.usefixtures("cache_down")
def test_signing_in_works_while_the_cache_is_down(clinic_a: ClinicPeople) -> None:
    """Issue 9 finding 10: with Redis down, POST /api/v1/auth/token/ and the sign-in page were a 500."""
    token = APIClient().post(
        "/api/v1/auth/token/", {"username": clinic_a.clinician.username, "password": PASSWORD}, format="json"
    )
    assert token.status_code == 200 and len(token.json()["token"]) == 40
    page = Client().post("/account/login/", {"username": clinic_a.clinician.username, "password": PASSWORD})
    assert page.status_code == 302 and page["Location"] == "/"


@pytest.mark.usefixtures("cache_down")
def test_while_the_cache_is_down_attempts_are_still_limited_in_the_process(
    clinic_a: ClinicPeople, settings: Any
) -> None:
    """Issue 9 finding 10: the counter falls back to this process, so guessing stays limited."""
    settings.LOGIN_RATE_LIMIT = 2
    client = APIClient()
    body = {"username": clinic_a.clinician.username, "password": "wrong-password"}
    codes = [client.post("/api/v1/auth/token/", body, format="json").status_code for _ in range(3)]
    assert codes == [401, 401, 429]
