"""The studio end to end through services and tasks: stock presenter, consent gate refusals,
review, publication, viewing and withdrawal."""

from __future__ import annotations

from typing import Any

import av
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from avatars.models import NarrationSource, ScriptStatus, Video, VideoStatus
from avatars.services import (
    enrollment_footage_start,
    enrollment_stock_get_or_create,
    render_request,
    script_approve,
    script_save,
    video_publish,
    video_review,
)
from consent.models import LedgerEntry
from consent.services import likeness_consent_revoke
from core.errors import ApplicationError
from core.models import JobStatus
from tests.avatars.conftest import GRID, grid_clip, run_job
from tests.avatars.quality_gate_support import open_quality_gate
from tests.consent.conftest import active_consent
from tests.support import signed_in_client

TEXT = "Check your blood sugar before breakfast. Call us if it is above the range we agreed."


def _script(clinic: Any, enrollment: Any, **overrides: Any) -> Any:
    values = {
        "enrollment_id": enrollment.id,
        "title": "Morning glucose",
        "language": "en",
        "topic": "diabetes",
        "audience": "patients",
        "channel": "portal",
        "text": TEXT,
        "narration_source": NarrationSource.TTS,
    }
    values.update(overrides)
    return script_save(actor=clinic.clinician, **values)


def _stock_video(clinic: Any, capture: Any) -> Video:
    script = _script(clinic, enrollment_stock_get_or_create(actor=clinic.clinician))
    script_approve(actor=clinic.clinician, script_id=script.id)
    with capture(execute=False):
        video = render_request(actor=clinic.clinician, script_id=script.id)
    run_job(video.job)
    video.refresh_from_db()
    return video


