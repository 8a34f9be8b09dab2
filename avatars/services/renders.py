"""Renders: the consent gate every render passes (queue, start, finish, publish), the disclosure a
video carries, queueing, the render job's workflow (`render_run`) and its finish or failure.

Consent is checked when a render is queued, when it starts, before its result leaves scratch, and
before publication, always through consent.services.likeness_consent_assert_allows. Every step is a
ledger event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from avatars.errors import AvatarErrorCode
from avatars.models import (
    AvatarJobKind,
    EnrollmentKind,
    EnrollmentStatus,
    NarrationSource,
    Script,
    ScriptStatus,
    Video,
    VideoStatus,
)
from avatars.services._common import get_for_update, refuse, staff_only
from avatars.services.scripts import script_fingerprint
from consent.ledger import ledger_append
from consent.models import DisclosureLabel, LikenessConsent
from consent.selectors import disclosure_label_current
from consent.services import (
    IntendedUse,
    RenderedDisclosure,
    disclosure_render,
    likeness_consent_assert_allows,
    likeness_consent_record_use,
)
from core.errors import ApplicationError
from core.jobs import JobOutcome, job_checkpoint, output_store, upload_fetch
from core.media.hashing import file_sha256
from core.models import MediaJob, User
from core.progress import JobProgress
from core.services import job_create
from provenance.services import (
    OutputProvenance,
    output_marker,
    output_register,
    output_sign,
)

STOCK_PRESENTER = "a synthetic presenter"


def _intended_use(script: Script) -> IntendedUse:
    return IntendedUse(
        topic=script.topic,
        audience=script.audience,
        language=script.language,
        channel=script.channel,
        synthetic_voice=script.narration_source == NarrationSource.TTS,
    )


def render_gate(*, script: Script, stage: str) -> LikenessConsent | None:
    """Every check a render must pass at `stage` (queue, start, publish); the consent it runs under."""
    if script.status != ScriptStatus.APPROVED or script.approved_sha256 != script_fingerprint(script):
        raise refuse(
            "The script changed after it was approved (or was never approved); the clinician must "
            "approve it first.",
            AvatarErrorCode.SCRIPT_NOT_APPROVED,
            stage=stage,
        )
    if script.enrollment.kind == EnrollmentKind.STOCK:
        return None  # no one's likeness: nothing to consent to
    if script.enrollment.status == EnrollmentStatus.DELETED:
        raise refuse(
            "The presenter's enrollment was deleted: their footage, photo and voice are destroyed, so "
            "no new video can be made with it. They must enroll again first.",
            AvatarErrorCode.ENROLLMENT_DELETED,
            409,
            stage=stage,
        )
    clinician = script.enrollment.clinician
    assert clinician is not None  # only stock enrollments have none
    return likeness_consent_assert_allows(
        clinician=clinician, use=_intended_use(script), clinic_id=script.clinic_id
    )


def render_refusal(*, script: Script) -> str | None:
    """Why a render of `script` would be refused now, or None: pages say it instead of showing a
    Render button that fails only on click (a revoked consent, an out-of-scope topic, a script edited
    since its approval). Makes no change."""
    try:
        render_gate(script=script, stage="page")
    except ApplicationError as exc:
        return exc.message
    return None


def video_disclosure(
    *, script: Script, consent: LikenessConsent | None, label: DisclosureLabel
) -> RenderedDisclosure:
    """The label and spoken disclaimers for a video of this script (the label says when the voice is synthetic)."""
    if consent is not None:
        clinician = script.enrollment.clinician
        assert clinician is not None  # a consent is someone's: the enrollment is theirs
        rendered = disclosure_render(label=label, clinician=clinician, consent=consent)
    else:
        clinic = script.clinic
        values = {
            "clinician": STOCK_PRESENTER,
            "clinic": clinic.name,
            "contact": clinic.contact_phone or clinic.contact_email,
            "consent_date": "",
        }
        # The clinic's label speaks of a person who consented; a drawn presenter has no such person.
        rendered = RenderedDisclosure(
            str(label.id),
            f"AI-generated video with a synthetic presenter (not a real person). "
            f"Talk to a person: {values['contact']}.",
            label.spoken_start.format(**values),
            label.spoken_end.format(**values),
        )
    if script.narration_source == NarrationSource.TTS:
        rendered = RenderedDisclosure(
            rendered.label_id,
            rendered.visible + " Voice: synthetic.",
            rendered.spoken_start,
            rendered.spoken_end,
        )
    return rendered


def render_request(*, actor: User, script_id: Any) -> Video:
    """Queue a render after the consent gate; returns the video with its job."""
    staff_only(actor)
    with transaction.atomic():
        script = get_for_update(Script, actor, script_id, "Script")
        consent = render_gate(script=script, stage="queue")
        label = disclosure_label_current(
            clinic_id=actor.clinic_id, language=script.language
        ) or disclosure_label_current(clinic_id=actor.clinic_id, language="en")
        if label is None:
            raise refuse(
                "The clinic has no disclosure label yet; a clinic admin must publish one.",
                AvatarErrorCode.DISCLOSURE_LABEL_REQUIRED,
            )
        label_text = video_disclosure(script=script, consent=consent, label=label).visible
        video_id = uuid.uuid4()
        job = job_create(
            actor=actor,
            kind=AvatarJobKind.RENDER,
            params={"video": str(video_id), "likeness_consent": str(consent.id) if consent else ""},
        )
        video = Video.objects.create(
            id=video_id,
            clinic_id=actor.member_clinic_id,
            script=script,
            script_sha256=script.approved_sha256,
            clinician=script.enrollment.clinician,
            likeness_consent=consent,
            label=label,
            label_text=label_text,
            synthetic_voice=script.narration_source == NarrationSource.TTS,
            job=job,
            created_by=actor,
        )
        ledger_append(
            event_type="render.requested",
            clinic_id=actor.clinic_id,
            object_type="video",
            object_id=video.id,
            actor=actor,
            subject=video.clinician_id,
            data={
                "script_sha256": script.approved_sha256,
                "consent": str(consent.id) if consent else "",
                "job": str(job.id),
                "label": str(label.id),
                "mode": script.enrollment.kind,
            },
        )
    return video


def _ledger_figures(figures: dict[str, Any]) -> dict[str, int | None]:
    """Measured figures as the ledger takes them: floats as integers in thousandths (`_milli`)."""
    return {
        (f"{name}_milli" if isinstance(value, float) else name): (
            round(value * 1000) if isinstance(value, float) else value
        )
        for name, value in figures.items()
    }


def render_finish(*, video_id: Any, outputs: dict[str, Any]) -> Video:
    """Store a finished render for review (called by the render task after the last consent check)."""
    with transaction.atomic():
        video = Video.objects.select_for_update().get(id=video_id)
        if video.status != VideoStatus.RENDERING:
            return video
        video.video_key, video.poster_key, video.captions_key = (
            outputs["video"],
            outputs["poster"],
            outputs["captions"],
        )
        video.content_sha256, video.duration_seconds = outputs["sha256"], outputs["duration_seconds"]
        video.signed = outputs["signed"]
        quality = outputs.get("quality") or {}
        video.quality = quality.get("figures", {})
        video.quality_reason = " ".join(quality.get("reasons", []))
        # A render below the quality bar is kept (signed and registered, like every output) but
        # never offered for approval: the clinician sees why instead of a Review form.
        video.status = VideoStatus.HELD if video.quality_reason else VideoStatus.IN_REVIEW
        video.save()
        if video.likeness_consent is not None:
            likeness_consent_record_use(
                consent=video.likeness_consent, object_type="video", object_id=video.id, actor=None
            )
        ledger_append(
            event_type="render.finished",
            clinic_id=video.clinic_id,
            object_type="video",
            object_id=video.id,
            subject=video.clinician_id,
            data={
                "sha256": video.content_sha256,
                "signed": video.signed,
                "duration_ms": int(video.duration_seconds * 1000),
                "quality": _ledger_figures(video.quality),
                "quality_passed": not video.quality_reason,
            },
        )
    return video


def render_failed(*, video_id: Any, code: str) -> None:
    with transaction.atomic():
        updated = Video.objects.filter(id=video_id, status=VideoStatus.RENDERING).update(
            status=VideoStatus.FAILED
        )
        if updated:
            video = Video.objects.get(id=video_id)
            ledger_append(
                event_type="render.failed",
                clinic_id=video.clinic_id,
                object_type="video",
                object_id=video.id,
                subject=video.clinician_id,
                data={"code": code[:64]},
            )


def render_quality(*, avatar: Any, video: Path) -> dict[str, Any]:
    """The quality gate's verdict on a rendered video: `passed`, the `reasons` it falls short (in
    words for the clinician) and the measured `figures`, against the avatar's enrollment (footage
    or photo; the stock presenter depicts no one, so identity is skipped)."""
    from avatars import engine
    from avatars.engine import quality as gates

    try:
        if isinstance(avatar, engine.FootageAvatar):
            reference: gates.EnrollmentReference | None = gates.enrollment_reference_from_video(
                avatar.enrollment
            )
        elif isinstance(avatar, engine.PortraitAvatar):
            reference = gates.enrollment_reference_from_photo(avatar.photo)
        else:
            reference = None
        report = gates.assess_render(video, reference=reference)
    except engine.EngineError as exc:
        # A render nobody could check is not offered for approval either.
        return {
            "passed": False,
            "reasons": [f"The render could not be checked: {exc.message}"],
            "figures": {},
        }
    return {"passed": report.passed, "reasons": list(report.reasons), "figures": report.figures()}


def render_run(
    *, job: MediaJob, progress: JobProgress, scratch: Path, report: Callable[[float, str], None]
) -> JobOutcome:
    """The render job's work: gate, render (watermarking each frame as it is encoded), measure its
    quality, gate again, sign and store; the outcome registers the signed outputs and sends the
    video to review, or holds it back with the reason when it falls below the quality bar.

    `report` is the engine's progress callback (the task maps it onto the first 85% of the job).
    """
    # The engine (numpy, codecs, face models) loads in the worker that runs the job, not in every
    # web process that imports the studio's services.
    from avatars import engine

    video = Video.objects.select_related(
        "script__enrollment", "script__clinic", "label", "likeness_consent"
    ).get(id=job.params["video"])
    script = video.script
    consent = render_gate(script=script, stage="start")
    enrollment = script.enrollment
    if enrollment.kind == EnrollmentKind.STOCK:
        avatar: Any = engine.StockAvatar()
    elif enrollment.kind == EnrollmentKind.FOOTAGE:
        assert enrollment.footage is not None  # each kind's enrollment holds its upload
        footage = upload_fetch(upload=enrollment.footage, scratch=scratch)
        analysis = None
        if enrollment.analysis_key:
            analysis = scratch / "analysis.npz"
            with default_storage.open(enrollment.analysis_key, "rb") as src:
                analysis.write_bytes(src.read())
        avatar = engine.FootageAvatar(enrollment=footage, analysis=analysis)
    else:
        assert enrollment.photo is not None
        avatar = engine.PortraitAvatar(photo=upload_fetch(upload=enrollment.photo, scratch=scratch))
    if script.narration_source == NarrationSource.RECORDING:
        assert script.narration is not None  # a recorded narration is the script's upload
        narration: Any = engine.RecordedNarration(
            audio=upload_fetch(upload=script.narration, scratch=scratch), language=script.language
        )
    else:
        narration = engine.ScriptNarration(text=script.text, language=script.language)
    disclosure = video_disclosure(script=script, consent=consent, label=video.label)
    spec = engine.RenderSpec(
        avatar=avatar,
        narration=narration,
        disclosure=engine.Disclosure(
            label=video.label_text, intro=disclosure.spoken_start, outro=disclosure.spoken_end
        ),
        output_dir=scratch / "out",
        basename="video",
        burn_captions=False,
        width=settings.AVATAR_RENDER_WIDTH,
        height=settings.AVATAR_RENDER_HEIGHT,
    )
    # Every output carries its own content id in its pixels, so it is still recognized once the
    # manifest is stripped; the manifest names the same id. The mark goes on each frame before
    # the engine encodes it: the published video is encoded once.
    marker = output_marker(width=spec.width, height=spec.height, fps=spec.fps)
    result = engine.render(spec, report, marker=marker)
    video_id, poster_id = marker.video_content_id, marker.poster_content_id
    progress(0.86, "quality")
    quality = render_quality(avatar=avatar, video=result.video)
    # The last consent check before the result can exist anywhere but scratch.
    consent = render_gate(script=script, stage="finish")
    progress(0.9, "signing")
    # Once per job, not per attempt: a re-run after a lost worker signs under the same entry.
    signing_seq = job_checkpoint(
        job,
        "render.signing",
        lambda: (
            ledger_append(
                event_type="render.signing",
                clinic_id=video.clinic_id,
                object_type="video",
                object_id=video.id,
                subject=video.clinician_id,
            ).seq
        ),
    )
    # An avatar video is trained algorithmic media: OutputProvenance's default source type.
    facts = OutputProvenance(
        clinic_id=str(video.clinic_id),
        clinic_name=script.clinic.name,
        ledger_entry_id=str(signing_seq),
        consent_ids=(str(consent.id),) if consent else (),
        consent_hashes=(consent.signature.binding_sha256,) if consent and consent.signature else (),
        disclosure_text=video.label_text,
        output_kind="avatar_video",
        content_id=video_id,
    )
    signed_video = output_sign(
        source=result.video, dest=scratch / "signed.mp4", provenance=facts, title=script.title
    )
    signed_poster = output_sign(
        source=result.poster,
        dest=scratch / "signed.jpg",
        provenance=replace(facts, output_kind="poster", content_id=poster_id),
        title=f"{script.title} (poster)",
    )
    progress(0.95, "storing")
    outputs = {
        "video": output_store(job=job, name="video.mp4", path=signed_video),
        "poster": output_store(job=job, name="poster.jpg", path=signed_poster),
        "captions": output_store(job=job, name="captions.vtt", path=result.captions),
        "sha256": file_sha256(signed_video),
        "duration_seconds": round(result.duration, 3),
        "signed": True,
        "quality": quality,
    }

    def record(final: dict[str, Any]) -> None:
        # Registered with the stored outputs, before review: a signed file that exists must be
        # recognizable. Only the attempt that finishes the job gets here, so each is registered once.
        for content_id, signed, kind in (
            (video_id, signed_video, "avatar_video"),
            (poster_id, signed_poster, "poster"),
        ):
            output_register(
                clinic_id=video.clinic_id,
                content_id=content_id,
                output_kind=kind,
                path=signed,
                video_id=video.id,
            )
        render_finish(video_id=video.id, outputs=final)

    return JobOutcome(
        result={**outputs, "mode": result.mode, "width": result.width, "height": result.height}, record=record
    )
