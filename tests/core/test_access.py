"""Tenant isolation and role rules for every endpoint and page.

Personas: the four roles of clinic alpha, which owns the objects, and the four of clinic beta, who
must see nothing of alpha's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from core.models import MediaJob, Role
from core.services import invitation_create, video_proxy_start
from core.tasks import video_proxy_run
from tests.support import ClinicPeople, api_client, signed_in_client

ROLES = [Role.CLINIC_ADMIN, Role.CLINICIAN, Role.PATIENT, Role.COMPLIANCE_OFFICER]
# Who in the owning clinic sees a clinician's job and upload.
SEES_JOB = {Role.CLINIC_ADMIN, Role.CLINICIAN, Role.COMPLIANCE_OFFICER}


@pytest.fixture
def alpha_job(clinic_a: ClinicPeople, tiny_video: Path, django_capture_on_commit_callbacks) -> MediaJob:
    with django_capture_on_commit_callbacks(execute=False):
        job = video_proxy_start(
            actor=clinic_a.clinician, file=SimpleUploadedFile("c.mp4", tiny_video.read_bytes())
        )
    video_proxy_run(str(job.id))
    job.refresh_from_db()
    return job


def _expected(owner_clinic: bool, role: str, allowed: set[str], ok: int = 200) -> int:
    return ok if owner_clinic and role in allowed else 404


@pytest.mark.parametrize("owner_clinic", [True, False], ids=["own-clinic", "other-clinic"])
@pytest.mark.parametrize("role", ROLES)
def test_job_and_upload_endpoints_respect_clinic_and_role(
    clinic_a: ClinicPeople, clinic_b: ClinicPeople, alpha_job: MediaJob, role: str, owner_clinic: bool
) -> None:
    user = (clinic_a if owner_clinic else clinic_b).by_role[role]
    client = api_client(user)
    expected = _expected(owner_clinic, role, SEES_JOB)
    assert client.get(f"/api/v1/jobs/{alpha_job.id}/").status_code == expected
    assert client.get(f"/api/v1/jobs/{alpha_job.id}/outputs/proxy.mp4").status_code == expected
    assert client.get(f"/api/v1/uploads/{alpha_job.input_upload_id}/").status_code == expected
    listed = {row["id"] for row in client.get("/api/v1/jobs/").json()["results"]}
    assert (str(alpha_job.id) in listed) == (expected == 200)
    uploads = {row["id"] for row in client.get("/api/v1/uploads/").json()["results"]}
    assert (str(alpha_job.input_upload_id) in uploads) == (expected == 200)


@pytest.mark.parametrize("owner_clinic", [True, False], ids=["own-clinic", "other-clinic"])
@pytest.mark.parametrize("role", ROLES)
def test_job_cancel_respects_clinic_and_role(
    clinic_a: ClinicPeople, clinic_b: ClinicPeople, alpha_job: MediaJob, role: str, owner_clinic: bool
) -> None:
    MediaJob.objects.filter(id=alpha_job.id).update(status="queued")
    user = (clinic_a if owner_clinic else clinic_b).by_role[role]
    status = api_client(user).post(f"/api/v1/jobs/{alpha_job.id}/cancel/").status_code
    if not owner_clinic or role == Role.PATIENT:
        assert status == 404
    elif role == Role.COMPLIANCE_OFFICER:
        assert status == 403  # may see, may not stop another person's work
    else:
        assert status == 200
    alpha_job.refresh_from_db()
    assert (alpha_job.status == "cancelled") == (status == 200)


@pytest.mark.parametrize("role", ROLES)
def test_member_list_shows_only_the_own_clinic(
    clinic_a: ClinicPeople, clinic_b: ClinicPeople, role: str
) -> None:
    rows = api_client(clinic_a.by_role[role]).get("/api/v1/members/").json()["results"]
    usernames = {row["username"] for row in rows}
    assert usernames and all(name.startswith("alpha-") for name in usernames)
    assert ("alpha-patient" in usernames) == (role != Role.PATIENT)


@pytest.mark.parametrize("role", ROLES)
def test_only_clinic_admins_manage_invitations(
    clinic_a: ClinicPeople, clinic_b: ClinicPeople, role: str
) -> None:
    invitation_create(actor=clinic_b.admin, email="x@beta.example", role=Role.PATIENT)
    client = api_client(clinic_a.by_role[role])
    listing = client.get("/api/v1/invitations/")
    created = client.post(
        "/api/v1/invitations/", {"email": "new@alpha.example", "role": "patient"}, format="json"
    )
    if role == Role.CLINIC_ADMIN:
        assert listing.status_code == 200 and listing.json() == []
        assert created.status_code == 201 and "/account/invitation/" in created.json()["link"]
    else:
        assert listing.status_code == 403 and created.status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_video_upload_is_for_admins_and_clinicians(
    clinic_a: ClinicPeople, tiny_video: Path, role: str
) -> None:
    response = api_client(clinic_a.by_role[role]).post(
        "/api/v1/videos/", {"file": SimpleUploadedFile("c.mp4", tiny_video.read_bytes())}, format="multipart"
    )
    assert response.status_code == (202 if role in (Role.CLINIC_ADMIN, Role.CLINICIAN) else 403)


@pytest.mark.parametrize(
    "path", ["/api/v1/me/", "/api/v1/jobs/", "/api/v1/uploads/", "/api/v1/members/", "/api/v1/invitations/"]
)
def test_the_api_refuses_anonymous_callers(db: None, path: str) -> None:
    response = APIClient().get(path)
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"message", "code", "extra"}


@pytest.mark.parametrize("owner_clinic", [True, False], ids=["own-clinic", "other-clinic"])
@pytest.mark.parametrize("role", ROLES)
def test_pages_respect_clinic_and_role(
    clinic_a: ClinicPeople, clinic_b: ClinicPeople, alpha_job: MediaJob, role: str, owner_clinic: bool
) -> None:
    user = (clinic_a if owner_clinic else clinic_b).by_role[role]
    client = signed_in_client(user)
    home = client.get("/")
    assert home.status_code == 200
    assert user.printed_name.encode() in home.content or user.clinic.name.encode() in home.content
    assert client.get(f"/jobs/{alpha_job.id}/").status_code == _expected(owner_clinic, role, SEES_JOB)
    jobs_page = client.get("/jobs/")
    assert jobs_page.status_code == 200
    assert (str(alpha_job.id).encode() in jobs_page.content) == (owner_clinic and role in SEES_JOB)
    uploader = role in (Role.CLINIC_ADMIN, Role.CLINICIAN)
    assert client.get("/videos/upload/").status_code == (200 if uploader else 403)
    team_roles = (Role.CLINIC_ADMIN, Role.COMPLIANCE_OFFICER)
    team = client.get("/team/")
    assert team.status_code == (200 if role in team_roles else 403)
    if team.status_code == 200:
        assert b"alpha-clinician" in team.content if owner_clinic else b"alpha-" not in team.content


@pytest.mark.parametrize("path", ["/jobs/", "/videos/upload/", "/team/"])
def test_pages_send_anonymous_visitors_to_sign_in(db: None, path: str) -> None:
    from django.test import Client

    response = Client().get(path)
    assert response.status_code == 302 and response["Location"].startswith("/account/login/")


def test_a_signed_out_visitor_meets_a_landing_page_with_sign_in_and_verify(db: None) -> None:
    """Issue 15 item 7: there was nothing for signed-out visitors beyond the sign-in form."""
    from django.test import Client

    page = Client().get("/")
    assert page.status_code == 200
    assert b'href="/account/login/"' in page.content and b'href="/verify/"' in page.content
    assert b"consent" in page.content


def test_the_favicon_is_served_instead_of_a_404(db: None) -> None:
    from django.test import Client

    response = Client().get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("/favicon.svg")