def test_a_stock_presenter_video_is_rendered_signed_labelled_and_captioned(
    studio: Any, django_capture_on_commit_callbacks: Any
) -> None:
    video = _stock_video(studio, django_capture_on_commit_callbacks)
    assert video.job.status == JobStatus.SUCCEEDED, video.job.error_message
    assert video.status == VideoStatus.IN_REVIEW and video.signed
    assert "AI-generated" in video.label_text and "synthetic presenter" in video.label_text
    assert "Voice: synthetic" in video.label_text
    with av.open(default_storage.path(video.video_key)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
    from provenance.services import output_manifest

    report = output_manifest(default_storage.path(video.video_key))
    assert report.state.value == "Trusted" and report.consent.clinic_id == str(studio.clinic.id)
    with default_storage.open(video.captions_key, "rb") as captions:
        assert captions.read().startswith(b"WEBVTT")
    events = set(LedgerEntry.objects.filter(object_id=str(video.id)).values_list("event_type", flat=True))
    assert {"render.requested", "render.signing", "render.finished"} <= events


def test_review_publish_view_acknowledge(studio: Any, django_capture_on_commit_callbacks: Any) -> None:
    video = _stock_video(studio, django_capture_on_commit_callbacks)
    with pytest.raises(ApplicationError, match="approved"):
        video_publish(actor=studio.clinician, video_id=video.id, patient_ids=[studio.patient.pk])
    with pytest.raises(ApplicationError, match="why"):
        video_review(actor=studio.clinician, video_id=video.id, approve=False)
    video_review(actor=studio.clinician, video_id=video.id, approve=True)
    publications, token = video_publish(
        actor=studio.clinician, video_id=video.id, patient_ids=[studio.patient.pk], link_days=7
    )
    assert len(publications) == 2 and token
    patient = signed_in_client(studio.patient)
    page = patient.get(f"/videos/{video.id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "AI-generated video" in html and 'kind="captions"' in html and studio.clinic.contact_email in html
    banner = html.split('id="disclosure">')[1].split("</div>")[0]
    assert banner.count("AI-generated") == 1  # issue 15 item 17: it said so twice
    from consent.models import Disclosure

    recipients = set(Disclosure.objects.filter(what="publication").values_list("recipient", flat=True))
    assert recipients == {
        f"{studio.patient.printed_name} (patient)",
        "holders of a share link",
    }  # not "patient 3"
    assert "Signed by" in html
    assert patient.get(f"/videos/{video.id}/media/video.mp4").status_code == 200
    patient.get(f"/videos/{video.id}/")  # a second view does not acknowledge again
    acks = LedgerEntry.objects.filter(event_type="video.view_acknowledged", object_id=str(video.id))
    assert acks.count() == 1
    from django.test import Client

    assert Client().get(f"/v/{token}/").status_code == 200
    assert Client().get(f"/v/{token}/media/video.mp4").status_code == 200
    assert Client().get("/v/not-a-token/").status_code == 404


def test_other_patients_and_clinics_cannot_see_a_video(
    studio: Any, clinic_b: Any, django_capture_on_commit_callbacks: Any
) -> None:
    video = _stock_video(studio, django_capture_on_commit_callbacks)
    assert (
        signed_in_client(studio.patient).get(f"/videos/{video.id}/").status_code == 404
    )  # not published to them
    for user in clinic_b.by_role.values():
        client = signed_in_client(user)
        assert client.get(f"/videos/{video.id}/").status_code == 404
        assert client.get(f"/videos/{video.id}/media/video.mp4").status_code == 404


def test_an_edit_after_approval_needs_a_new_approval(studio: Any) -> None:
    enrollment = enrollment_stock_get_or_create(actor=studio.clinician)
    script = _script(studio, enrollment)
    script_approve(actor=studio.clinician, script_id=script.id)
    edited = _script(studio, enrollment, script_id=script.id, text=TEXT + " Bring your meter.")
    assert edited.status == ScriptStatus.DRAFT
    with pytest.raises(ApplicationError) as refused:
        render_request(actor=studio.clinician, script_id=script.id)
    assert refused.value.code == "script_not_approved"


def test_only_the_presenting_clinician_approves(studio: Any) -> None:
    script = _script(studio, enrollment_stock_get_or_create(actor=studio.clinician))
    with pytest.raises(ApplicationError):
        script_approve(actor=studio.admin, script_id=script.id)


# --- the consent gate on a real likeness ----------------------------------------------------------


@pytest.fixture
def footage_enrollment(studio: Any, django_capture_on_commit_callbacks: Any) -> Any:
    data = grid_clip().read_bytes()
    with django_capture_on_commit_callbacks(execute=False):
        enrollment = enrollment_footage_start(
            actor=studio.clinician, clinician=studio.clinician, footage=SimpleUploadedFile("me.mpg", data)
        )
    run_job(enrollment.job)
    enrollment.refresh_from_db()
    assert enrollment.status == "ready", (enrollment.advice, enrollment.job.error_message)
    return enrollment


def _likeness_script(studio: Any, enrollment: Any, **overrides: Any) -> Any:
    script = _script(studio, enrollment, **overrides)
    script_approve(actor=studio.clinician, script_id=script.id)
    return script


@pytest.mark.media
@pytest.mark.parametrize(
    "consent_scope,script_overrides,code",
    [
        (None, {}, "consent_missing"),
        ({"topics": ["asthma"]}, {}, "consent_scope_topic"),
        ({"languages": ["es"]}, {}, "consent_scope_language"),
        ({"synthetic_voice_allowed": False}, {}, "consent_scope_synthetic_voice"),
    ],
)
def test_a_render_is_refused_outside_consent(
    studio: Any, footage_enrollment: Any, consent_scope: Any, script_overrides: dict, code: str
) -> None:
    if consent_scope is not None:
        active_consent(studio, **consent_scope)
    script = _likeness_script(studio, footage_enrollment, **script_overrides)
    with pytest.raises(ApplicationError) as refused:
        render_request(actor=studio.clinician, script_id=script.id)
    assert refused.value.code == code and refused.value.message


@pytest.mark.media
def test_another_clinics_enrollment_cannot_be_used(
    studio: Any, clinic_b: Any, footage_enrollment: Any
) -> None:
    from consent.defaults import consent_defaults_ensure

    consent_defaults_ensure(actor=clinic_b.admin)
    with pytest.raises(ApplicationError) as refused:
        script_save(
            actor=clinic_b.clinician,
            enrollment_id=footage_enrollment.id,
            title="x",
            language="en",
            topic="diabetes",
            audience="patients",
            channel="portal",
            text=TEXT,
            narration_source="tts",
        )
    assert refused.value.status == 404


@pytest.mark.media
def test_revocation_mid_render_stops_it_and_withdraws_published_videos(
    studio: Any,
    footage_enrollment: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    open_quality_gate(monkeypatch)  # the subject is revocation; a footage render of GRID is held
    consent = active_consent(studio, synthetic_voice_allowed=True)
    script = _likeness_script(studio, footage_enrollment)
    with django_capture_on_commit_callbacks(execute=False):
        published = render_request(actor=studio.clinician, script_id=script.id)
    run_job(published.job)
    published.refresh_from_db()
    assert published.status == VideoStatus.IN_REVIEW, published.job.error_message
    video_review(actor=studio.clinician, video_id=published.id, approve=True)
    video_publish(actor=studio.clinician, video_id=published.id, patient_ids=[studio.patient.pk])

    with django_capture_on_commit_callbacks(execute=False):
        rendering = render_request(actor=studio.clinician, script_id=script.id)
    import avatars.tasks as tasks

    real = tasks._engine_progress

    def revoking_progress(progress: Any, start: float, span: float) -> Any:
        report = real(progress, start, span)
        calls = {"n": 0}

        def wrapped(fraction: float, stage: str) -> None:
            calls["n"] += 1
            if calls["n"] == 3:  # the clinician revokes while frames are being made
                likeness_consent_revoke(actor=studio.clinician, consent_id=consent.id)
            report(fraction, stage)

        return wrapped

    monkeypatch.setattr(tasks, "_engine_progress", revoking_progress)
    run_job(rendering.job)
    rendering.refresh_from_db()
    published.refresh_from_db()
    assert rendering.job.status == JobStatus.CANCELLED
    assert not rendering.video_key
    assert published.status == VideoStatus.WITHDRAWN
    page = signed_in_client(studio.patient).get(f"/videos/{published.id}/")
    assert page.status_code == 410 and b"withdrawn" in page.content
    assert signed_in_client(studio.patient).get(f"/videos/{published.id}/media/video.mp4").status_code == 410
    events = list(
        LedgerEntry.objects.filter(entry__contains=str(consent.id)).values_list("event_type", flat=True)
    )
    assert "video.withdrawn" in events and "publication.withdrawn" in events and "job.cancelled" in events


@pytest.mark.media
# bbaf2n.mpg is the enrollment footage itself: since issue 12 re-use is refused, and an uploaded
# file never activates a consent on its own, so neither statement activates it.
@pytest.mark.parametrize("statement_clip,activated", [("bbaf2n.mpg", False), ("lbax4n.mpg", False)])
def test_the_consent_statement_is_checked_against_the_enrolled_likeness(
    studio: Any,
    footage_enrollment: Any,
    django_capture_on_commit_callbacks: Any,
    statement_clip: str,
    activated: bool,
) -> None:
    from consent.models import LikenessConsent
    from consent.services import likeness_consent_attach_evidence, likeness_consent_sign
    from core.models import MediaJob
    from core.uploads import Scratch, upload_check, upload_record
    from tests.consent.conftest import scope
    from tests.support import PASSWORD

    consent = likeness_consent_sign(clinician=studio.clinician, scope=scope(), password=PASSWORD)
    statement = SimpleUploadedFile("statement.mpg", grid_clip(statement_clip).read_bytes())
    with django_capture_on_commit_callbacks(execute=False), Scratch() as scratch:
        checked = upload_check(file=statement, kinds={"video"}, scratch=scratch)
        upload_record(
            actor=studio.clinician,
            checked=checked,
            purpose="consent_statement",
            then=lambda upload: likeness_consent_attach_evidence(
                clinician=studio.clinician, consent_id=consent.id, upload=upload
            ),
        )
    job = MediaJob.objects.get(kind="statement_check")
    run_job(job)
    consent = LikenessConsent.objects.get(id=consent.id)
    assert (consent.status == "active") == activated, job.result
    assert job.result["passed"] == activated
    entry = LedgerEntry.objects.get(event_type="likeness_consent.evidence_checked", object_id=str(consent.id))
    assert '"face_distance_milli"' in entry.entry and '"max_face_distance_milli":500' in entry.entry
    if activated:
        assert consent.verification_method == "automated"
    else:
        assert job.result["reasons"]  # the clinician is told what to re-record


def test_a_recorded_narration_script_needs_its_recording(studio: Any) -> None:
    with pytest.raises(ApplicationError) as refused:
        _script(
            studio,
            enrollment_stock_get_or_create(actor=studio.clinician),
            narration_source=NarrationSource.RECORDING,
        )
    assert refused.value.extra["field"] == "narration"


def test_a_bad_narration_file_is_refused_and_nothing_is_kept(studio: Any, settings: Any) -> None:
    from pathlib import Path

    from core.models import Upload

    with pytest.raises(ApplicationError) as refused:
        _script(
            studio,
            enrollment_stock_get_or_create(actor=studio.clinician),
            narration_source=NarrationSource.RECORDING,
            narration=SimpleUploadedFile("voice.wav", b"RIFF\x00\x00\x00\x00WAVEjunk"),
        )
    assert refused.value.status == 422
    assert Upload.objects.count() == 0
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


FACES = GRID.parents[1] / "faces" / "named"


def _photo(relative: str) -> SimpleUploadedFile:
    path = FACES / relative
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/media is for internal evaluation only)")
    return SimpleUploadedFile(path.name, path.read_bytes())


@pytest.mark.media
def test_a_portrait_photo_is_enrolled_and_rendered_in_portrait_mode(
    studio: Any, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from avatars.services import enrollment_portrait_create

    open_quality_gate(monkeypatch)  # the subject is the portrait pipeline; its quality is gated elsewhere

    enrollment = enrollment_portrait_create(
        actor=studio.clinician, clinician=studio.clinician, photo=_photo("test/obama1.jpg")
    )
    assert enrollment.status == "ready" and enrollment.kind == "portrait"
    active_consent(studio, synthetic_voice_allowed=True)
    script = _likeness_script(studio, enrollment)
    with django_capture_on_commit_callbacks(execute=False):
        video = render_request(actor=studio.clinician, script_id=script.id)
    run_job(video.job)
    video.refresh_from_db()
    assert video.status == VideoStatus.IN_REVIEW, video.job.error_message
    assert video.job.result["mode"] == "portrait"


@pytest.mark.media
def test_a_photo_with_two_faces_is_refused_with_advice(studio: Any) -> None:
    from avatars.services import enrollment_portrait_create
    from core.models import Upload

    with pytest.raises(ApplicationError) as refused:
        enrollment_portrait_create(
            actor=studio.clinician, clinician=studio.clinician, photo=_photo("test/obama_and_biden.jpg")
        )
    assert refused.value.status == 422 and "face" in refused.value.message.lower()
    assert Upload.objects.count() == 0


@pytest.mark.media
def test_the_studio_page_takes_a_portrait_and_explains_a_refusal(studio: Any) -> None:
    from avatars.models import Enrollment

    client = signed_in_client(studio.clinician)
    assert client.get("/studio/").status_code == 200
    refused = client.post("/studio/", {"photo": _photo("test/obama_and_biden.jpg")})
    assert refused.status_code == 422 and b"face" in refused.content  # the engine's refusal keeps its status
    accepted = client.post("/studio/", {"photo": _photo("test/obama1.jpg")})
    assert accepted.status_code == 302
    assert Enrollment.objects.filter(kind="portrait", clinician=studio.clinician, status="ready").exists()


@pytest.mark.media
def test_an_admin_enrolls_on_a_clinicians_behalf_and_the_clinician_signs_off(
    studio: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from avatars.services import enrollment_sign_off
    from core.services import clinic_member_create

    with django_capture_on_commit_callbacks(execute=False):
        enrollment = enrollment_footage_start(
            actor=studio.admin,
            clinician=studio.clinician,
            footage=SimpleUploadedFile("dr.mpg", grid_clip().read_bytes()),
        )
    run_job(enrollment.job)
    enrollment.refresh_from_db()
    assert enrollment.status == "awaiting_signoff"
    with pytest.raises(ApplicationError, match="not ready"):
        _script(studio, enrollment)
    colleague = clinic_member_create(
        clinic=studio.clinic, username="dr.other", password="x" * 12, role="clinician"
    )
    with pytest.raises(ApplicationError):
        enrollment_sign_off(actor=colleague, enrollment_id=enrollment.id)
    client = signed_in_client(studio.clinician)
    assert b"Approve use of this material" in client.get("/studio/").content
    client.post("/studio/", {"signoff": str(enrollment.id)})
    enrollment.refresh_from_db()
    assert enrollment.status == "ready" and enrollment.signed_off_at is not None
    assert LedgerEntry.objects.filter(
        event_type="enrollment.signed_off", object_id=str(enrollment.id)
    ).exists()


@pytest.mark.media
def test_the_admins_studio_page_enrolls_a_chosen_clinician(studio: Any) -> None:
    from avatars.models import Enrollment

    client = signed_in_client(studio.admin)
    response = client.post(
        "/studio/", {"clinician": str(studio.clinician.pk), "photo": _photo("test/obama1.jpg")}
    )
    assert response.status_code == 302
    enrollment = Enrollment.objects.get(kind="portrait")
    assert enrollment.clinician == studio.clinician and enrollment.status == "awaiting_signoff"


@pytest.mark.media
def test_a_separate_voice_sample_is_the_enrolled_voice(
    studio: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from consent.models import LikenessConsent
    from consent.services import likeness_consent_attach_evidence, likeness_consent_sign
    from core.models import MediaJob
    from core.uploads import Scratch, upload_check, upload_record
    from tests.consent.conftest import scope
    from tests.support import PASSWORD

    speech = sorted((GRID.parents[1] / "speech" / "librispeech" / "1688").glob("*.flac"))
    if not speech:
        pytest.skip("LibriSpeech samples are absent from ../shared/media")
    with django_capture_on_commit_callbacks(execute=False):
        enrollment = enrollment_footage_start(
            actor=studio.clinician,
            clinician=studio.clinician,
            footage=SimpleUploadedFile("me.mpg", grid_clip().read_bytes()),
            voice=SimpleUploadedFile("voice.flac", speech[0].read_bytes()),
        )
    run_job(enrollment.job)
    enrollment.refresh_from_db()
    assert enrollment.voice is not None and enrollment.voice.kind == "audio"
    consent = likeness_consent_sign(clinician=studio.clinician, scope=scope(), password=PASSWORD)
    with django_capture_on_commit_callbacks(execute=False), Scratch() as scratch:
        checked = upload_check(
            file=SimpleUploadedFile("s.mpg", grid_clip().read_bytes()), kinds={"video"}, scratch=scratch
        )
        upload_record(
            actor=studio.clinician,
            checked=checked,
            purpose="consent_statement",
            then=lambda upload: likeness_consent_attach_evidence(
                clinician=studio.clinician, consent_id=consent.id, upload=upload
            ),
        )
    job = MediaJob.objects.get(kind="statement_check")
    run_job(job)
    # The statement's voice is compared with the voice sample (another speaker here), not the footage.
    assert job.result["passed"] is False and job.result["scores"]["voice_passed"] is False
    assert LikenessConsent.objects.get(id=consent.id).status == "awaiting_verification"


def test_a_broken_voice_sample_is_refused_before_anything_is_stored(
    studio: Any, tiny_video: Any, settings: Any
) -> None:
    from pathlib import Path

    from core.models import Upload

    with pytest.raises(ApplicationError):
        enrollment_footage_start(
            actor=studio.clinician,
            clinician=studio.clinician,
            footage=SimpleUploadedFile("me.mp4", tiny_video.read_bytes()),
            voice=SimpleUploadedFile("voice.wav", b"RIFF\x00\x00\x00\x00WAVEjunk"),
        )
    assert Upload.objects.count() == 0
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


@pytest.mark.media
def test_a_render_is_refused_once_the_consent_period_has_ended(studio: Any, footage_enrollment: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from consent.models import LikenessConsent

    consent = active_consent(studio, synthetic_voice_allowed=True)
    script = _likeness_script(studio, footage_enrollment)
    # The expiry task has not run yet: the gate itself must notice the period is over.
    LikenessConsent.objects.filter(id=consent.id).update(valid_until=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ApplicationError) as refused:
        render_request(actor=studio.clinician, script_id=script.id)
    assert refused.value.code == "consent_expired" and "expired" in refused.value.message


def test_a_refused_render_leaves_the_saved_script_in_the_form(studio: Any) -> None:
    """Issue 15 item 8: after a refused render the edit form came back empty, "This field is required."
    everywhere and the narration choice flipped."""
    script = _script(
        studio, enrollment_stock_get_or_create(actor=studio.clinician)
    )  # a draft: not renderable
    page = signed_in_client(studio.clinician).post(f"/studio/scripts/{script.id}/", {"render": "1"})
    assert page.status_code in (400, 409)
    content = page.content.decode()
    assert "This field is required." not in content
    assert 'value="Morning glucose"' in content and TEXT in content
    assert "approved" in content.lower()  # the refusal says why


def test_a_too_long_script_is_refused_with_its_length_never_cut_by_the_browser(studio: Any) -> None:
    """Issue 15 item 11: a pasted script longer than the limit was cut by the browser's maxlength."""
    client = signed_in_client(studio.clinician)
    page = client.get("/studio/scripts/new/").content.decode()
    assert 'data-max-chars="20000"' in page and 'maxlength="20000"' not in page
    assert "Up to 20,000 characters" in page
    stock = enrollment_stock_get_or_create(actor=studio.clinician)
    refused = client.post(
        "/studio/scripts/new/",
        {
            "enrollment": str(stock.id),
            "title": "Too long",
            "language": "en",
            "topic": "diabetes",
            "audience": "patients",
            "channel": "portal",
            "text": "word " * 5000,
            "narration_source": "tts",
        },
    )
    assert refused.status_code == 400
    assert "at most 20000 characters (it has 24999)" in refused.content.decode()  # stripped


def test_a_cancelled_render_says_so_leaves_the_likeness_list_and_returns_to_its_page(
    studio: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Issue 15 item 10: a cancelled render read "Render failed", was listed among the clinician's
    videos (and, cancelled while queued, stayed "Rendering"), and cancel landed on a bare job page."""
    from avatars.selectors import videos_of_likeness
    from avatars.services import render_request, script_approve

    script = _script(studio, enrollment_stock_get_or_create(actor=studio.clinician))
    script_approve(actor=studio.clinician, script_id=script.id)
    with django_capture_on_commit_callbacks(execute=False):
        video = render_request(actor=studio.clinician, script_id=script.id)
    client = signed_in_client(studio.clinician)
    page_url = f"/videos/{video.id}/"
    asked = client.post(f"/jobs/{video.job.id}/cancel/", {"next": page_url})  # the page's button
    assert asked.status_code == 200 and b"Cancel this avatar render?" in asked.content  # issue 15 item 6
    cancelled = client.post(f"/jobs/{video.job.id}/cancel/", {"next": page_url, "confirmed": "yes"})
    assert cancelled.status_code == 302 and cancelled["Location"] == page_url
    video.refresh_from_db()
    assert video.cancelled and video.status_text == "Render cancelled"
    assert b"Render cancelled" in client.get(page_url).content
    assert video not in videos_of_likeness(clinician=studio.clinician)
    assert (
        client.post(f"/jobs/{video.job.id}/cancel/", {"next": "https://evil.example/"})["Location"]
        == f"/jobs/{video.job.id}/"
    )


@pytest.mark.media
def test_after_revocation_the_studio_marks_the_footage_and_offers_no_render_button(
    studio: Any, footage_enrollment: Any
) -> None:
    """Issue 15 item 13: after revocation the footage still read "Ready" and approved scripts showed
    a Render button that failed only on click."""
    from consent.services import likeness_consent_revoke

    consent = active_consent(studio, synthetic_voice_allowed=True)
    script = _likeness_script(studio, footage_enrollment)
    client = signed_in_client(studio.clinician)
    before = client.get(f"/studio/scripts/{script.id}/").content.decode()
    assert 'id="render-button"' in before and 'id="render-refusal"' not in before
    assert 'data-field="no-consent"' not in client.get("/studio/").content.decode()

    likeness_consent_revoke(actor=studio.clinician, consent_id=consent.id)
    after = client.get(f"/studio/scripts/{script.id}/").content.decode()
    assert 'id="render-button"' not in after
    assert 'id="render-refusal"' in after and "was revoked" in after
    assert 'data-field="no-consent"' in client.get("/studio/").content.decode()


def test_the_stock_presenter_is_named_once_in_the_presenter_list(studio: Any) -> None:
    """Issue 15 item 17: "Stock presenter (no real person) — Stock presenter (no real person)"."""
    enrollment_stock_get_or_create(actor=studio.clinician)
    page = signed_in_client(studio.clinician).get("/studio/scripts/new/").content.decode()
    assert page.count("Stock presenter") == 1 and "depicts no real person" in page
