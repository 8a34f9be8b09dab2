"""Issue 13 item 2: footage enrollment requires a minute of usable footage (a setting, 60 s by
default; the test settings lower it because the public test clips are 3-7 s long)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

from avatars.models import EnrollmentStatus
from avatars.services import enrollment_footage_start
from config.settings import base
from tests.avatars.conftest import grid_clip, run_job


def test_the_product_requires_a_minute_of_footage() -> None:
    assert base.AVATAR_ENROLLMENT_MIN_SECONDS == 60
    # The suite runs with a lower requirement only because its real clips are short.
    assert django_settings.AVATAR_ENROLLMENT_MIN_SECONDS < 3


@pytest.mark.media
def test_a_three_second_clip_is_refused_with_the_reason_and_what_to_record(
    studio: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.AVATAR_ENROLLMENT_MIN_SECONDS = 60
    with django_capture_on_commit_callbacks(execute=False):
        enrollment = enrollment_footage_start(
            actor=studio.clinician,
            clinician=studio.clinician,
            footage=SimpleUploadedFile("me.mpg", grid_clip().read_bytes()),
        )
    run_job(enrollment.job)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REJECTED
    assert "too short" in enrollment.advice and "at least 60 s" in enrollment.advice
    assert "about a minute" in enrollment.advice
    assert not enrollment.analysis_key


@pytest.mark.media
def test_the_same_clip_is_accepted_when_the_requirement_is_met(
    studio: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.AVATAR_ENROLLMENT_MIN_SECONDS = 2
    with django_capture_on_commit_callbacks(execute=False):
        enrollment = enrollment_footage_start(
            actor=studio.clinician,
            clinician=studio.clinician,
            footage=SimpleUploadedFile("me.mpg", grid_clip().read_bytes()),
        )
    run_job(enrollment.job)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.READY, enrollment.advice
