"""Avatar studio workflows: enrollment, scripts and their approval, renders, review, publication,
withdrawal and the patient's first-view acknowledgment.

Consent is checked when a render is queued, when it starts, and before publication, always through
consent.services.likeness_consent_assert_allows. Every step is a ledger event.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from avatars.models import (
    AvatarJobKind,
    Enrollment,
    EnrollmentKind,
    EnrollmentStatus,
    NarrationSource,
    Publication,
    Script,
    ScriptStatus,
    Video,
    VideoStatus,
    ViewAcknowledgment,
)
from consent.hooks import ConsentEndEffect
from consent.ledger import ledger_append
from consent.models import Disclosure, DisclosureLabel, LikenessConsent
from consent.selectors import disclosure_label_current
from consent.services import (
    IntendedUse,
    RenderedDisclosure,
    disclosure_render,
    likeness_consent_assert_allows,
    likeness_consent_record_use,
)
from core.errors import ApplicationError
from core.models import Role, User
from core.services import job_create, job_request_cancel
from core.uploads import Scratch, upload_check, upload_rate_limit, upload_record

STOCK_PRESENTER = "a synthetic presenter"


def _refuse(message: str, code: str, status: int = 400, **extra: Any) -> ApplicationError:
    return ApplicationError(message, code=code, status=status, extra=extra)


def _staff(actor: User) -> None:
    if actor.role not in (Role.CLINICIAN, Role.CLINIC_ADMIN):
        raise _refuse("Only clinicians and clinic admins work in the studio.", "permission_denied", 403)


def _get(model: type, actor: User, object_id: Any, what: str, **filters: Any) -> Any:
    try:
        return model.objects.select_for_update().get(clinic_id=actor.clinic_id, id=object_id, **filters)
    except (model.DoesNotExist, ValueError, TypeError):
        raise _refuse(f"{what} not found.", "not_found", 404) from None


# --- enrollment ----------------------------------------------------------------------------------


def enrollment_stock_get_or_create(*, actor: User) -> Enrollment:
    """The clinic's stock presenter: no likeness, nothing to analyse, always ready."""
    _staff(actor)
    enrollment = Enrollment.objects.filter(clinic_id=actor.clinic_id, kind=EnrollmentKind.STOCK).first()
    if enrollment is None:
        enrollment = Enrollment.objects.create(
            clinic_id=actor.clinic_id,
            kind=EnrollmentKind.STOCK,
            status=EnrollmentStatus.READY,
            created_by=actor,
        )
    return enrollment


def _enrollment_allowed(*, actor: User, clinician: User) -> None:
    """Clinicians enroll themselves; clinic admins enroll a clinician of their clinic (sign-off follows)."""
    _staff(actor)
    if clinician.clinic_id != actor.clinic_id or clinician.role != Role.CLINICIAN:
        raise _refuse("Enrollment is for a clinician of your clinic.", "not_found", 404)
    if actor.role == Role.CLINICIAN and actor.pk != clinician.pk:
        raise _refuse("Clinicians enroll only their own likeness.", "permission_denied", 403)


def enrollment_footage_start(
    *, actor: User, clinician: User, footage: UploadedFile, voice: UploadedFile | None = None
) -> Enrollment:
    """Store a clinician's enrollment footage (and optionally a separate voice sample) and queue its
    analysis (quality checks, mouth shapes). Without a voice sample the footage's sound is the
    enrolled voice."""
    _enrollment_allowed(actor=actor, clinician=clinician)
    upload_rate_limit(actor=actor)
    with Scratch() as scratch, Scratch() as voice_scratch:
        checked = upload_check(file=footage, kinds={"video"}, scratch=scratch)
        # Both files are checked before either is stored, so a bad voice sample leaves nothing behind.
        voice_checked = upload_check(file=voice, kinds={"audio"}, scratch=voice_scratch) if voice else None
        if not checked.probe.has_audio:
            raise _refuse(
                "The enrollment video needs sound: record yourself reading the script aloud.",
                "enrollment_no_audio",
                422,
            )

        def create(upload: Any) -> Enrollment:
            enrollment = Enrollment.objects.create(
                clinic_id=actor.clinic_id,
                clinician=clinician,
                kind=EnrollmentKind.FOOTAGE,
                footage=upload,
                created_by=actor,
                signed_off_at=timezone.now() if actor.pk == clinician.pk else None,
            )
            if voice_checked is not None:
                enrollment.voice = upload_record(
                    actor=actor, checked=voice_checked, purpose="enrollment_voice", then=lambda u: u
                )
                enrollment.save(update_fields=["voice"])
            job = job_create(
                actor=actor,
                kind=AvatarJobKind.ENROLLMENT,
                input_upload=upload,
                params={"enrollment": str(enrollment.id)},
            )
            enrollment.job = job
            enrollment.save(update_fields=["job"])
            ledger_append(
                event_type="enrollment.footage_uploaded",
                clinic_id=actor.clinic_id,
                object_type="enrollment",
                object_id=enrollment.id,
                actor=actor,
                subject=clinician,
                data={"upload": str(upload.id), "sha256": upload.sha256},
            )
            return enrollment

        return upload_record(actor=actor, checked=checked, purpose="enrollment_footage", then=create)


