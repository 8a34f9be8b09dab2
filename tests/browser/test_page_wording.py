"""Every page a patient or a clinician sees reads as sentences, not as a database (issue 15 items
16, 17): no snake_case codes, no raw hashes, no 'None' in the visible text (what waits behind a
closed 'technical details' is not visible). Screenshots of each page at desktop and phone widths go
to test-results/walk-*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest

from avatars.services import (
    enrollment_stock_get_or_create,
    render_request,
    script_approve,
    script_save,
    video_publish,
    video_review,
)
from consent.services.patient import patient_consent_grant
from tests.avatars.conftest import run_job
from tests.browser.conftest import ARTIFACTS, sign_in
from tests.consent.conftest import active_consent
from tests.support import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")  # revoked_by_clinician, likeness_consent, ...
HASH = re.compile(r"\b[0-9a-f]{20,}\b")
ID_LIKE = re.compile(r"\b(?:patient|user|clinician) \d+\b", re.I)


def _walk(page: Any, base: str, name: str, path: str) -> list[str]:
    """Open a page, shoot it at both widths, and list what in its visible text reads like a database."""
    page.set_viewport_size(DESKTOP)
    page.goto(f"{base}{path}")
    text = page.locator("main").inner_text()
    page.screenshot(path=str(ARTIFACTS / f"walk-{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(ARTIFACTS / f"walk-{name}-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    return [
        f"{name}: …{text[max(0, m.start() - 40) : m.end() + 20]}…".replace("\n", " ")
        for pattern in (CODE, HASH, ID_LIKE, re.compile(r"\bNone\b(?! yet)"))
        for m in pattern.finditer(text)
    ]


def test_patient_and_clinician_pages_read_as_sentences(
    texts: Any, live_server_url: str, browser_page: Any, django_capture_on_commit_callbacks: Any
) -> None:
    page, base = browser_page, live_server_url
    active_consent(texts, synthetic_voice_allowed=True)
    stock = enrollment_stock_get_or_create(actor=texts.clinician)
    script = script_save(
        actor=texts.clinician,
        enrollment_id=stock.id,
        title="Morning glucose",
        language="en",
        topic="diabetes",
        audience="patients",
        channel="portal",
        text="Check your blood sugar before breakfast. Call Dr. Rivera if it is above the range we agreed.",
        narration_source="tts",
    )
    script_approve(actor=texts.clinician, script_id=script.id)
    with django_capture_on_commit_callbacks(execute=False):
        video = render_request(actor=texts.clinician, script_id=script.id)
    run_job(video.job)
    video_review(actor=texts.clinician, video_id=video.id, approve=True)
    video_publish(actor=texts.clinician, video_id=video.id, patient_ids=[texts.patient.pk])
    patient_consent_grant(
        patient=texts.patient, kind="patient_recording", purpose="Teaching", password=PASSWORD
    )

    problems: list[str] = []
    sign_in(page, base, texts.clinician)
    for name, path in (
        ("clinician-home", "/"),
        ("studio", "/studio/"),
        ("script", f"/studio/scripts/{script.id}/"),
        ("video", f"/videos/{video.id}/"),
        ("likeness", "/consent/likeness/"),
        ("jobs", "/jobs/"),
        ("job", f"/jobs/{video.job.id}/"),
        ("upload", "/videos/upload/"),
        ("anonymize", "/anonymize/"),
    ):
        problems += _walk(page, base, name, path)
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base, texts.patient)
    for name, path in (
        ("patient-home", "/"),
        ("viewer", f"/videos/{video.id}/"),
        ("patient-consents", "/consent/mine/"),
    ):
        problems += _walk(page, base, name, path)
    assert not problems, "\n".join(problems)
