"""Cases on DICOM studies: opened from a verdict, reviewed and closed like a scan's case, each step in
the ledger; the case page shows the study's evidence; a case has exactly one subject."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from consent.models import LedgerEntry
from core.errors import ApplicationError
from detection.models import CaseStatus, DicomStudy, ImpersonationCase
from detection.services.cases import (
    case_close,
    case_review,
    case_takedown_pdf,
    case_takedown_record,
    dicom_case_open,
)
from detection.services.dicom import dicom_study_start
from tests.detection.test_dicom import copy_region, dicom, edited, examined, run_job
from tests.support import ClinicPeople, api_client, signed_in_client


@pytest.fixture
def flagged(clinic_a: ClinicPeople, django_capture_on_commit_callbacks: Any) -> DicomStudy:
    """An examined, unsigned study of clinic A with copy-move evidence on its one slice."""
    return examined(
        clinic_a.compliance, edited(dicom("CT_small.dcm"), copy_region), django_capture_on_commit_callbacks
    )


def test_a_case_on_a_dicom_study_goes_open_review_closed_with_each_step_in_the_ledger(
    clinic_a: ClinicPeople, flagged: DicomStudy
) -> None:
    officer = clinic_a.compliance

    case = dicom_case_open(actor=officer, study_id=flagged.id, notes="Received from an insurer")
    case = case_review(actor=officer, case_id=case.id)
    case = case_close(actor=officer, case_id=case.id, outcome="false_positive")

    assert (case.scan_id, case.dicom_study_id) == (None, flagged.id)
    assert case.status == CaseStatus.CLOSED and case.outcome == "false_positive"
    rows = list(LedgerEntry.objects.filter(object_id=str(case.id)).order_by("seq"))
    assert [e.event_type for e in rows] == [
        "dicom_case.opened",
        "dicom_case.review_started",
        "dicom_case.closed",
    ]
    events = [json.loads(e.entry) for e in rows]
    assert all(e["data"]["dicom_study"] == str(flagged.id) for e in events)
    assert events[0]["data"]["verdict"] == "unsigned_evidence"


def test_a_study_has_at_most_one_open_case(clinic_a: ClinicPeople, flagged: DicomStudy) -> None:
    dicom_case_open(actor=clinic_a.compliance, study_id=flagged.id)

    with pytest.raises(ApplicationError) as error:
        dicom_case_open(actor=clinic_a.admin, study_id=flagged.id)

    assert error.value.status == 409
    assert flagged.cases.count() == 1


def test_a_case_needs_a_study_with_a_verdict_of_the_same_clinic(
    clinic_a: ClinicPeople, clinic_b: ClinicPeople, flagged: DicomStudy
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    queued = dicom_study_start(
        actor=clinic_a.compliance, file=SimpleUploadedFile("x.dcm", dicom("MR_small.dcm").read_bytes())
    )
    refused = dicom_study_start(
        actor=clinic_a.compliance, file=SimpleUploadedFile("x.dcm", dicom("MR_truncated.dcm").read_bytes())
    )
    run_job(refused.job)

    for study_id, status in ((queued.id, 409), (refused.id, 409)):
        with pytest.raises(ApplicationError) as error:
            dicom_case_open(actor=clinic_a.compliance, study_id=study_id)
        assert error.value.status == status
    with pytest.raises(ApplicationError) as error:
        dicom_case_open(actor=clinic_b.compliance, study_id=flagged.id)
    assert error.value.status == 404
    with pytest.raises(ApplicationError) as error:
        dicom_case_open(actor=clinic_a.clinician, study_id=flagged.id)
    assert error.value.status == 403
    assert not ImpersonationCase.objects.exists()


def test_a_case_has_exactly_one_subject(
    clinic_a: ClinicPeople, flagged: DicomStudy, tiny_video: Path
) -> None:
    from tests.detection.test_alerts import queued_scan

    with pytest.raises(IntegrityError), transaction.atomic():
        ImpersonationCase.objects.create(clinic=clinic_a.clinic, opened_by=clinic_a.compliance)
    case = dicom_case_open(actor=clinic_a.compliance, study_id=flagged.id)
    scan = queued_scan(clinic_a, tiny_video)
    with pytest.raises(IntegrityError), transaction.atomic():
        # A scan and a study on the same case: refused by the database's check.
        ImpersonationCase.objects.filter(id=case.id).update(scan_id=scan.id)


def test_the_study_page_opens_a_case_and_the_case_page_shows_the_dicom_evidence(
    clinic_a: ClinicPeople, flagged: DicomStudy
) -> None:
    client = signed_in_client(clinic_a.compliance)
    page = client.get(f"/scanner/dicom/{flagged.id}/")
    assert b'id="open-case"' in page.content

    response = client.post(f"/scanner/dicom/{flagged.id}/case/", {"notes": "From outside"})

    case = ImpersonationCase.objects.get(dicom_study=flagged)
    assert response.status_code == 302 and response["Location"] == f"/scanner/cases/{case.id}/"
    shown = client.get(f"/scanner/cases/{case.id}/").content.decode()
    assert "Medical image case" in shown and 'id="case-dicom-evidence"' in shown
    assert f"/scanner/dicom/{flagged.id}/heatmaps/0.png" in shown
    assert flagged.headline in shown and flagged.sha256 in shown
    assert b'id="open-case"' not in client.get(f"/scanner/dicom/{flagged.id}/").content
    # The review steps are the same form as a scan's case.
    client.post(f"/scanner/cases/{case.id}/", {"action": "review", "notes": ""})
    case.refresh_from_db()
    assert case.status == CaseStatus.UNDER_REVIEW


def test_a_dicom_case_can_carry_a_takedown_notice(clinic_a: ClinicPeople, flagged: DicomStudy) -> None:
    officer = clinic_a.compliance
    case = dicom_case_open(actor=officer, study_id=flagged.id)
    case_review(actor=officer, case_id=case.id)
    case_takedown_record(actor=officer, case_id=case.id, platform="Image host", url="https://img.example/1")

    pdf = case_takedown_pdf(actor=officer, case_id=case.id)

    assert pdf.startswith(b"%PDF")


def test_the_api_opens_a_case_on_a_study(
    clinic_a: ClinicPeople, clinic_b: ClinicPeople, flagged: DicomStudy
) -> None:
    client = api_client(clinic_a.compliance)

    response = client.post(f"/api/v1/dicom/studies/{flagged.id}/cases/", {"notes": "api"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["dicom_study"] == str(flagged.id) and body["scan"] is None
    step = client.patch(f"/api/v1/scans/cases/{body['id']}/", {"action": "review"}, format="json")
    assert step.status_code == 200 and step.json()["status"] == "under_review"
    assert (
        api_client(clinic_b.compliance)
        .post(f"/api/v1/dicom/studies/{flagged.id}/cases/", {}, format="json")
        .status_code
        == 404
    )
