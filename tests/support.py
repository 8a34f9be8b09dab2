"""Helpers for tests that use Django: personas per clinic, signed-in clients, TOTP codes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from core.models import Clinic, Role, User
from core.services import clinic_create, clinic_member_create

PASSWORD = "correct-horse-battery"


def totp_now(user: User) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


class ClinicPeople:
    """A clinic with one member per role (privileged ones with a confirmed TOTP device)."""

    def __init__(self, slug: str) -> None:
        self.clinic: Clinic = clinic_create(
            name=f"Clinic {slug}", slug=slug, contact_email=f"desk@{slug}.example"
        )
        self.by_role: dict[str, User] = {}
        for role in Role.values:
            user = clinic_member_create(
                clinic=self.clinic,
                username=f"{slug}-{role}",
                password=PASSWORD,
                role=role,
                display_name=f"{role.title()} of {slug}",
            )
            if user.is_privileged:
                TOTPDevice.objects.create(user=user, name="test", confirmed=True)
            self.by_role[role] = user

    @property
    def admin(self) -> User:
        return self.by_role[Role.CLINIC_ADMIN]

    @property
    def clinician(self) -> User:
        return self.by_role[Role.CLINICIAN]

    @property
    def patient(self) -> User:
        return self.by_role[Role.PATIENT]

    @property
    def compliance(self) -> User:
        return self.by_role[Role.COMPLIANCE_OFFICER]


def signed_in_client(user: User) -> Client:
    """A Django test client signed in as `user`, second factor passed where the role needs it."""
    client = Client()
    response = client.post("/account/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    if user.is_privileged:
        response = client.post("/account/second-factor/", {"code": totp_now(user)})
        assert response.status_code == 302, response.content
    return client


def api_client(user: User) -> APIClient:
    """A DRF client holding an API token of `user` (TOTP code supplied for privileged roles)."""
    client = APIClient()
    body = {"username": user.username, "password": PASSWORD}
    if user.is_privileged:
        body["otp"] = totp_now(user)
    response = client.post("/api/v1/auth/token/", body, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


# Personas of the policy matrices (tests/consent/test_policy.py, tests/avatars/test_studio_policy.py):
# the four roles of one clinic, an anonymous visitor, and a platform operator (a superuser with no
# clinic and no role), who may do nothing in a clinic.
ANONYMOUS = "anonymous"
OPERATOR = "operator"
PERSONAS = [*Role.values, ANONYMOUS, OPERATOR]


def policy_persona(name: str, pk: int = 1) -> Any:
    """An unsaved user: the rules read only the user's role, clinic and sign-in state."""
    if name == ANONYMOUS:
        return AnonymousUser()
    if name == OPERATOR:
        return User(pk=pk, username="operator", is_superuser=True, is_staff=True)
    return User(pk=pk, username=f"alpha-{name}", role=name, clinic=Clinic(name="Clinic alpha", slug="alpha"))
