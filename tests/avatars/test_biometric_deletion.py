"""Deleting an enrollment destroys its biometric data for real (files, rows, the stored analysis, the
scanner's cached templates), stops and refuses renders, and is ledgered without the data; a clinic
admin deletes on a departed clinician's behalf; the retention schedule destroys what is due."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from avatars.models import Enrollment, EnrollmentStatus, NarrationSource, VideoStatus
from avatars.services import (
    biometrics_expire,
    enrollment_delete,
    enrollment_footage_start,
    enrollment_portrait_create,
    enrollment_retention_until,
    render_request,
    script_approve,
    script_save,
)
from consent.models import LedgerEntry
from consent.services import likeness_consent_revoke
from core.errors import ApplicationError
from core.models import JobStatus, MediaJob, Upload
from tests.avatars.conftest import GRID, grid_clip, run_job
from tests.consent.conftest import active_consent
from tests.support import signed_in_client

pytestmark = pytest.mark.media

FACES = GRID.parents[1] / "faces" / "named"


def _photo() -> SimpleUploadedFile:
    path = FACES / "test" / "obama1.jpg"
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/media is for internal evaluation only)")
    return SimpleUploadedFile(path.name, path.read_bytes())


def _portrait(studio: Any) -> Enrollment:
    return enrollment_portrait_create(actor=studio.clinician, clinician=studio.clinician, photo=_photo())


def _stored_files() -> set[str]:
    root = Path(default_storage.location)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def enrolled(studio: Any, django_capture_on_commit_callbacks: Any) -> Enrollment:
    """Footage with a separate voice sample, analysed, its templates in the scanner's gallery cache."""
    speech = sorted((GRID.parents[1] / "speech" / "librispeech" / "1688").glob("*.flac"))
    if not speech:
        pytest.skip("LibriSpeech samples are absent from ../shared/media")
    with django_capture_on_commit_callbacks(execute=False):
        enrollment = enrollment_footage_start(
            actor=studio.clinician,
            clinician=studio.clinician,
            footage=SimpleUploadedFile("me.mpg", grid_clip().read_bytes()),
            voice=SimpleUploadedFile("voice.flac", speech[0].read_bytes()),
        )
    run_job(enrollment.job)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.READY and enrollment.analysis_key
    return enrollment


def _script(studio: Any, enrollment: Enrollment) -> Any:
    script = script_save(
        actor=studio.clinician,
        enrollment_id=enrollment.id,
        title="Morning glucose",
        language="en",
        topic="diabetes",
        audience="patients",
        channel="portal",
        text="Check your blood sugar before breakfast.",
        narration_source=NarrationSource.TTS,
    )
    script_approve(actor=studio.clinician, script_id=script.id)
    return script


