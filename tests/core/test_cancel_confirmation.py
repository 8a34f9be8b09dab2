"""Cancelling a job asks first: a cancel button posts without `confirmed` and gets the confirmation
page (no JavaScript needed), which says what cancelling means; its own form cancels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import JobStatus, MediaJob
from core.services import video_proxy_start
from tests.support import ClinicPeople, signed_in_client


@pytest.fixture
def queued_job(clinic_a: ClinicPeople, tiny_video: Path, django_capture_on_commit_callbacks: Any) -> MediaJob:
    with django_capture_on_commit_callbacks(execute=False):
        return video_proxy_start(
            actor=clinic_a.clinician, file=SimpleUploadedFile("c.mp4", tiny_video.read_bytes())
        )


def test_a_one_click_cancel_shows_the_confirmation_instead_of_cancelling(
    clinic_a: ClinicPeople, queued_job: MediaJob
) -> None:
    client = signed_in_client(clinic_a.clinician)
    page = client.post(f"/jobs/{queued_job.id}/cancel/", {"next": "/jobs/"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Cancel this browser-playable proxy?" in html and "the work done so far is discarded" in html
    assert 'name="next" value="/jobs/"' in html and 'name="confirmed"' in html
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.QUEUED


def test_the_confirmation_page_cancels_and_goes_back(clinic_a: ClinicPeople, queued_job: MediaJob) -> None:
    client = signed_in_client(clinic_a.clinician)
    response = client.post(f"/jobs/{queued_job.id}/cancel/", {"next": "/jobs/", "confirmed": "yes"})
    assert response.status_code == 302 and response["Location"] == "/jobs/"
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.CANCELLED


def test_the_way_back_never_leaves_the_site(clinic_a: ClinicPeople, queued_job: MediaJob) -> None:
    client = signed_in_client(clinic_a.clinician)
    response = client.post(
        f"/jobs/{queued_job.id}/cancel/", {"next": "https://evil.example/", "confirmed": "yes"}
    )
    assert response["Location"] == f"/jobs/{queued_job.id}/"


def test_another_clinics_job_has_no_confirmation_page(
    clinic_a: ClinicPeople, clinic_b: ClinicPeople, queued_job: MediaJob
) -> None:
    assert signed_in_client(clinic_b.clinician).get(f"/jobs/{queued_job.id}/cancel/").status_code == 404
