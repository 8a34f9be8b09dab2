"""Sign-in, the second factor for privileged roles, rate limits and single-use invitations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import Invitation, Role, User
from core.services import invitation_create
from tests.support import PASSWORD, ClinicPeople, totp_now


def _login(client: Client, username: str, password: str = PASSWORD):
    return client.post("/account/login/", {"username": username, "password": password})


def test_a_clinician_signs_in_with_a_password_alone(clinic_a: ClinicPeople) -> None:
    client = Client()
    assert _login(client, clinic_a.clinician.username)["Location"] == "/"
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("role", [Role.CLINIC_ADMIN, Role.COMPLIANCE_OFFICER])
def test_privileged_roles_see_nothing_before_the_second_factor(clinic_a: ClinicPeople, role: str) -> None:
    client = Client()
    user = clinic_a.by_role[role]
    assert _login(client, user.username)["Location"] == "/account/second-factor/"
    for path in ("/", "/jobs/", "/team/"):
        assert client.get(path)["Location"] == "/account/second-factor/"
    assert client.get("/api/v1/jobs/").status_code == 403
    wrong = client.post("/account/second-factor/", {"code": "000000"})
    assert wrong.status_code == 400 and b"not valid" in wrong.content
    # django-otp throttles a device after a wrong code (exponential back-off); skip the wait.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.get(user=user).throttle_reset()
    assert client.post("/account/second-factor/", {"code": totp_now(user)})["Location"] == "/"
    assert client.get("/team/").status_code == 200


def test_a_privileged_user_without_a_device_sets_one_up(clinic_a: ClinicPeople) -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=clinic_a.admin).delete()
    client = Client()
    _login(client, clinic_a.admin.username)
    page = client.get("/account/second-factor/")
    assert b"Set up your second factor" in page.content and b"data:image/svg+xml" in page.content
    device = TOTPDevice.objects.get(user=clinic_a.admin, confirmed=False)
    code = f"{totp(device.bin_key):06d}"
    assert client.post("/account/second-factor/", {"code": code})["Location"] == "/"
    device.refresh_from_db()
    assert device.confirmed


def test_wrong_passwords_are_rate_limited(clinic_a: ClinicPeople, settings) -> None:
    settings.LOGIN_RATE_LIMIT = 3
    client = Client()
    codes = [_login(client, clinic_a.clinician.username, "wrong-password").status_code for _ in range(3)]
    assert codes == [400, 400, 400]
    blocked = _login(client, clinic_a.clinician.username)  # even the right password, for now
    assert blocked.status_code == 429 and b"Too many attempts" in blocked.content


def test_the_token_endpoint_needs_the_second_factor_for_privileged_roles(clinic_a: ClinicPeople) -> None:
    client = APIClient()
    body = {"username": clinic_a.compliance.username, "password": PASSWORD}
    refused = client.post("/api/v1/auth/token/", body, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "second_factor_invalid"
    granted = client.post(
        "/api/v1/auth/token/", {**body, "otp": totp_now(clinic_a.compliance)}, format="json"
    )
    assert granted.status_code == 200 and len(granted.json()["token"]) == 40


def test_the_token_endpoint_rejects_wrong_passwords_in_the_error_format(clinic_a: ClinicPeople) -> None:
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "alpha-clinician", "password": "nope"}, format="json"
    )
    assert response.status_code == 401
    assert response.json() == {
        "message": "Wrong username or password.",
        "code": "invalid_credentials",
        "extra": {},
    }


def test_malformed_json_gets_a_clear_error(db: None) -> None:
    response = APIClient().post("/api/v1/auth/token/", data='{"username": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_an_invitation_creates_a_member_of_the_inviting_clinic_once(clinic_a: ClinicPeople) -> None:
    _, token = invitation_create(actor=clinic_a.admin, email="new@alpha.example", role=Role.CLINICIAN)
    form = {"display_name": "Dr. New Person", "username": "dr.new", "password": "a-long-unusual-passphrase"}
    client = Client()
    assert client.post(f"/account/invitation/{token}/", form)["Location"] == "/"
    user = User.objects.get(username="dr.new")
    assert (user.clinic_id, user.role, user.printed_name) == (
        clinic_a.clinic.id,
        Role.CLINICIAN,
        "Dr. New Person",
    )
    again = Client().post(f"/account/invitation/{token}/", {**form, "username": "dr.other"})
    assert again.status_code == 410 and b"already been used" in again.content
    assert not User.objects.filter(username="dr.other").exists()


def test_an_expired_invitation_is_refused(clinic_a: ClinicPeople) -> None:
    invitation, token = invitation_create(actor=clinic_a.admin, email="late@alpha.example", role=Role.PATIENT)
    Invitation.objects.filter(id=invitation.id).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = Client().get(f"/account/invitation/{token}/")
    assert response.status_code == 410 and b"expired" in response.content


def test_an_invited_privileged_user_must_set_up_the_second_factor(clinic_a: ClinicPeople) -> None:
    _, token = invitation_create(actor=clinic_a.admin, email="co@alpha.example", role=Role.COMPLIANCE_OFFICER)
    client = Client()
    response = client.post(
        f"/account/invitation/{token}/",
        {"display_name": "Compliance Two", "username": "co2", "password": "another-long-passphrase"},
    )
    assert response["Location"] == "/account/second-factor/"
    assert client.get("/")["Location"] == "/account/second-factor/"


def test_a_weak_password_is_refused_on_invitation(clinic_a: ClinicPeople) -> None:
    _, token = invitation_create(actor=clinic_a.admin, email="w@alpha.example", role=Role.PATIENT)
    response = Client().post(
        f"/account/invitation/{token}/", {"display_name": "W", "username": "weak", "password": "12345"}
    )
    assert response.status_code == 400 and not User.objects.filter(username="weak").exists()


def test_the_openapi_schema_and_docs_are_served(clinic_a: ClinicPeople) -> None:
    schema = Client().get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/jobs/" in schema.content
    from tests.support import signed_in_client

    docs = signed_in_client(clinic_a.clinician).get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_health_and_readiness(db: None) -> None:
    assert Client().get("/health/").json() == {"status": "ok"}
    ready = Client().get("/ready/")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
