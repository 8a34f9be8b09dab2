"""A compliance officer signs a DICOM study, walks it in the viewer, checks a tampered copy against it,
examines an unsigned tampered copy (flagged, with its heatmap, and alerted live), and opens a case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from detection.models import DicomStudy, ImpersonationCase
from tests.browser.conftest import ARTIFACTS
from tests.detection.test_dicom import copy_region, dicom, edited, zipped
from tests.support import PASSWORD, ClinicPeople, totp_now

pytestmark = pytest.mark.browser


def _loaded(page: Any, selector: str) -> list[bool]:
    """Whether each image matching `selector` has loaded (waiting up to 30 s for all of them)."""
    script = f"() => [...document.querySelectorAll({selector!r})].map(i => i.complete && i.naturalWidth > 0)"
    page.wait_for_function(f"() => {{ const l = ({script})(); return l.length > 0 && l.every(x => x); }}")
    return page.evaluate(script)


def test_a_compliance_officer_signs_views_flags_a_tampered_copy_and_opens_a_case(
    clinic_a: ClinicPeople,
    live_server_url: str,
    celery_worker_thread: None,
    browser_page: Any,
    tmp_path: Path,
    settings: Any,
) -> None:
    page = browser_page
    settings.JOB_PROGRESS_MIN_INTERVAL_SECONDS = 0.0
    study_zip = tmp_path / "study.zip"
    study_zip.write_bytes(
        zipped(
            ("s/ct.dcm", dicom("CT_small.dcm").read_bytes()), ("s/mr.dcm", dicom("MR_small.dcm").read_bytes())
        )
    )
    tampered = tmp_path / "copy.dcm"
    tampered.write_bytes(edited(dicom("CT_small.dcm"), copy_region))
    officer = clinic_a.compliance

    page.goto(f"{live_server_url}/account/login/")
    page.get_by_label("Username").fill(officer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/account/second-factor/")
    page.get_by_label("6-digit code from your authenticator app").fill(totp_now(officer))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server_url}/")

    # A second window keeps the scanner page open for the live alert.
    watcher = page.context.browser.new_context(storage_state=page.context.storage_state()).new_page()
    watcher.goto(f"{live_server_url}/scanner/")
    watcher.wait_for_selector("#scan-alerts[data-connected]")

    # Sign a study, and walk it in the viewer.
    page.goto(f"{live_server_url}/scanner/dicom/")
    page.get_by_label("DICOM file (.dcm) or zipped study (.zip)").set_input_files(str(study_zip))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/scanner/dicom/*/")
    page.wait_for_selector("#verdict", timeout=120_000)
    assert page.locator("#verdict [data-verdict]").get_attribute("data-verdict") == "signed"
    assert _loaded(page, "#dicom-slice") == [True]
    page.get_by_role("link", name="Next →").click()
    page.wait_for_selector("#dicom-slice")
    assert "Slice 2 of 2" in page.locator("#viewer").inner_text()
    assert _loaded(page, "#dicom-slice") == [True]
    page.screenshot(path=str(ARTIFACTS / "dicom-viewer.png"), full_page=True)

    # A tampered copy checked against the signed study: pixels changed, the region outlined.
    page.get_by_label("DICOM file or zipped study").set_input_files(str(tampered))
    page.get_by_role("button", name="Check").click()
    page.wait_for_url("**/scanner/dicom/*/")
    page.wait_for_selector("#verdict", timeout=120_000)
    assert page.locator("#verdict [data-verdict]").get_attribute("data-verdict") == "pixels_changed"
    assert page.locator('#dicom-changes [data-status="pixels_changed"]').count() == 1

    # The same tampered file examined as an unsigned study: flagged, with its heatmap.
    page.goto(f"{live_server_url}/scanner/dicom/")
    page.get_by_label("DICOM file (.dcm) or zipped study (.zip)").set_input_files(str(tampered))
    page.get_by_label("What to do").select_option("examine")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/scanner/dicom/*/")
    page.wait_for_selector("#verdict", timeout=120_000)
    assert page.locator("#verdict [data-verdict]").get_attribute("data-verdict") == "unsigned_evidence"
    assert "Unsigned: tampering evidence on slice(s) 1" in page.locator("#verdict h2").inner_text()
    assert _loaded(page, "#passive img.heatmap") == [True]
    assert "Measured accuracy" in page.locator("#passive-methods").inner_text()
    page.screenshot(path=str(ARTIFACTS / "dicom-examined.png"), full_page=True)
    examined = DicomStudy.objects.get(purpose="examine")

    alert = watcher.locator(".alerts .alert", has_text="tampering evidence").first
    alert.wait_for(timeout=60_000)
    assert f"/scanner/dicom/{examined.id}/" in alert.locator("a").get_attribute("href")

    # A case opened from the verdict; the case page shows the evidence.
    page.get_by_label("Notes").fill("Received from an outside clinic")
    page.get_by_role("button", name="Open a case").click()
    page.wait_for_url("**/scanner/cases/*/")
    assert page.get_by_role("heading", name="Medical image case").is_visible()
    assert _loaded(page, "#case-dicom-evidence img.heatmap") == [True]
    page.screenshot(path=str(ARTIFACTS / "dicom-case.png"), full_page=True)
    case = ImpersonationCase.objects.get()
    assert case.dicom_study_id == examined.id and case.scan_id is None
