"""Redaction boxes in a real browser: a clinician gives one box by its numbers (the form that works
without JavaScript), draws another over a still of the chosen video, sees a bad box refused with the
input kept, and finds both listed on the review page once the job has run."""

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

DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


def _shots(page: Any, name: str) -> None:
    for label, size in (("1280", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def _fill_upload(page: Any, clinic_a: ClinicPeople, recording: Path) -> None:
    page.get_by_label("Patient shown in the recording").select_option(str(clinic_a.patient.pk))
    page.get_by_label("Consultation recording (video with sound)").set_input_files(str(recording))
    page.get_by_label("Replace faces with").select_option("mask")
    page.get_by_label("Keep unaltered (enrolled face and voice)").select_option("")


def _sign_in(page: Any, base: str, user: Any) -> None:
    page.goto(f"{base}/account/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def test_without_javascript_the_page_offers_rows_to_type_boxes_into(
    clinic_a: ClinicPeople, live_server_url: str, browser_page: Any
) -> None:
    context = browser_page.context.browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _sign_in(page, live_server_url, clinic_a.clinician)
    page.goto(f"{live_server_url}/anonymize/")
    for number in (1, 2):
        row = page.locator("fieldset", has_text=f"Box {number}")
        assert row.get_by_label("Left (x)").is_visible() and row.get_by_label("Until (s)").is_visible()
    # The script's parts stay hidden: no button that does nothing, no empty drawing stage.
    assert not page.locator("#redaction-add").is_visible()
    assert not page.locator("#redaction-draw").is_visible()
    context.close()


def test_boxes_given_on_the_page_are_listed_on_the_review_page(
    clinic_a: ClinicPeople,
    live_server_url: str,
    celery_worker_thread: None,
    browser_page: Any,
    tmp_path: Path,
) -> None:
    page, base = browser_page, live_server_url
    page.set_viewport_size(DESKTOP)
    consent_defaults_ensure(actor=clinic_a.admin)
    patient_consent_grant(
        patient=clinic_a.patient,
        kind=ConsentKind.PATIENT_ANONYMIZATION,
        purpose="Teaching residents",
        password=PASSWORD,
    )
    recording = demo_video_write(tmp_path / "consultation.mp4", seconds=2.0, width=320, height=180)
    _sign_in(page, base, clinic_a.clinician)
    page.goto(f"{base}/anonymize/")

    # A box that ends before it starts: refused, the numbers kept, nothing stored.
    _fill_upload(page, clinic_a, recording)
    first = page.locator("fieldset", has_text="Box 1")
    first.get_by_label("Unit").select_option("pixels")
    for label, value in (("Left (x)", "200"), ("Top (y)", "120"), ("Width", "100"), ("Height", "50")):
        first.get_by_label(label).fill(value)
    first.get_by_label("From (s)").fill("1.5")
    first.get_by_label("Until (s)").fill("0.5")
    page.get_by_role("button", name="Upload and anonymize").click()
    page.wait_for_load_state()
    assert page.get_by_text("The box must end after it starts.").is_visible()
    assert page.locator("fieldset", has_text="Box 1").get_by_label("Left (x)").input_value() == "200"
    assert page.locator("#upload-refused").is_visible()
    assert not Anonymization.objects.exists()
    _shots(page, "anonymize-redaction-error")

    # Fixed by hand; a second box drawn over a still of the chosen video (the script's enhancement).
    first = page.locator("fieldset", has_text="Box 1")
    first.get_by_label("Until (s)").fill("1.9")
    _fill_upload(page, clinic_a, recording)
    stage = page.locator("#redaction-stage")
    stage.wait_for(state="visible")
    page.wait_for_function("document.getElementById('redaction-video').videoWidth > 0")
    page.locator("#redaction-time").fill("0.5")
    page.wait_for_function("Math.abs(document.getElementById('redaction-video').currentTime - 0.5) < 0.05")
    area = stage.bounding_box()
    page.mouse.move(area["x"] + area["width"] * 0.1, area["y"] + area["height"] * 0.6)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.3, area["y"] + area["height"] * 0.8, steps=5)
    page.mouse.up()
    second = page.locator("fieldset", has_text="Box 2")
    assert abs(float(second.get_by_label("Left (x)").input_value()) - 0.1) < 0.02
    assert abs(float(second.get_by_label("Width").input_value()) - 0.2) < 0.02
    assert second.get_by_label("From (s)").input_value() == "0.5"
    assert page.locator(".redaction-mark").count() == 1  # box 1 starts at 1.5 s: not shown at 0.5 s
    _shots(page, "anonymize-redaction-draw")
    page.get_by_role("button", name="Upload and anonymize").click()
    page.wait_for_url("**/anonymize/*/")

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not page.locator("#anonymized-video").count():
        if page.locator(".status-failed, .status-cancelled").count():
            break
        time.sleep(0.2)
    anonymization = Anonymization.objects.get()
    assert anonymization.status == AnonymizationStatus.IN_REVIEW, anonymization.job.error_message
    assert len(anonymization.job.params["redactions"]) == 2
    listed = page.locator("#redaction-list li")
    assert listed.count() == 2
    assert listed.nth(0).inner_text() == "100×50 px at (200, 120) (x 62–94%, y 67–94%), from 1.5 s to 1.9 s"
    assert "from 0.5 s to the end" in listed.nth(1).inner_text()
    assert page.get_by_text("2 redaction boxes drawn by the user").first.is_visible()
    assert anonymization.report["redaction_boxes"] == 2
    _shots(page, "anonymize-redaction-review")
