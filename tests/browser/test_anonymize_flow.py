"""Patient anonymization in a real browser: a clinician uploads a consultation, watches the progress,
reviews original and output side by side, approves and publishes; the patient withdraws the consent
on their own page, and the output is withdrawn."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from avatars.models import Anonymization, AnonymizationStatus
from consent.defaults import consent_defaults_ensure
from consent.models import ConsentKind
from consent.services.patient import patient_consent_grant
from core.demo import demo_video_write
from tests.browser.conftest import ARTIFACTS
from tests.support import PASSWORD, ClinicPeople

pytestmark = pytest.mark.browser


def _sign_in(page: Any, base: str, user: Any) -> None:
    page.goto(f"{base}/account/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def test_upload_progress_review_publish_and_the_patient_withdraws(
    clinic_a: ClinicPeople,
    live_server_url: str,
    celery_worker_thread: None,
    browser_page: Any,
    tmp_path: Path,
    settings: Any,
) -> None:
    page, base = browser_page, live_server_url
    settings.JOB_PROGRESS_MIN_INTERVAL_SECONDS = 0.0
    consent_defaults_ensure(actor=clinic_a.admin)
    for kind in (ConsentKind.PATIENT_ANONYMIZATION, ConsentKind.PATIENT_USE):
        patient_consent_grant(
            patient=clinic_a.patient, kind=kind, purpose="Teaching residents", password=PASSWORD
        )
    recording = demo_video_write(tmp_path / "consultation.mp4", seconds=2.0, width=320, height=180)

    _sign_in(page, base, clinic_a.clinician)
    page.get_by_role("link", name="Anonymize").first.click()
    page.get_by_label("Patient shown in the recording").select_option(str(clinic_a.patient.pk))
    page.get_by_label("Consultation recording (video with sound)").set_input_files(str(recording))
    page.get_by_label("Replace faces with").select_option("mask")
    page.get_by_label("Keep unaltered (enrolled face and voice)").select_option("")
    page.get_by_role("button", name="Upload and anonymize").click()
    page.wait_for_url("**/anonymize/*/")

    seen: list[float] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not page.locator("#anonymized-video").count():
        value = page.evaluate(
            "() => { const p = document.querySelector('#job-progress'); return p ? p.value : null; }"
        )
        if value is not None:
            seen.append(float(value))
        if page.locator(".status-failed, .status-cancelled").count():
            break
        time.sleep(0.1)
    anonymization = Anonymization.objects.get()
    assert anonymization.status == AnonymizationStatus.IN_REVIEW, anonymization.job.error_message
    assert any(0 < v < 100 for v in seen), f"no intermediate progress seen: {seen[:20]}"

    # Side by side: the original's preview and the labelled output, both playable.
    assert page.locator("#original-video").is_visible() and page.locator("#anonymized-video").is_visible()
    assert page.locator("#anonymized-label").inner_text() == "Anonymized"
    sizes = page.evaluate(
        """async () => Promise.all(['#original-video', '#anonymized-video'].map(async (id) => {
            const v = document.querySelector(id);
            const start = performance.now();
            while (v.readyState < 1 && performance.now() - start < 15000) {
                await new Promise(r => setTimeout(r, 100));
            }
            return [v.videoWidth, v.error && v.error.code];
        }))"""
    )
    assert all(width > 0 and error is None for width, error in sizes), sizes
    page.screenshot(path=str(ARTIFACTS / "anonymize-review.png"), full_page=True)

    page.get_by_label("Decision").select_option("approve")
    page.get_by_role("button", name="Submit review").click()
    page.get_by_role("button", name="Publish for teaching").click()
    assert page.locator("#anonymization-status").inner_text() == "Published for teaching"

    # The patient withdraws the anonymization consent on their own page.
    patient_context = page.context.browser.new_context()
    patient_page = patient_context.new_page()
    _sign_in(patient_page, base, clinic_a.patient)
    patient_page.get_by_role("link", name="My consents").click()
    patient_page.locator("tr", has_text="Anonymization of a recording").get_by_role(
        "button", name="Withdraw"
    ).click()
    patient_context.close()

    page.reload()
    assert page.locator("#withdrawn-notice").is_visible()
    assert not page.locator("#anonymized-video").count() and not page.locator("#original-video").count()
    media = page.request.get(f"{base}/anonymize/{anonymization.id}/media/anonymized.mp4")
    assert media.status == 410
    anonymization.refresh_from_db()
    assert anonymization.status == AnonymizationStatus.WITHDRAWN