def enrollment_portrait_create(*, actor: User, clinician: User, photo: UploadedFile) -> Enrollment:
    """Enroll one consented portrait photo (portrait mode); refused with advice if it is unusable."""
    from avatars.engine.errors import EnrollmentError, MediaInputError
    from avatars.engine.faces import detect_faces
    from avatars.engine.media import read_image
    from avatars.engine.portrait import check_photo

    _enrollment_allowed(actor=actor, clinician=clinician)
    upload_rate_limit(actor=actor)
    with Scratch() as scratch:
        checked = upload_check(file=photo, kinds={"image"}, scratch=scratch)
        try:
            rgb = read_image(checked.path)
            check_photo(checked.original_name, rgb, detect_faces(rgb, thorough=True))
        except (EnrollmentError, MediaInputError) as exc:
            # An unreadable photo is the uploader's to fix, like an unusable one: a 422, never a 500.
            raise _refuse(exc.message, exc.code, 422) from exc

        def create(upload: Any) -> Enrollment:
            own = actor.pk == clinician.pk
            enrollment = Enrollment.objects.create(
                clinic_id=actor.clinic_id,
                clinician=clinician,
                kind=EnrollmentKind.PORTRAIT,
                photo=upload,
                status=EnrollmentStatus.READY if own else EnrollmentStatus.AWAITING_SIGNOFF,
                signed_off_at=timezone.now() if own else None,
                created_by=actor,
            )
            ledger_append(
                event_type="enrollment.portrait_uploaded",
                clinic_id=actor.clinic_id,
                object_type="enrollment",
                object_id=enrollment.id,
                actor=actor,
                subject=clinician,
                data={"upload": str(upload.id), "sha256": upload.sha256},
            )
            return enrollment

        return upload_record(actor=actor, checked=checked, purpose="enrollment_photo", then=create)


def enrollment_sign_off(*, actor: User, enrollment_id: Any) -> Enrollment:
    """The clinician approves material a clinic admin enrolled on their behalf."""
    with transaction.atomic():
        enrollment = _get(Enrollment, actor, enrollment_id, "Enrollment")
        if actor.pk != enrollment.clinician_id:
            raise _refuse("Only the clinician shown can sign off their enrollment.", "permission_denied", 403)
        if enrollment.signed_off_at is not None:
            raise _refuse("This enrollment is already signed off.", "enrollment_invalid_transition", 409)
        enrollment.signed_off_at = timezone.now()
        if enrollment.status == EnrollmentStatus.AWAITING_SIGNOFF:
            enrollment.status = EnrollmentStatus.READY
        enrollment.save(update_fields=["signed_off_at", "status"])
        ledger_append(
            event_type="enrollment.signed_off",
            clinic_id=actor.clinic_id,
            object_type="enrollment",
            object_id=enrollment.id,
            actor=actor,
            subject=actor,
        )
    return enrollment


def enrollment_analysis_finish(*, enrollment_id: Any, analysis_key: str | None, advice: str) -> Enrollment:
    """Record the analysis: ready (with its stored analysis) or rejected (with advice to re-record)."""
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().get(id=enrollment_id)
        if not analysis_key:
            enrollment.status = EnrollmentStatus.REJECTED
        elif enrollment.signed_off_at is None:
            enrollment.status = EnrollmentStatus.AWAITING_SIGNOFF
        else:
            enrollment.status = EnrollmentStatus.READY
        enrollment.analysis_key = analysis_key or ""
        enrollment.advice = advice
        enrollment.save(update_fields=["status", "analysis_key", "advice"])
        ledger_append(
            event_type=f"enrollment.{enrollment.status}",
            clinic_id=enrollment.clinic_id,
            object_type="enrollment",
            object_id=enrollment.id,
            subject=enrollment.clinician_id,
        )
    return enrollment


