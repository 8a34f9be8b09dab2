"""Patient anonymization through the services, on PostgreSQL: consent gate, a job end to end on a
small generated clip, withdrawal by the patient, and who sees what (the original only the reviewers)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from avatars.models import Anonymization, AnonymizationStatus
from avatars.services.anonymize import (
    anonymization_publish,
    anonymization_request,
    anonymization_review,
)
from consent.models import ConsentKind, LedgerEntry, PatientConsent
from consent.services.patient import patient_consent_grant, patient_consent_withdraw
from core.errors import ApplicationError
from core.models import JobStatus, Role, Upload
from core.services import clinic_member_create
from provenance.models import ProvenanceRecord
from provenance.services import Verdict, media_verify, output_manifest
from tests.avatars.conftest import run_job
from tests.support import PASSWORD, signed_in_client

COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"


def _grant(patient: Any, kind: str) -> PatientConsent:
    return patient_consent_grant(patient=patient, kind=kind, purpose="Teaching residents", password=PASSWORD)


def _recording(tiny_video: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile("consultation.mp4", tiny_video.read_bytes(), content_type="video/mp4")


def _request(studio: Any, tiny_video: Path, **kwargs: Any) -> Anonymization:
    return anonymization_request(
        actor=kwargs.pop("actor", studio.clinician),
        patient_id=studio.patient.pk,
        file=_recording(tiny_video),
        mode=kwargs.pop("mode", "mask"),
        **kwargs,
    )


def _events(anonymization: Anonymization) -> list[str]:
    return list(
        LedgerEntry.objects.filter(object_id=str(anonymization.id)).values_list("event_type", flat=True)
    )


@pytest.fixture
def consented(studio: Any) -> PatientConsent:
    return _grant(studio.patient, ConsentKind.PATIENT_ANONYMIZATION)


@pytest.fixture
def finished(studio: Any, consented: PatientConsent, tiny_video: Path) -> Anonymization:
    anonymization = _request(studio, tiny_video)
    run_job(anonymization.job)
    anonymization.refresh_from_db()
    assert anonymization.job.status == JobStatus.SUCCEEDED, anonymization.job.error_message
    return anonymization


def test_an_upload_is_refused_without_the_patients_anonymization_consent(
    studio: Any, tiny_video: Path
) -> None:
    _grant(studio.patient, ConsentKind.PATIENT_RECORDING)  # another kind does not count
    with pytest.raises(ApplicationError) as refused:
        _request(studio, tiny_video)
    assert refused.value.code == "anonymization_consent_required"
    assert not Upload.objects.exists() and not Anonymization.objects.exists()
    assert not default_storage.exists("uploads")


def test_an_upload_is_refused_once_the_consent_is_withdrawn(
    studio: Any, consented: PatientConsent, tiny_video: Path
) -> None:
    patient_consent_withdraw(patient=studio.patient, consent_id=consented.id)
    with pytest.raises(ApplicationError) as refused:
        _request(studio, tiny_video)
    assert refused.value.code == "anonymization_consent_required"
    assert not Upload.objects.exists()


def test_a_file_that_is_not_a_video_is_refused_like_every_upload(
    studio: Any, consented: PatientConsent
) -> None:
    with pytest.raises(ApplicationError) as refused:
        anonymization_request(
            actor=studio.clinician,
            patient_id=studio.patient.pk,
            file=SimpleUploadedFile("notes.mp4", b"not a video at all" * 10),
            mode="mask",
        )
    assert refused.value.code == "upload_unknown_type"
    assert not Anonymization.objects.exists()


def test_the_upload_rate_limit_applies(
    studio: Any, consented: PatientConsent, tiny_video: Path, settings: Any
) -> None:
    settings.UPLOAD_RATE_LIMIT = 1
    _request(studio, tiny_video)
    with pytest.raises(ApplicationError) as refused:
        _request(studio, tiny_video)
    assert refused.value.status == 429
    assert Anonymization.objects.count() == 1


def test_the_upload_page_accepts_a_media_sized_body(settings: Any) -> None:
    assert any(re.match(pattern, "/anonymize/") for pattern in settings.REQUEST_UPLOAD_PATHS)


def test_keeping_a_clinician_needs_their_enrollment(
    studio: Any, consented: PatientConsent, tiny_video: Path
) -> None:
    with pytest.raises(ApplicationError) as refused:
        _request(studio, tiny_video, keep_clinician_id=studio.clinician.pk)
    assert refused.value.code == "anonymization_no_enrollment"
    assert not Upload.objects.exists()


def test_a_patient_or_compliance_officer_cannot_upload(
    studio: Any, consented: PatientConsent, tiny_video: Path
) -> None:
    for actor in (studio.patient, studio.compliance):
        with pytest.raises(ApplicationError) as refused:
            _request(studio, tiny_video, actor=actor)
        assert refused.value.status == 403


def test_a_job_anonymizes_signs_and_sends_the_recording_to_review(finished: Anonymization) -> None:
    assert finished.status == AnonymizationStatus.IN_REVIEW and finished.signed
    manifest = output_manifest(Path(default_storage.path(finished.output_key)))
    assert manifest.source_type == COMPOSITE
    assert manifest.consent is not None and manifest.consent.consent_ids == (str(finished.consent_id),)
    record = ProvenanceRecord.objects.get(content_id=finished.content_id)
    assert record.file_key == finished.output_key and record.output_kind == "anonymized_video"
    assert finished.report["frames"] > 0 and finished.report["leaks"] == 0
    assert finished.report["voice"]["has_audio"] is True
    assert any("HIPAA" in line for line in finished.report["not_handled"])
    assert _events(finished) == ["anonymization.requested", "anonymization.signing", "anonymization.finished"]
    assert set(finished.ledger_refs) == {"requested", "signing", "finished"}
    # The original's preview exists for the reviewers, but is not one of the job's outputs.
    assert default_storage.exists(finished.original_proxy_key)
    assert finished.original_proxy_key not in finished.job.result.values()


def test_withdrawing_the_consent_stops_a_running_job(
    studio: Any, consented: PatientConsent, tiny_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from avatars.services import anonymize as service

    anonymization = _request(studio, tiny_video)
    templates = service._clinician_templates

    def patient_withdraws_meanwhile(*args: Any) -> Any:
        patient_consent_withdraw(patient=studio.patient, consent_id=consented.id)
        return templates(*args)

    monkeypatch.setattr(service, "_clinician_templates", patient_withdraws_meanwhile)
    run_job(anonymization.job)
    anonymization.refresh_from_db()
    assert anonymization.job.status == JobStatus.CANCELLED
    assert anonymization.status == AnonymizationStatus.WITHDRAWN
    assert not anonymization.output_key and not ProvenanceRecord.objects.exists()
    assert "anonymization.withdrawn" in _events(anonymization)
    assert LedgerEntry.objects.filter(
        event_type="job.cancelled", object_id=str(anonymization.job_id)
    ).exists()


def test_a_queued_job_is_cancelled_at_once_when_the_patient_withdraws(
    studio: Any, consented: PatientConsent, tiny_video: Path
) -> None:
    anonymization = _request(studio, tiny_video)
    patient_consent_withdraw(patient=studio.patient, consent_id=consented.id)
    anonymization.refresh_from_db()
    assert anonymization.job.status == JobStatus.CANCELLED
    assert anonymization.status == AnonymizationStatus.WITHDRAWN


def test_publication_needs_the_patients_use_consent(studio: Any, finished: Anonymization) -> None:
    anonymization_review(actor=studio.clinician, anonymization_id=finished.id, approve=True)
    with pytest.raises(ApplicationError) as refused:
        anonymization_publish(actor=studio.clinician, anonymization_id=finished.id)
    assert refused.value.code == "anonymization_use_consent_required"
    _grant(studio.patient, ConsentKind.PATIENT_USE)
    published = anonymization_publish(actor=studio.clinician, anonymization_id=finished.id)
    assert published.status == AnonymizationStatus.PUBLISHED
    assert _events(published)[-2:] == ["anonymization.approved", "anonymization.published"]


@pytest.mark.parametrize("withdrawn_kind", [ConsentKind.PATIENT_ANONYMIZATION, ConsentKind.PATIENT_USE])
def test_withdrawing_a_consent_withdraws_the_published_output(
    studio: Any,
    finished: Anonymization,
    withdrawn_kind: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    use = _grant(studio.patient, ConsentKind.PATIENT_USE)
    anonymization_review(actor=studio.clinician, anonymization_id=finished.id, approve=True)
    anonymization_publish(actor=studio.clinician, anonymization_id=finished.id)
    output_key = finished.output_key
    consent = finished.consent if withdrawn_kind == ConsentKind.PATIENT_ANONYMIZATION else use
    with django_capture_on_commit_callbacks(execute=True):
        patient_consent_withdraw(patient=studio.patient, consent_id=consent.id)
    finished.refresh_from_db()
    assert finished.status == AnonymizationStatus.WITHDRAWN and finished.withdrawn_at is not None
    assert not default_storage.exists(output_key)
    assert not default_storage.exists(finished.original_proxy_key)
    assert "output" not in finished.job.result  # nor through the kernel's job outputs
    assert _events(finished)[-1] == "anonymization.withdrawn"
    response = signed_in_client(studio.clinician).get(f"/anonymize/{finished.id}/media/anonymized.mp4")
    assert response.status_code == 410


def _who_sees_what(user: Any, anonymization: Anonymization) -> tuple[int, int, int]:
    client = signed_in_client(user)
    base = f"/anonymize/{anonymization.id}/"
    return (
        client.get(base).status_code,
        client.get(f"{base}media/original.mp4").status_code,
        client.get(f"{base}media/anonymized.mp4").status_code,
    )


def test_only_the_uploader_and_admins_ever_see_the_original(
    studio: Any, clinic_b: Any, finished: Anonymization
) -> None:
    colleague = clinic_member_create(
        clinic=studio.clinic, username="alpha-colleague", password=PASSWORD, role=Role.CLINICIAN
    )
    other_patient = clinic_member_create(
        clinic=studio.clinic, username="alpha-other-patient", password=PASSWORD, role=Role.PATIENT
    )
    in_review = {
        "uploader": (studio.clinician, (200, 200, 200)),
        "admin": (studio.admin, (200, 200, 200)),
        "compliance": (studio.compliance, (200, 404, 200)),
        "the patient shown": (studio.patient, (200, 404, 200)),
        "a colleague": (colleague, (404, 404, 404)),
        "another patient": (other_patient, (404, 404, 404)),
        "another clinic's admin": (clinic_b.admin, (404, 404, 404)),
    }
    seen = {who: _who_sees_what(user, finished) for who, (user, _) in in_review.items()}
    assert seen == {who: expected for who, (_, expected) in in_review.items()}
    _grant(studio.patient, ConsentKind.PATIENT_USE)
    anonymization_review(actor=studio.admin, anonymization_id=finished.id, approve=True)
    anonymization_publish(actor=studio.admin, anonymization_id=finished.id)
    # Published for teaching: the clinic's clinicians see the output, still never the original.
    assert _who_sees_what(colleague, finished) == (200, 404, 200)
    assert _who_sees_what(other_patient, finished) == (404, 404, 404)


def test_only_the_uploader_or_an_admin_reviews(studio: Any, finished: Anonymization) -> None:
    for actor in (studio.compliance, studio.patient):
        with pytest.raises(ApplicationError):
            anonymization_review(actor=actor, anonymization_id=finished.id, approve=True)
    finished.refresh_from_db()
    assert finished.status == AnonymizationStatus.IN_REVIEW


def test_the_report_is_a_page_and_a_pdf_that_says_it_is_not_hipaa_deidentification(
    studio: Any, finished: Anonymization
) -> None:
    client = signed_in_client(studio.compliance)
    page = client.get(f"/anonymize/{finished.id}/").content.decode()
    assert "Residual-risk report" in page and "not de-identification in the HIPAA sense" in page
    assert "original.mp4" not in page
    pdf = client.get(f"/anonymize/{finished.id}/report.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_a_copy_of_a_withdrawn_output_verifies_as_withdrawn(
    studio: Any, finished: Anonymization, tmp_path: Path
) -> None:
    copy = tmp_path / "downloaded.mp4"
    copy.write_bytes(default_storage.open(finished.output_key, "rb").read())
    assert media_verify(copy).verdict == Verdict.SIGNED_CONSENT_ACTIVE
    patient_consent_withdraw(patient=studio.patient, consent_id=finished.consent_id)
    assert media_verify(copy).verdict == Verdict.SIGNED_CONSENT_WITHDRAWN
