"""Enrollment of a likeness (footage or one portrait), the clinician's sign-off, and the analysis
job's work and result. The consent statement check is in `avatars.services.statement`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from avatars import policy
from avatars.engine.errors import EnrollmentError, MediaInputError
from avatars.errors import AvatarErrorCode
from avatars.models import AvatarJobKind, Enrollment, EnrollmentKind, EnrollmentStatus
from avatars.services._common import engine_refusal, get_for_update, refuse, staff_only
from avatars.services.enrollment_guide import enrollment_measures
from consent.ledger import ledger_append
from core.jobs import JobOutcome, job_outputs_discard, output_store, upload_fetch
from core.models import MediaJob, Role, User
from core.services import job_create
from core.uploads import Scratch, upload_check, upload_rate_limit, upload_record


def enrollment_stock_get_or_create(*, actor: User) -> Enrollment:
    """The clinic's stock presenter: no likeness, nothing to analyse, always ready."""
    staff_only(actor)
    enrollment = Enrollment.objects.filter(
        clinic_id=actor.member_clinic_id, kind=EnrollmentKind.STOCK
    ).first()
    if enrollment is None:
        enrollment = Enrollment.objects.create(
            clinic_id=actor.member_clinic_id,
            kind=EnrollmentKind.STOCK,
            status=EnrollmentStatus.READY,
            created_by=actor,
        )
    return enrollment


def _enrollment_allowed(*, actor: User, clinician: User) -> None:
    """Clinicians enroll themselves; clinic admins enroll a clinician of their clinic (sign-off follows)."""
    staff_only(actor)
    if clinician.clinic_id != actor.clinic_id or clinician.role != Role.CLINICIAN:
        raise refuse("Enrollment is for a clinician of your clinic.", AvatarErrorCode.NOT_FOUND, 404)
    policy.require(policy.can_enroll(actor, clinician), "Clinicians enroll only their own likeness.")


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
            raise refuse(
                "The enrollment video needs sound: record yourself reading the script aloud.",
                AvatarErrorCode.ENROLLMENT_NO_AUDIO,
                422,
            )

        def create(upload: Any) -> Enrollment:
            enrollment = Enrollment.objects.create(
                clinic_id=actor.member_clinic_id,
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
    from avatars.engine.media import read_image
    from avatars.engine.portrait import check_photo
    from core.media.faces import detect_faces

    _enrollment_allowed(actor=actor, clinician=clinician)
    upload_rate_limit(actor=actor)
    with Scratch() as scratch:
        checked = upload_check(file=photo, kinds={"image"}, scratch=scratch)
        try:
            rgb = read_image(checked.path)
            check_photo(checked.original_name, rgb, detect_faces(rgb, thorough=True))
        except (EnrollmentError, MediaInputError) as exc:
            # An unreadable photo is the uploader's to fix, like an unusable one: a 422, never a 500.
            raise engine_refusal(exc) from exc

        def create(upload: Any) -> Enrollment:
            own = actor.pk == clinician.pk
            enrollment = Enrollment.objects.create(
                clinic_id=actor.member_clinic_id,
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
        enrollment = get_for_update(Enrollment, actor, enrollment_id, "Enrollment")
        policy.require(
            policy.can_sign_off_enrollment(actor, enrollment),
            "Only the clinician shown can sign off their enrollment.",
        )
        if enrollment.signed_off_at is not None:
            raise refuse(
                "This enrollment is already signed off.", AvatarErrorCode.ENROLLMENT_INVALID_TRANSITION, 409
            )
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
        if enrollment.status == EnrollmentStatus.DELETED:
            # Deleted while it was analysed: the analysis this job is storing goes too, once stored.
            job_id = enrollment.job_id
            if job_id is not None:
                transaction.on_commit(lambda: job_outputs_discard(job_id=job_id, everything=True))
            return enrollment
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


def enrollment_analysis_run(
    *, job: MediaJob, scratch: Path, report: Callable[[float, str], None]
) -> JobOutcome:
    """The enrollment job's work: analyse the footage; the outcome records ready or rejected."""
    # The engine (numpy, face models) loads in the worker that runs the job, not in every web process.
    from avatars.engine.enrollment import analyze_enrollment

    assert job.input_upload is not None
    enrollment_id = job.params["enrollment"]
    footage = upload_fetch(upload=job.input_upload, scratch=scratch)
    try:
        analysis = analyze_enrollment(
            footage, progress=report, min_usable_seconds=settings.AVATAR_ENROLLMENT_MIN_SECONDS
        )
    except EnrollmentError as exc:
        advice = exc.message
        return JobOutcome(
            result={"accepted": False, "advice": advice, "code": exc.code},
            record=lambda _: enrollment_analysis_finish(
                enrollment_id=enrollment_id, analysis_key=None, advice=advice
            ),
        )
    path = scratch / "analysis.npz"
    analysis.save(path)
    # The scanner's manipulation analyzers on the footage too (issue 12 item 4): a consent statement
    # checked against a manipulated enrollment waits for a clinic admin (avatars.services.statement).
    from avatars.services.statement import enrollment_manipulation_check, enrollment_manipulation_record

    manipulation = enrollment_manipulation_check(footage)

    def record(final: dict[str, Any]) -> Enrollment:
        enrollment_manipulation_record(enrollment_id=enrollment_id, manipulation=manipulation)
        return enrollment_analysis_finish(
            enrollment_id=enrollment_id, analysis_key=final["analysis"], advice=""
        )

    return JobOutcome(
        result={
            "accepted": True,
            "analysis": output_store(job=job, name="analysis.npz", path=path),
            "measures": enrollment_measures(analysis),
            "manipulation": manipulation,
        },
        record=record,
    )
