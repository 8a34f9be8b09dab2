"""In a real browser (issue 15): the script form's uses follow the chosen presenter's consent, the
compliance console shows its charts, the clinician's likeness page its chart and sentences, and the
enrollment page its reading script and what is accepted. Screenshots at desktop and phone widths
go to test-results/."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from avatars.models import Enrollment, EnrollmentKind, EnrollmentStatus, Script
from avatars.services import enrollment_stock_get_or_create
from consent.services.likeness import likeness_consent_record_use
from tests.browser.conftest import ARTIFACTS, sign_in
from tests.consent.conftest import active_consent

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _shoot(page: Any, name: str) -> None:
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def _options(page: Any, name: str) -> list[str]:
    return list(page.locator(f'select[name="{name}"] option').evaluate_all("os => os.map(o => o.value)"))


def test_script_uses_follow_the_presenters_consent(
    texts: Any, live_server_url: str, browser_page: Any
) -> None:
    page, base = browser_page, live_server_url
    consent = active_consent(texts, topics=["asthma"], audiences=["caregivers"], channels=["waiting-room"])
    likeness_consent_record_use(
        consent=consent, object_type="video", object_id=uuid.uuid4(), actor=texts.clinician
    )
    likeness = Enrollment.objects.create(
        clinic=texts.clinic,
        clinician=texts.clinician,
        kind=EnrollmentKind.PORTRAIT,
        status=EnrollmentStatus.READY,
        created_by=texts.clinician,
    )
    stock = enrollment_stock_get_or_create(actor=texts.clinician)
    sign_in(page, base, texts.clinician)
    page.goto(f"{base}/studio/scripts/new/")
    presenter = page.locator('select[name="enrollment"]')
    presenter.select_option(str(likeness.id))
    assert _options(page, "topic") == ["asthma"] and _options(page, "channel") == ["waiting-room"]
    presenter.select_option(str(stock.id))
    assert {"asthma", "diabetes", "vaccination"} <= set(_options(page, "topic"))
    page.get_by_label("Title").fill("Vaccines for children")
    page.locator('select[name="topic"]').select_option("vaccination")
    page.locator('select[name="audience"]').select_option("caregivers")
    page.get_by_label("Text").fill("Vaccines protect your child. Ask us which ones are due this year.")
    _shoot(page, "script-uses")
    page.get_by_role("button", name="Save script").click()
    page.wait_for_selector("#script-status")
    saved = Script.objects.get(title="Vaccines for children")
    assert (saved.topic, saved.audience, saved.enrollment_id) == ("vaccination", "caregivers", stock.id)
    assert "again" not in page.locator(".messages").inner_text()
    # Back to the likeness: the lists narrow again, and the saved stock topic is not offered for it.
    presenter.select_option(str(likeness.id))
    assert _options(page, "topic") == ["asthma"]
    page.goto(f"{base}/studio/")
    _shoot(page, "studio")
    page.goto(f"{base}/consent/likeness/")
    assert page.locator("#chart-uses svg[role=img]").count() == 1
    assert page.locator("#likeness-history li").first.inner_text()
    _shoot(page, "likeness")


def test_the_console_shows_activity_and_consent_states(
    texts: Any, live_server_url: str, browser_page: Any
) -> None:
    page, base = browser_page, live_server_url
    active_consent(texts)
    sign_in(page, base, texts.compliance)
    page.goto(f"{base}/compliance/")
    activity = page.locator("#chart-activity svg[role=img]")
    assert activity.count() == 1 and activity.locator("rect").count() >= 1
    assert "ledger entries in the 30 days" in page.locator("#chart-activity figcaption").inner_text()
    assert page.locator("#chart-likeness-states rect").count() >= 1
    # The search form's date fields are styled like the others and line up with them.
    since = page.locator('input[name="since"]').bounding_box()
    event = page.locator('input[name="event_type"]').bounding_box()
    assert since and event and abs(since["height"] - event["height"]) < 2
    # No event name breaks mid-word: each sits on one line.
    event_cell = page.locator("table.ledger td.event code").first
    box = event_cell.bounding_box()
    assert box and box["height"] < 30
    _shoot(page, "compliance")
    page.goto(f"{base}/compliance/disclosures/")
    _shoot(page, "disclosures")


def test_the_enrollment_page_shows_the_script_what_is_accepted_and_a_quality_report(
    settings: Any,
    texts: Any,
    live_server_url: str,
    browser_page: Any,
    tiny_video: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from avatars.services import enrollment_footage_start
    from avatars.services.enrollment_guide import READING_SCRIPT
    from tests.avatars.conftest import run_job

    page, base = browser_page, live_server_url
    settings.AVATAR_ENROLLMENT_MIN_SECONDS = 60  # the product's minimum, as the page quotes it
    with django_capture_on_commit_callbacks(execute=False):
        enrollment = enrollment_footage_start(
            actor=texts.clinician,
            clinician=texts.clinician,
            footage=SimpleUploadedFile("me.mp4", tiny_video.read_bytes()),
        )
    run_job(enrollment.job)
    sign_in(page, base, texts.clinician)
    page.goto(f"{base}/studio/")
    assert READING_SCRIPT[0] in page.locator("#reading-script").inner_text()
    assert page.locator("#enrollment-guide dt", has_text="Length").count() == 1
    assert "At least 60 seconds" in page.locator("#enrollment-guide").inner_text()
    report = page.locator("details.quality-report")
    assert report.get_attribute("open") is not None  # a refusal opens itself
    assert report.locator("li.check-failed").count() == 1
    _shoot(page, "studio-enrollment")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base, texts.admin)
    page.goto(f"{base}/studio/")
    assert (
        "the clinician reading the script below"
        in page.locator("form").filter(has_text="Upload footage").inner_text()
    )
    _shoot(page, "studio-admin")


def test_a_render_refused_at_the_click_keeps_the_script_form_as_it_was(
    texts: Any, live_server_url: str, browser_page: Any
) -> None:
    """Issue 15 item 8 in a browser: the consent is revoked while the script page is open; the click
    on Render is refused with the reason and the edit form still holds the saved script (it came
    back empty with "This field is required." and the narration choice flipped)."""
    from avatars.models import NarrationSource
    from avatars.services import script_approve, script_save
    from consent.services.likeness import likeness_consent_revoke

    page, base = browser_page, live_server_url
    consent = active_consent(texts, synthetic_voice_allowed=True)
    likeness = Enrollment.objects.create(
        clinic=texts.clinic,
        clinician=texts.clinician,
        kind=EnrollmentKind.PORTRAIT,
        status=EnrollmentStatus.READY,
        created_by=texts.clinician,
    )
    text = "Check your feet every evening. Call us if a sore does not heal within a week."
    script = script_save(
        actor=texts.clinician,
        enrollment_id=likeness.id,
        title="Foot care at home",
        language="en",
        topic="diabetes",
        audience="patients",
        channel="portal",
        text=text,
        narration_source=NarrationSource.TTS,
    )
    script_approve(actor=texts.clinician, script_id=script.id)
    sign_in(page, base, texts.clinician)
    page.goto(f"{base}/studio/scripts/{script.id}/")
    render_button = page.locator("#render-button")
    assert render_button.is_visible(), page.locator("main").inner_text()[:1500]
    likeness_consent_revoke(actor=texts.clinician, consent_id=consent.id)  # meanwhile, elsewhere
    render_button.click()
    page.wait_for_selector("#render-refusal, .error-box")
    _shoot(page, "render-refused")
    assert "This field is required." not in page.content()
    assert page.get_by_label("Title").input_value() == "Foot care at home"
    assert page.get_by_label("Text").input_value() == text
    assert page.locator('select[name="topic"]').input_value() == "diabetes"
    assert page.locator('select[name="narration_source"]').input_value() == "tts"
    assert "consent" in page.locator(".error-box").first.inner_text().lower()
    assert not page.locator("#render-button").count()
    assert not Script.objects.get(id=script.id).videos.exists()