def test_deleting_an_enrollment_destroys_its_files_rows_analysis_and_templates(
    studio: Any, enrolled: Enrollment, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    from detection.gallery import clinic_gallery

    gallery = clinic_gallery(clinic_id=studio.clinic.id, scratch=tmp_path)
    assert gallery and gallery[0].face_embeddings and gallery[0].voice_embeddings
    footage, voice = enrolled.footage, enrolled.voice
    assert footage is not None and voice is not None
    template_keys = [
        f"detection:template:{kind}:{upload.sha256}" for kind, upload in (("face", footage), ("voice", voice))
    ]
    assert all(cache.get(key) for key in template_keys)
    biometric_files = {footage.storage_key, voice.storage_key, enrolled.analysis_key}
    assert biometric_files <= _stored_files()

    with django_capture_on_commit_callbacks(execute=True):
        enrollment_delete(actor=studio.clinician, enrollment_id=enrolled.id)

    enrolled.refresh_from_db()
    assert enrolled.status == EnrollmentStatus.DELETED and enrolled.deletion_reason == "deleted_by_clinician"
    assert (enrolled.footage, enrolled.photo, enrolled.voice, enrolled.analysis_key) == (None, None, None, "")
    assert not Upload.objects.filter(id__in=[footage.id, voice.id]).exists()
    job = MediaJob.objects.get(id=enrolled.job_id)
    assert job.input_upload_id is None and job.result == {}
    left = _stored_files()
    assert not biometric_files & left
    assert not [name for name in left if name.startswith(f"jobs/{job.id}/")]
    assert not any(cache.get(key) for key in template_keys)
    assert clinic_gallery(clinic_id=studio.clinic.id, scratch=tmp_path / "again") == ()


def test_the_deletion_is_ledgered_with_what_was_destroyed_and_no_biometric_content(
    studio: Any, enrolled: Enrollment, django_capture_on_commit_callbacks: Any
) -> None:
    footage_sha = enrolled.footage.sha256 if enrolled.footage else ""
    with django_capture_on_commit_callbacks(execute=True):
        enrollment_delete(actor=studio.clinician, enrollment_id=enrolled.id)
    entry = LedgerEntry.objects.get(event_type="enrollment.deleted")
    assert entry.object_id == str(enrolled.id) and entry.actor_id == str(studio.clinician.pk)
    data = json.loads(entry.entry)["data"]
    assert data["reason"] == "deleted_by_clinician" and data["kind"] == "footage"
    assert "enrollment footage" in data["destroyed"] and "voice sample" in data["destroyed"]
    assert footage_sha not in entry.entry  # names what went, never what it was


def test_renders_stop_and_new_ones_are_refused_with_a_reason(
    studio: Any, enrolled: Enrollment, django_capture_on_commit_callbacks: Any
) -> None:
    active_consent(studio, synthetic_voice_allowed=True)
    script = _script(studio, enrolled)
    with django_capture_on_commit_callbacks(execute=False):
        queued = render_request(actor=studio.clinician, script_id=script.id)
    with django_capture_on_commit_callbacks(execute=True):
        enrollment_delete(actor=studio.clinician, enrollment_id=enrolled.id)
    queued.refresh_from_db()
    assert queued.job.status == JobStatus.CANCELLED and queued.status == VideoStatus.FAILED
    with pytest.raises(ApplicationError) as refused:
        render_request(actor=studio.clinician, script_id=script.id)
    assert refused.value.code == "enrollment_deleted" and "enroll again" in refused.value.message
    page = signed_in_client(studio.clinician).get(f"/studio/scripts/{script.id}/")
    assert b"enrollment was deleted" in page.content


def test_a_clinic_admin_deletes_on_a_departed_clinicians_behalf(
    studio: Any, django_capture_on_commit_callbacks: Any
) -> None:
    enrollment = _portrait(studio)
    with django_capture_on_commit_callbacks(execute=True):
        enrollment_delete(actor=studio.admin, enrollment_id=enrollment.id)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.DELETED and enrollment.photo is None
    assert enrollment.deletion_reason == "deleted_by_clinic_admin" and enrollment.deleted_by == studio.admin


def test_others_cannot_delete_and_a_deleted_enrollment_cannot_be_deleted_again(
    studio: Any, clinic_b: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from avatars.services import enrollment_stock_get_or_create
    from core.models import Role
    from core.services import clinic_member_create

    enrollment = _portrait(studio)
    colleague = clinic_member_create(
        clinic=studio.clinic, username="alpha-colleague", password="x" * 12, role=Role.CLINICIAN
    )
    for actor, status in ((colleague, 403), (clinic_b.admin, 404), (studio.compliance, 403)):
        with pytest.raises(ApplicationError) as refused:
            enrollment_delete(actor=actor, enrollment_id=enrollment.id)
        assert refused.value.status == status
    stock = enrollment_stock_get_or_create(actor=studio.clinician)
    with pytest.raises(ApplicationError) as refused:
        enrollment_delete(actor=studio.admin, enrollment_id=stock.id)
    assert refused.value.status == 409
    with django_capture_on_commit_callbacks(execute=True):
        enrollment_delete(actor=studio.clinician, enrollment_id=enrollment.id)
    with pytest.raises(ApplicationError) as refused:
        enrollment_delete(actor=studio.clinician, enrollment_id=enrollment.id)
    assert refused.value.status == 409


def test_the_retention_period_runs_from_the_last_use(
    studio: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    active_consent(studio)
    enrollment = _portrait(studio)
    until = enrollment_retention_until(enrollment)
    assert until is not None
    assert abs(
        until - (enrollment.created_at + timedelta(days=settings.BIOMETRIC_RETENTION_DAYS))
    ) < timedelta(seconds=5)
    assert biometrics_expire(now=until - timedelta(days=1)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert biometrics_expire(now=until + timedelta(seconds=1)) == 1
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.DELETED and enrollment.deletion_reason == "retention_expired"
    entry = LedgerEntry.objects.get(event_type="enrollment.deleted")
    assert entry.actor_id == "" and json.loads(entry.entry)["data"]["reason"] == "retention_expired"


def test_the_retention_ends_a_grace_period_after_consent_ends(
    studio: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    consent = active_consent(studio)
    enrollment = _portrait(studio)
    likeness_consent_revoke(actor=studio.clinician, consent_id=consent.id)
    until = enrollment_retention_until(enrollment)
    assert until is not None
    assert until - timezone.now() < timedelta(days=settings.BIOMETRIC_CONSENT_END_GRACE_DAYS, minutes=1)
    assert (
        biometrics_expire(now=timezone.now() + timedelta(days=settings.BIOMETRIC_CONSENT_END_GRACE_DAYS - 1))
        == 0
    )
    with django_capture_on_commit_callbacks(execute=True):
        call_command("biometrics_expire")  # not yet due: nothing happens
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.READY
    settings.BIOMETRIC_CONSENT_END_GRACE_DAYS = 0
    with django_capture_on_commit_callbacks(execute=True):
        call_command("biometrics_expire")
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.DELETED and not _stored_files()


def test_the_retention_schedule_is_published_without_signing_in(client: Any, settings: Any) -> None:
    settings.BIOMETRIC_RETENTION_DAYS = 1095
    page = client.get("/privacy/biometric-data/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "1095 days later (3 years)" in html and "30 days later" in html
