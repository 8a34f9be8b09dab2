"""The revocation page's sentences from the studio: how many published videos are withdrawn and how
many renders stop if the likeness consent ends now (and nothing changes by asking)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from avatars.models import NarrationSource, Video, VideoStatus
from avatars.services import enrollment_portrait_create, render_request, script_approve, script_save
from consent.models import LikenessStatus
from consent.services.likeness import likeness_consent_revocation_preview
from tests.avatars.conftest import GRID
from tests.consent.conftest import active_consent

pytestmark = pytest.mark.media

PHOTO = GRID.parents[1] / "faces" / "named" / "test" / "obama1.jpg"


def _render(studio: Any, capture: Any) -> Video:
    if not PHOTO.exists():
        pytest.skip(f"{PHOTO} is absent (../shared/media is for internal evaluation only)")
    enrollment = enrollment_portrait_create(
        actor=studio.clinician,
        clinician=studio.clinician,
        photo=SimpleUploadedFile("me.jpg", PHOTO.read_bytes()),
    )
    script = script_save(
        actor=studio.clinician,
        enrollment_id=enrollment.id,
        title="Inhaler technique",
        language="en",
        topic="diabetes",
        audience="patients",
        channel="portal",
        text="Breathe out fully before you press the inhaler.",
        narration_source=NarrationSource.TTS,
    )
    script_approve(actor=studio.clinician, script_id=script.id)
    with capture(execute=False):
        return render_request(actor=studio.clinician, script_id=script.id)


def test_the_revocation_preview_counts_renders_and_published_videos(
    studio: Any, django_capture_on_commit_callbacks: Any
) -> None:
    consent = active_consent(studio, synthetic_voice_allowed=True)
    rendering = _render(studio, django_capture_on_commit_callbacks)
    published = _render(studio, django_capture_on_commit_callbacks)
    # Standing in for a finished, reviewed and published render (rendering it is another test's work).
    Video.objects.filter(id=published.id).update(status=VideoStatus.PUBLISHED)
    _, lines = likeness_consent_revocation_preview(actor=studio.clinician, consent_id=consent.id)
    text = " ".join(lines)
    assert "1 published video will be withdrawn at once" in text
    assert "1 render in progress will stop." in text
    consent.refresh_from_db()
    rendering.refresh_from_db()
    assert consent.status == LikenessStatus.ACTIVE and rendering.status == VideoStatus.RENDERING