def statement_check_queue(consent: LikenessConsent) -> None:
    """Consent hook: compare a newly recorded consent statement with the clinician's enrolled likeness.

    Without a ready footage enrollment there is nothing to compare with; a clinic admin then verifies
    by hand (recorded as such).
    """
    enrollment = (
        Enrollment.objects.filter(
            clinician_id=consent.clinician_id, kind=EnrollmentKind.FOOTAGE, status=EnrollmentStatus.READY
        )
        .order_by("-created_at")
        .first()
    )
    if enrollment is None or consent.evidence_upload is None:
        return
    job_create(
        actor=consent.clinician,
        kind=AvatarJobKind.STATEMENT_CHECK,
        input_upload=consent.evidence_upload,
        params={"consent": str(consent.id), "enrollment": str(enrollment.id)},
    )


# --- scripts -------------------------------------------------------------------------------------


def script_fingerprint(script: Script) -> str:
    """What an approval covers: the words, the language, the use and the narration."""
    parts = [
        script.text,
        script.language,
        script.topic,
        script.audience,
        script.channel,
        script.narration_source,
        str(script.narration_id or ""),
        str(script.enrollment_id),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def script_save(
    *,
    actor: User,
    script_id: Any | None = None,
    enrollment_id: Any,
    title: str,
    language: str,
    topic: str,
    audience: str,
    channel: str,
    text: str,
    narration_source: str,
    narration: UploadedFile | None = None,
) -> Script:
    """Create or edit a script; any edit after approval needs a new approval."""
    _staff(actor)
    text = text.strip()
    if not 10 <= len(text) <= 20_000:
        raise _refuse("A script has 10 to 20,000 characters.", "script_invalid", field="text")
    if narration_source not in NarrationSource.values:
        raise _refuse("Unknown narration source.", "script_invalid", field="narration_source")
    with transaction.atomic():
        enrollment = _get(Enrollment, actor, enrollment_id, "Enrollment")
        if enrollment.status != EnrollmentStatus.READY:
            raise _refuse(
                "That enrollment is not ready (it is still analysed or needs re-recording).",
                "enrollment_not_ready",
            )
        clinician = enrollment.clinician or (actor if actor.role == Role.CLINICIAN else None)
        if clinician is None:
            raise _refuse(
                "A stock-presenter script needs a clinician to approve it; write it as a clinician.",
                "script_invalid",
            )
        if script_id is None:
            script = Script(
                clinic_id=actor.clinic_id, clinician=clinician, enrollment=enrollment, created_by=actor
            )
        else:
            script = _get(Script, actor, script_id, "Script")
        if (
            narration_source == NarrationSource.RECORDING
            and narration is None
            and script.narration_id is None
        ):
            raise _refuse(
                "Upload the clinician's narration recording, or choose the synthetic voice.",
                "script_invalid",
                field="narration",
            )
        if narration is not None:
            # Stored last, after every check that could refuse the script, so a refusal leaves no file.
            upload_rate_limit(actor=actor)
            with Scratch() as scratch:
                checked = upload_check(file=narration, kinds={"audio"}, scratch=scratch)
                script.narration = upload_record(
                    actor=actor, checked=checked, purpose="narration", then=lambda u: u
                )
        script.enrollment = enrollment
        script.title, script.language, script.text = title.strip()[:200], language.strip().lower(), text
        script.topic, script.audience, script.channel = (
            topic.strip().lower(),
            audience.strip().lower(),
            channel.strip().lower(),
        )
        script.narration_source = narration_source
        if script.status == ScriptStatus.APPROVED and script.approved_sha256 != script_fingerprint(script):
            script.status = ScriptStatus.DRAFT  # changed after approval: approve again
        script.save()
        ledger_append(
            event_type="script.saved",
            clinic_id=actor.clinic_id,
            object_type="script",
            object_id=script.id,
            actor=actor,
            subject=script.clinician_id,
            data={"sha256": script_fingerprint(script), "status": script.status},
        )
    return script


def script_approve(*, actor: User, script_id: Any) -> Script:
    """The presenting clinician approves the exact script (its fingerprint is recorded)."""
    with transaction.atomic():
        script = _get(Script, actor, script_id, "Script")
        if actor.pk != script.clinician_id:
            raise _refuse(
                "Only the clinician who presents the script can approve it.", "permission_denied", 403
            )
        script.status = ScriptStatus.APPROVED
        script.approved_sha256 = script_fingerprint(script)
        script.approved_at = timezone.now()
        script.save(update_fields=["status", "approved_sha256", "approved_at"])
        ledger_append(
            event_type="script.approved",
            clinic_id=actor.clinic_id,
            object_type="script",
            object_id=script.id,
            actor=actor,
            subject=actor,
            data={"sha256": script.approved_sha256},
        )
    return script


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
        raise _refuse(
            "The script changed after it was approved (or was never approved); the clinician must "
            "approve it first.",
            "script_not_approved",
            stage=stage,
        )
    if script.enrollment.kind == EnrollmentKind.STOCK:
        return None  # no one's likeness: nothing to consent to
    clinician = script.enrollment.clinician
    return likeness_consent_assert_allows(
        clinician=clinician, use=_intended_use(script), clinic_id=script.clinic_id
    )


def video_disclosure(
    *, script: Script, consent: LikenessConsent | None, label: DisclosureLabel
) -> RenderedDisclosure:
    """The label and spoken disclaimers for a video of this script (the label says when the voice is synthetic)."""
    if consent is not None:
        rendered = disclosure_render(label=label, clinician=script.enrollment.clinician, consent=consent)
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
    _staff(actor)
    with transaction.atomic():
        script = _get(Script, actor, script_id, "Script")
        consent = render_gate(script=script, stage="queue")
        label = disclosure_label_current(
            clinic_id=actor.clinic_id, language=script.language
        ) or disclosure_label_current(clinic_id=actor.clinic_id, language="en")
        if label is None:
            raise _refuse(
                "The clinic has no disclosure label yet; a clinic admin must publish one.",
                "disclosure_label_required",
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
            clinic_id=actor.clinic_id,
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
        video.status = VideoStatus.IN_REVIEW
        video.save()
        if video.likeness_consent_id:
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


def video_review(*, actor: User, video_id: Any, approve: bool, note: str = "") -> Video:
    """The presenting clinician (or, for the stock presenter, the script's clinician) reviews the result."""
    with transaction.atomic():
        video = _get(Video, actor, video_id, "Video")
        if actor.pk != video.script.clinician_id:
            raise _refuse(
                "Only the clinician who presents the video can review it.", "permission_denied", 403
            )
        if video.status != VideoStatus.IN_REVIEW:
            raise _refuse(
                f"The video is {video.get_status_display().lower()}, not waiting for review.",
                "video_invalid_transition",
                409,
            )
        if not approve and not note.strip():
            raise _refuse("Say why you reject the video.", "video_review_reason_required")
        video.status = VideoStatus.APPROVED if approve else VideoStatus.REJECTED
        video.review_note, video.reviewed_at = note.strip()[:500], timezone.now()
        video.save(update_fields=["status", "review_note", "reviewed_at"])
        ledger_append(
            event_type="video.approved" if approve else "video.rejected",
            clinic_id=actor.clinic_id,
            object_type="video",
            object_id=video.id,
            actor=actor,
            subject=video.clinician_id,
            data={"sha256": video.content_sha256},
        )
    return video


def video_publish(
    *, actor: User, video_id: Any, patient_ids: list[Any], link_days: int | None = None
) -> tuple[list[Publication], str | None]:
    """Publish an approved, signed video to patients of the clinic and/or an expiring link.

    Consent is checked again here. Returns the publications and the link token (shown once).
    """
    _staff(actor)
    with transaction.atomic():
        video = _get(Video, actor, video_id, "Video")
        if video.status not in (VideoStatus.APPROVED, VideoStatus.PUBLISHED):
            raise _refuse("Only a video the clinician approved can be published.", "video_not_approved", 409)
        if not video.signed:
            raise _refuse(
                "The video carries no signed provenance manifest; it cannot be published.",
                "video_unsigned",
                409,
            )
        if (
            video.script_sha256 != video.script.approved_sha256
            or video.script.status != ScriptStatus.APPROVED
        ):
            raise _refuse(
                "The script changed after this video was made; render it again.", "script_not_approved"
            )
        render_gate(script=video.script, stage="publish")
        patients = list(User.objects.filter(clinic_id=actor.clinic_id, role=Role.PATIENT, pk__in=patient_ids))
        if len(patients) != len(set(patient_ids)):
            raise _refuse("Choose patients of your clinic.", "invalid_input", field="patients")
        if not patients and not link_days:
            raise _refuse("Choose at least one patient or a share link.", "invalid_input")
        if link_days is not None and not 1 <= link_days <= 90:
            raise _refuse("A share link lasts 1 to 90 days.", "invalid_input", field="link_days")
        publications, token = [], None
        for patient in patients:
            publication = Publication.objects.create(video=video, patient=patient, published_by=actor)
            publications.append(publication)
        if link_days:
            token = secrets.token_urlsafe(24)
            publications.append(
                Publication.objects.create(
                    video=video,
                    link_token_hash=hashlib.sha256(token.encode()).hexdigest(),
                    expires_at=timezone.now() + timedelta(days=link_days),
                    published_by=actor,
                )
            )
        video.status = VideoStatus.PUBLISHED
        video.save(update_fields=["status"])
        for publication in publications:
            entry = ledger_append(
                event_type="video.published",
                clinic_id=actor.clinic_id,
                object_type="publication",
                object_id=publication.id,
                actor=actor,
                subject=publication.patient_id or "",
                data={
                    "video": str(video.id),
                    "sha256": video.content_sha256,
                    "via": "patient" if publication.patient_id else "link",
                },
            )
            Disclosure.objects.create(
                clinic_id=actor.clinic_id,
                made_by=actor,
                what="publication",
                recipient=f"patient {publication.patient_id}"
                if publication.patient_id
                else "holders of a share link",
                purpose="patient education",
                object_ids=[str(video.id)],
                file_sha256=video.content_sha256,
                ledger_seq=entry.seq,
            )
    return publications, token


def video_withdraw(*, video: Video, reason: str, actor: User | None) -> list[ConsentEndEffect]:
    """Withdraw a video and all its publications at once; returns what changed (for the ledger)."""
    now = timezone.now()
    effects = []
    if video.status not in (VideoStatus.WITHDRAWN, VideoStatus.FAILED, VideoStatus.REJECTED):
        Video.objects.filter(id=video.id).update(
            status=VideoStatus.WITHDRAWN, withdrawn_at=now, withdrawal_reason=reason[:100]
        )
        effects.append(ConsentEndEffect("video.withdrawn", "video", str(video.id), {"reason": reason[:64]}))
    for publication in video.publications.filter(withdrawn_at__isnull=True):
        Publication.objects.filter(id=publication.id).update(withdrawn_at=now)
        effects.append(
            ConsentEndEffect(
                "publication.withdrawn", "publication", str(publication.id), {"video": str(video.id)}
            )
        )
    return effects


def videos_withdraw_for_consent(consent: LikenessConsent, reason: str) -> list[ConsentEndEffect]:
    """Consent hook: every video made under this consent is withdrawn; running renders stop."""
    effects: list[ConsentEndEffect] = []
    for video in Video.objects.select_for_update().filter(likeness_consent=consent):
        if video.status == VideoStatus.RENDERING:
            job_request_cancel(job_ids=[video.job_id])
        effects += video_withdraw(video=video, reason=reason, actor=None)
    return effects


def video_acknowledge_view(*, patient: User, video: Video) -> bool:
    """Record the first time a patient is shown a synthetic video with its disclosure."""
    if ViewAcknowledgment.objects.filter(video=video, patient=patient).exists():
        return False
    with transaction.atomic():
        entry = ledger_append(
            event_type="video.view_acknowledged",
            clinic_id=video.clinic_id,
            object_type="video",
            object_id=video.id,
            actor=patient,
            subject=patient,
            data={"label": str(video.label_id), "sha256": video.content_sha256},
        )
        ViewAcknowledgment.objects.create(video=video, patient=patient, ledger_seq=entry.seq)
    return True


def link_publication_find(*, token: str) -> Publication:
    """The live publication a share link opens, or a refusal."""
    publication = (
        Publication.objects.select_related("video", "video__clinic")
        .filter(link_token_hash=hashlib.sha256(token.encode()).hexdigest())
        .first()
    )
    if publication is None or (publication.expires_at and publication.expires_at <= timezone.now()):
        raise _refuse("This link is not valid or has expired.", "not_found", 404)
    return publication
