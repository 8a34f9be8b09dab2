"""Shared fixtures: clinics, one person per role in two clinics, generated media, API clients."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from core.demo import demo_video_write
from core.models import Clinic, Role, User
from core.services import clinic_create, clinic_member_create

PASSWORD = "correct-horse-battery"
SHARED_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def pytest_report_header(config: pytest.Config) -> list[str]:
    db = settings.DATABASES["default"]
    return [
        f"candor database: {db['ENGINE'].rsplit('.', 1)[-1]} ({'DATABASE_URL' if os.environ.get('DATABASE_URL') else 'embedded default'})",
        f"candor broker/channel layer: {'redis' if settings.REDIS_URL else 'in-memory (no REDIS_URL)'}",
    ]


@pytest.fixture(autouse=True)
def _isolated_media(settings: pytest.FixtureRequest, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield


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


@pytest.fixture
def clinic_a(db: None) -> ClinicPeople:
    return ClinicPeople("alpha")


@pytest.fixture
def clinic_b(db: None) -> ClinicPeople:
    return ClinicPeople("beta")


def signed_in_client(user: User):
    """A Django test client signed in as `user`, second factor passed where the role needs it."""
    from django.test import Client

    client = Client()
    response = client.post("/account/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    if user.is_privileged:
        response = client.post("/account/second-factor/", {"code": totp_now(user)})
        assert response.status_code == 302, response.content
    return client


def api_client(user: User) -> APIClient:
    client = APIClient()
    body = {"username": user.username, "password": PASSWORD}
    if user.is_privileged:
        body["otp"] = totp_now(user)
    response = client.post("/api/v1/auth/token/", body, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


@pytest.fixture(scope="session")
def tiny_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-second 160x96 H.264 + AAC clip with moving texture and a tone."""
    return demo_video_write(tmp_path_factory.mktemp("media") / "tiny.mp4", seconds=2.0, width=160, height=96)


def db_vendor() -> str:
    return connection.vendor
