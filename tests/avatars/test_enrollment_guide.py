"""Issue 15 item 5: the enrollment page provides the script it promises, says what footage is
accepted, and after the analysis shows a quality report in plain language."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from avatars.models import Enrollment, EnrollmentKind, EnrollmentStatus
from avatars.services import enrollment_footage_start
from avatars.services.enrollment_guide import (
    READING_SCRIPT,
    enrollment_quality_report,
    enrollment_requirements,
)
from core.models import MediaJob
from tests.avatars.conftest import grid_clip, run_job
from tests.support import signed_in_client


def test_the_reading_script_takes_about_a_minute_and_shows_every_mouth_shape() -> None:
    text = " ".join(READING_SCRIPT).lower()
    words = len(text.split())
    assert 140 <= words <= 200  # a minute at a calm 140-180 words a minute
    # Lips closed (p, b, m), lip to teeth (f, v), rounded and spread lips, and the rarer sounds.
    for sound in ("p", "b", "m", "f", "v", "th", "sh", "ch", "j", "oo", "ee", "w", "sion", "ng"):
        assert sound in text, sound


def test_the_requirements_quote_the_engines_own_limits(settings: Any) -> None:
    from avatars.engine.enrollment import MAX_ENROLLMENT_SECONDS, MIN_EYE_DISTANCE_PX

    settings.AVATAR_ENROLLMENT_MIN_SECONDS = 60
    text = dict(enrollment_requirements())
    assert set(text) == {"Length", "Framing", "Lighting", "One face", "Sound", "File"}
    assert "At least 60 seconds" in text["Length"]
    assert f"after {MAX_ENROLLMENT_SECONDS // 60} minutes" in text["Length"]
    assert f"at least {MIN_EYE_DISTANCE_PX} pixels apart" in text["Framing"]


def _footage(status: str, result: dict[str, Any], advice: str = "") -> Enrollment:
    return Enrollment(kind=EnrollmentKind.FOOTAGE, status=status, advice=advice, job=MediaJob(result=result))


def test_a_refused_footage_report_marks_the_failed_check_and_what_was_not_checked() -> None:
    advice = "Your face is too small in 'me.mp4'. Sit closer to the camera."
    report = enrollment_quality_report(
        _footage(
            EnrollmentStatus.REJECTED, {"accepted": False, "advice": advice, "code": "face_too_small"}, advice
        )
    )
    assert report is not None and not report.accepted and report.redo == advice
    states = [(c.label, c.state) for c in report.checks]
    assert states[-1] == ("Face size", "failed") and report.checks[-1].detail == advice
    assert all(state == "passed" for _, state in states[:-1]) and len(states) == 5
    assert report.unchecked == [
        "Light on the face",
        "Sharpness",
        "Facing the camera",
        "Length",
        "Sound level",
    ]


def test_a_length_refusal_claims_no_other_check_passed() -> None:
    """A file shorter than the minimum is refused before any picture is analysed."""
    advice = "'me.mp4' is too short to enroll: it is only 2.0 s long, and at least 60 s are needed."
    report = enrollment_quality_report(
        _footage(EnrollmentStatus.REJECTED, {"accepted": False, "code": "footage_too_short"}, advice)
    )
    assert report is not None
    assert [(c.label, c.state) for c in report.checks] == [("Length", "failed")]
    assert len(report.unchecked) == 9 and "Sharpness" in report.unchecked


def test_an_accepted_footage_report_says_what_was_measured() -> None:
    measures = {
        "usable_seconds": 64.2,
        "analysed_seconds": 66.0,
        "eye_distance": 71.0,
        "width": 1280,
        "height": 720,
    }
    report = enrollment_quality_report(
        _footage(EnrollmentStatus.READY, {"accepted": True, "analysis": "k", "measures": measures})
    )
    assert report is not None and report.accepted and not report.redo
    assert all(c.state == "passed" for c in report.checks)
    details = {c.label: c.detail for c in report.checks}
    assert details["Length"] == "64 seconds show your face clearly, of 66 seconds analysed."
    assert "1280×720" in details["Face size"]


def test_no_report_while_analysing_or_for_a_photo() -> None:
    assert enrollment_quality_report(_footage(EnrollmentStatus.ANALYZING, {})) is None
    photo = Enrollment(kind=EnrollmentKind.PORTRAIT, status=EnrollmentStatus.READY)
    assert enrollment_quality_report(photo) is None


def test_footage_without_a_face_is_reported_on_the_studio_page(
    studio: Any, tiny_video: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        enrollment = enrollment_footage_start(
            actor=studio.clinician,
            clinician=studio.clinician,
            footage=SimpleUploadedFile("me.mp4", tiny_video.read_bytes()),
        )
    run_job(enrollment.job)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REJECTED
    assert enrollment.job is not None and enrollment.job.result["code"]
    page = signed_in_client(studio.clinician).get("/studio/").content.decode()
    assert "Quality report: record again" in page and 'class="check-failed"' in page
    assert "&#x27;me.mp4&#x27;" in page and "input.mp4" not in page  # the name the clinician gave it


@pytest.mark.media
def test_real_footage_gets_a_report_with_its_usable_seconds(
    studio: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        enrollment = enrollment_footage_start(
            actor=studio.clinician,
            clinician=studio.clinician,
            footage=SimpleUploadedFile("me.mpg", grid_clip().read_bytes()),
        )
    run_job(enrollment.job)
    enrollment.refresh_from_db()
    report = enrollment_quality_report(enrollment)
    assert report is not None and report.accepted, enrollment.advice
    assert enrollment.job is not None
    measures = enrollment.job.result["measures"]
    assert 2.0 < measures["usable_seconds"] <= measures["analysed_seconds"] < 4.0  # a 3 s GRID clip
    page = signed_in_client(studio.clinician).get("/studio/").content.decode()
    assert "Quality report: the footage passed every check" in page


def test_the_studio_shows_the_script_and_speaks_to_the_admin_about_the_clinician(studio: Any) -> None:
    clinician_page = signed_in_client(studio.clinician).get("/studio/").content.decode()
    assert READING_SCRIPT[1] in clinician_page and "What is accepted" in clinician_page
    assert "you reading the script below" in clinician_page
    admin_page = signed_in_client(studio.admin).get("/studio/").content.decode()
    assert "the clinician reading the script below" in admin_page
    assert "you reading" not in admin_page and "Record yourself" not in admin_page
    assert "Portrait photo: the clinician&#x27;s face" in admin_page
