"""The studio's part of the demo clinic: a published stock-presenter education video (no real person)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from avatars.models import NarrationSource, Script, Video, VideoStatus
from avatars.services import (
    enrollment_stock_get_or_create,
    render_request,
    script_approve,
    script_save,
    video_publish,
    video_review,
)
from core.demo import SeededPerson, demo_user
from core.job_kinds import job_kind_get
from core.models import Clinic, Role, User

DEMO_SCRIPT = (
    "Hello. Today we talk about checking your blood sugar at home. Wash your hands, prick the side of a "
    "fingertip, and touch the drop to the strip. Write the number in your diary, with the time. If it is "
    "higher than the range we agreed, call the clinic."
)


def demo_video_ensure(*, clinician: User, patient: User) -> Video:
    """Render (in this process), approve and publish the demo video once; later runs reuse it."""
    existing = Video.objects.filter(
        clinic_id=clinician.member_clinic_id, status=VideoStatus.PUBLISHED
    ).first()
    if existing is not None:
        return existing
    script = Script.objects.filter(
        clinic_id=clinician.member_clinic_id, title="Checking your blood sugar"
    ).first()
    if script is None:
        script = script_save(
            actor=clinician,
            enrollment_id=enrollment_stock_get_or_create(actor=clinician).id,
            title="Checking your blood sugar",
            language="en",
            topic="diabetes",
            audience="patients",
            channel="portal",
            text=DEMO_SCRIPT,
            narration_source=NarrationSource.TTS,
        )
        script_approve(actor=clinician, script_id=script.id)
    # Render here rather than on the worker: the seed must end with a video a patient can watch.
    with transaction.atomic():
        video = render_request(actor=clinician, script_id=script.id)
        transaction.get_connection().run_on_commit.clear()
    job_kind_get(video.job.kind).task(str(video.job_id))
    video.refresh_from_db()
    if video.status != VideoStatus.IN_REVIEW:
        raise RuntimeError(f"demo render failed: {video.job.error_message}")
    video_review(actor=clinician, video_id=video.id, approve=True)
    video_publish(actor=clinician, video_id=video.id, patient_ids=[patient.pk])
    return video


def avatars_demo_seed(clinic: Clinic, people: Sequence[SeededPerson]) -> None:
    """The demo video, presented by the stock presenter for the clinician and shared with the patient."""
    demo_video_ensure(clinician=demo_user(people, Role.CLINICIAN), patient=demo_user(people, Role.PATIENT))
