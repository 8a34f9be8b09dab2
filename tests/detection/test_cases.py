"""Impersonation cases (open, review, takedown notice, close — each in the ledger), the pages and the API."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from consent.models import LedgerEntry
from core.errors import ApplicationError
from detection.models import CaseStatus, Scan
from detection.services.cases import (
    case_close,
    case_open,
    case_review,
    case_takedown_pdf,
    case_takedown_record,
)
from detection.services.scans import scan_verdict_record
from tests.detection.test_alerts import queued_scan, record, verdict
from tests.support import ClinicPeople, api_client, signed_in_client


@pytest.fixture
def judged(clinic_a: ClinicPeople, tiny_video: Path, django_capture_on_commit_callbacks: Any) -> Scan:
    """A scan of clinic A with a recorded "suspected deepfake" verdict."""
    scan = queued_scan(clinic_a, tiny_video)
    record(scan, "suspected unauthorized deepfake")
    return Scan.objects.get(id=scan.id)


def _pdf_text(pdf: bytes) -> str:
    """The PDF's text, read back with poppler's pdftotext (skips where poppler is absent)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("needs poppler-utils (pdftotext)")
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, check=True, capture_output=True).stdout.decode()


def test_a_case_goes_open_review_takedown_closed_with_each_step_in_the_ledger(
    clinic_a: ClinicPeople, judged: Scan
) -> None:
    officer = clinic_a.compliance
    case = case_open(actor=officer, scan_id=judged.id, notes="Seen on a video site")
    case = case_review(actor=officer, case_id=case.id)
    case = case_takedown_record(
        actor=officer, case_id=case.id, platform="VidShare", url="https://vidshare.example/v/1"
    )
    pdf = case_takedown_pdf(actor=officer, case_id=case.id)
    case = case_close(actor=officer, case_id=case.id, outcome="takedown_requested")

    assert case.status == CaseStatus.CLOSED and case.outcome == "takedown_requested"
    events = list(
        LedgerEntry.objects.filter(object_id=str(case.id))
        .order_by("seq")
        .values_list("event_type", flat=True)
    )
    assert events == [
        "scan_case.opened",
        "scan_case.review_started",
        "scan_case.takedown_recorded",
        "scan_case.closed",
    ]
    closed = json.loads(LedgerEntry.objects.get(object_id=str(case.id), event_type="scan_case.closed").entry)
    assert closed["data"] == {"scan": str(judged.id), "outcome": "takedown_requested"}
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf)
    assert "VidShare" in text and "https://vidshare.example/v/1" in text and judged.sha256 in text


def test_case_steps_out_of_order_are_refused(clinic_a: ClinicPeople, judged: Scan) -> None:
    officer = clinic_a.compliance
    case = case_open(actor=officer, scan_id=judged.id)

    for step in (
        lambda: case_close(actor=officer, case_id=case.id, outcome="no_action"),
        lambda: case_takedown_record(actor=officer, case_id=case.id, platform="X", url="https://x.example/1"),
        lambda: case_takedown_pdf(actor=officer, case_id=case.id),
        lambda: case_open(actor=officer, scan_id=judged.id),
    ):
        with pytest.raises(ApplicationError) as refused:
            step()
        assert refused.value.status == 409


def test_a_case_cannot_be_opened_before_the_verdict(clinic_a: ClinicPeople, tiny_video: Path) -> None:
    scan = queued_scan(clinic_a, tiny_video)

    with pytest.raises(ApplicationError) as refused:
        case_open(actor=clinic_a.compliance, scan_id=scan.id)
    assert refused.value.code == "scan_not_finished"


def test_another_clinic_and_other_roles_cannot_touch_a_case(
    clinic_a: ClinicPeople, clinic_b: ClinicPeople, judged: Scan
) -> None:
    case = case_open(actor=clinic_a.compliance, scan_id=judged.id)

    with pytest.raises(ApplicationError) as other_clinic:
        case_review(actor=clinic_b.compliance, case_id=case.id)
    with pytest.raises(ApplicationError) as clinician:
        case_review(actor=clinic_a.clinician, case_id=case.id)
    with pytest.raises(ApplicationError) as other_scan:
        case_open(actor=clinic_b.admin, scan_id=judged.id)

    assert (other_clinic.value.status, clinician.value.status, other_scan.value.status) == (404, 403, 404)


