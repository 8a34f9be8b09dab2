"""In a real browser: a clinician deletes their enrollment after a confirmation step (files, rows and
templates gone, the queued render stopped, new renders refused with the reason, the deletion in the
ledger); a clinic admin deletes a departed clinician's; the retention schedule is published.

Also the other confirmation steps, with JavaScript switched off: cancelling a render and revoking a
likeness consent each land on a page that says what happens and acts only when confirmed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from avatars.models import Enrollment, EnrollmentStatus, NarrationSource, Video
from avatars.services import enrollment_portrait_create, render_request, script_approve, script_save
from consent.models import LedgerEntry, LikenessStatus
from core.models import JobStatus, Upload
from tests.avatars.conftest import GRID
from tests.browser.conftest import ARTIFACTS, sign_in
from tests.consent.conftest import active_consent

pytestmark = [pytest.mark.browser, pytest.mark.media]

PHOTO = GRID.parents[1] / "faces" / "named" / "test" / "obama1.jpg"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1200, "height": 900}


def _shots(page: Any, name: str) -> None:
    """The page at desktop and phone widths, for a person to look at."""
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def _portrait_with_queued_render(texts: Any) -> tuple[Enrollment, Any, Video]:
    if not PHOTO.exists():
        pytest.skip(f"{PHOTO} is absent (../shared/media is for internal evaluation only)")
    active_consent(texts, synthetic_voice_allowed=True)
    enrollment = enrollment_portrait_create(
        actor=texts.clinician,
        clinician=texts.clinician,
        photo=SimpleUploadedFile(PHOTO.name, PHOTO.read_bytes()),
    )
    script = script_save(
        actor=texts.clinician,
        enrollment_id=enrollment.id,
        title="Morning glucose",
        language="en",
        topic="diabetes",
        audience="patients",
        channel="portal",
        text="Check your blood sugar before breakfast.",
        narration_source=NarrationSource.TTS,
    )
    script_approve(actor=texts.clinician, script_id=script.id)
    # No worker runs in these tests: the render stays queued, as a long render would be running.
    video = render_request(actor=texts.clinician, script_id=script.id)
    return enrollment, script, video


def test_a_clinician_deletes_their_enrollment_after_confirming(
    texts: Any, live_server_url: str, browser_page: Any
) -> None:
    page, base = browser_page, live_server_url
    enrollment, script, video = _portrait_with_queued_render(texts)
    assert enrollment.photo is not None
    photo_id, photo_key = enrollment.photo.id, enrollment.photo.storage_key
    assert default_storage.exists(photo_key)

    sign_in(page, base, texts.clinician)
    page.get_by_role("link", name="Studio").click()
    row = page.locator("li[data-kind=portrait]")
    assert "Kept until" in row.inner_text()
    row.get_by_role("link", name="Delete this enrollment…").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Delete my enrollment (portrait photo)?"
    consequences = page.locator("#consequences").inner_text()
    assert "Destroyed for good: your portrait photo" in consequences
    assert "1 render in progress will stop." in consequences
    assert "1 script presented with it can no longer be rendered" in consequences
    assert "revoking the likeness consent" in page.locator("#unchanged").inner_text()
    _shots(page, "enrollment-delete-confirm")

    # The box must be ticked: the browser does not send the form without it.
    confirm_url = page.url
    page.get_by_role("button", name="Delete the enrollment").click()
    assert page.url == confirm_url
    assert Enrollment.objects.get(id=enrollment.id).status == EnrollmentStatus.READY

    page.get_by_label("I understand that my enrollment is destroyed and cannot be recovered.").check()
    page.get_by_role("button", name="Delete the enrollment").click()
    page.wait_for_url(f"{base}/studio/", wait_until="domcontentloaded")
    deleted = page.locator("li[data-kind=portrait][data-status=deleted]")
    assert "Deleted by the clinician on" in deleted.inner_text()
    assert deleted.get_by_role("link", name="Delete this enrollment…").count() == 0
    _shots(page, "studio-enrollment-deleted")

    enrollment.refresh_from_db()
    assert enrollment.photo is None and enrollment.deletion_reason == "deleted_by_clinician"
    assert not Upload.objects.filter(id=photo_id).exists()
    assert not default_storage.exists(photo_key)
    assert not (Path(default_storage.location) / photo_key).parent.exists()
    video.refresh_from_db()
    assert video.job.status == JobStatus.CANCELLED
    entry = LedgerEntry.objects.get(event_type="enrollment.deleted", object_id=str(enrollment.id))
    assert json.loads(entry.entry)["data"]["destroyed"][0] == "portrait photo"

    page.goto(f"{base}/studio/scripts/{script.id}/")
    assert "enrollment was deleted" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="Render").count() == 0

    page.get_by_role("link", name="Biometric data retention schedule").click()
    assert "3 years" in page.locator("#retention-periods").inner_text()
    _shots(page, "biometric-retention-schedule")


def test_a_clinic_admin_deletes_a_departed_clinicians_enrollment(
    texts: Any, live_server_url: str, browser_page: Any
) -> None:
    page, base = browser_page, live_server_url
    enrollment, _, _ = _portrait_with_queued_render(texts)
    sign_in(page, base, texts.admin)
    page.get_by_role("link", name="Studio").click()
    page.locator("li[data-kind=portrait]").get_by_role("link", name="Delete this enrollment…").click()
    name = texts.clinician.printed_name
    assert page.get_by_role("heading", level=1).inner_text().startswith(f"Delete {name}'s enrollment")
    assert "Destroyed for good: their portrait photo" in page.locator("#consequences").inner_text()
    page.get_by_label(f"I understand that {name}'s enrollment is destroyed and cannot be recovered.").check()
    page.get_by_role("button", name="Delete the enrollment").click()
    page.wait_for_url(f"{base}/studio/", wait_until="domcontentloaded")
    assert "Deleted by a clinic admin" in page.locator("li[data-kind=portrait]").inner_text()
    enrollment.refresh_from_db()
    assert enrollment.deleted_by == texts.admin and enrollment.photo is None


def test_cancel_and_revoke_ask_first_without_javascript(
    texts: Any, live_server_url: str, browser_page: Any
) -> None:
    base = live_server_url
    _, _, video = _portrait_with_queued_render(texts)
    context = browser_page.context.browser.new_context(java_script_enabled=False, viewport=DESKTOP)
    page = context.new_page()
    try:
        sign_in(page, base, texts.clinician)
        page.goto(f"{base}/videos/{video.id}/")
        page.get_by_role("button", name="Cancel render").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Cancel this avatar render?"
        assert "The video will not be made" in page.locator("#consequences").inner_text()
        _shots(page, "render-cancel-confirm")
        page.get_by_role("link", name="Keep it running").click()
        page.wait_for_url(f"{base}/videos/{video.id}/", wait_until="domcontentloaded")
        video.refresh_from_db()
        assert video.job.status == JobStatus.QUEUED
        page.get_by_role("button", name="Cancel render").click()
        page.get_by_role("button", name="Cancel the avatar render").click()
        page.wait_for_url(f"{base}/videos/{video.id}/", wait_until="domcontentloaded")
        video.refresh_from_db()
        assert video.job.status == JobStatus.CANCELLED
        assert "Render cancelled" in page.locator("main").inner_text()

        consent = texts.clinician.likeness_consents.get()
        page.goto(f"{base}/consent/likeness/")
        page.get_by_role("button", name="Revoke my consent").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Revoke my likeness consent?"
        consequences = page.locator("#consequences").inner_text()
        assert "No published video is affected" in consequences
        assert "no new video can be made with your likeness" in consequences
        _shots(page, "revoke-confirm")
        page.get_by_role("link", name="Keep my consent").click()
        consent.refresh_from_db()
        assert consent.status == LikenessStatus.ACTIVE
        page.get_by_role("button", name="Revoke my consent").click()
        # Without JavaScript the browser still refuses the form until the box is ticked.
        page.get_by_role("button", name="Revoke my consent").click()
        consent.refresh_from_db()
        assert consent.status == LikenessStatus.ACTIVE
        page.get_by_label("I understand that this takes effect at once").check()
        page.get_by_role("button", name="Revoke my consent").click()
        page.wait_for_url(f"{base}/consent/likeness/", wait_until="domcontentloaded")
        assert page.locator("#consent-status").inner_text() == "Revoked"
        consent.refresh_from_db()
        assert consent.status == LikenessStatus.REVOKED
    finally:
        context.close()