def test_the_result_page_shows_the_verdict_explanation_scores_plot_and_evidence(
    clinic_a: ClinicPeople, judged: Scan
) -> None:
    page = signed_in_client(clinic_a.compliance).get(f"/scanner/scans/{judged.id}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "suspected unauthorized deepfake of Dr. Test" in html
    assert "Manipulation evidence was found." in html
    assert 'id="score-plot"' in html and "<polyline" in html
    assert "Blending seam" in html
    assert "Open a case" in html


def test_the_scanner_page_is_linked_for_officers_and_refused_to_clinicians(clinic_a: ClinicPeople) -> None:
    home = signed_in_client(clinic_a.compliance).get("/scanner/")
    refused = signed_in_client(clinic_a.clinician).get("/scanner/")

    assert home.status_code == 200 and 'href="/scanner/"' in home.content.decode()
    assert "data-alerts-ws" in home.content.decode()
    assert refused.status_code == 403


def test_the_scanner_page_accepts_a_batch(clinic_a: ClinicPeople, tiny_video: Path) -> None:
    client = signed_in_client(clinic_a.admin)
    files = [
        SimpleUploadedFile(name, tiny_video.read_bytes(), "video/mp4") for name in ("one.mp4", "two.mp4")
    ]

    response = client.post("/scanner/", {"files": files})

    assert response.status_code == 302
    assert Scan.objects.filter(clinic=clinic_a.clinic).values("batch_id").distinct().count() == 1
    assert Scan.objects.filter(clinic=clinic_a.clinic).count() == 2


def test_the_case_page_walks_the_case_to_a_downloadable_takedown_notice(
    clinic_a: ClinicPeople, judged: Scan
) -> None:
    client = signed_in_client(clinic_a.compliance)
    opened = client.post(f"/scanner/scans/{judged.id}/case/")
    assert opened.status_code == 302
    case_url = opened["Location"]

    assert client.post(case_url, {"action": "review"}).status_code == 302
    assert (
        client.post(
            case_url, {"action": "takedown", "platform": "VidShare", "url": "https://vidshare.example/v/9"}
        ).status_code
        == 302
    )
    page = client.get(case_url).content.decode()
    pdf = client.get(f"{case_url}takedown.pdf")

    assert "Under review" in page and 'id="takedown-pdf"' in page
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"


def test_the_api_scans_a_batch_with_202_then_lists_and_details_it(
    clinic_a: ClinicPeople, tiny_video: Path
) -> None:
    client = api_client(clinic_a.compliance)
    files = [SimpleUploadedFile(name, tiny_video.read_bytes(), "video/mp4") for name in ("a.mp4", "b.mp4")]

    created = client.post("/api/v1/scans/", {"files": files}, format="multipart")

    assert created.status_code == 202, created.content
    scans = created.json()["scans"]
    assert len(scans) == 2 and all(s["job"] for s in scans)
    listed = client.get("/api/v1/scans/").json()
    assert {s["id"] for s in listed["results"]} == {s["id"] for s in scans}
    detail = client.get(f"/api/v1/scans/{scans[0]['id']}/").json()
    assert detail["status"] == "queued" and detail["evidence"] == [] and detail["cases"] == []


def test_the_api_runs_a_case_to_its_takedown_pdf(
    clinic_a: ClinicPeople, clinic_b: ClinicPeople, judged: Scan
) -> None:
    client = api_client(clinic_a.compliance)

    case = client.post(f"/api/v1/scans/{judged.id}/cases/", {"notes": "found"}, format="json")
    assert case.status_code == 201, case.content
    url = f"/api/v1/scans/cases/{case.json()['id']}/"
    assert client.patch(url, {"action": "review"}, format="json").status_code == 200
    step = client.patch(
        url,
        {"action": "takedown", "platform": "VidShare", "url": "https://vidshare.example/v/2"},
        format="json",
    )
    assert step.json()["takedown_platform"] == "VidShare"
    pdf = client.get(f"{url}takedown.pdf")
    closed = client.patch(url, {"action": "close", "outcome": "removed"}, format="json")

    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert closed.json()["status"] == "closed"
    assert api_client(clinic_b.compliance).get(f"/api/v1/scans/{judged.id}/").status_code == 404
    assert api_client(clinic_a.clinician).get("/api/v1/scans/").status_code == 403


def test_an_evidence_heatmap_is_served_to_the_clinic_only(
    clinic_a: ClinicPeople, clinic_b: ClinicPeople, tiny_video: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    scan = queued_scan(clinic_a, tiny_video)
    key = default_storage.save(f"jobs/{scan.job_id}/evidence-0.png", ContentFile(b"\x89PNG\r\n\x1a\nfake"))
    result = verdict("suspected unauthorized deepfake")
    result["evidence"][0]["heatmap"] = "heatmap_0"
    result["heatmap_0"] = key
    with transaction.atomic():
        scan_verdict_record(scan_id=scan.id, verdict=result)
    item = scan.evidence.get()
    url = f"/scanner/scans/{scan.id}/evidence/{item.id}.png"

    client = signed_in_client(clinic_a.compliance)
    ours = client.get(url)
    page = client.get(f"/scanner/scans/{scan.id}/").content.decode()

    assert ours.status_code == 200 and b"".join(ours.streaming_content).startswith(b"\x89PNG")
    assert f'src="{url}"' in page
    assert signed_in_client(clinic_b.compliance).get(url).status_code == 404
