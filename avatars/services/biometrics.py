"""An enrollment's biometric data: what it is, how long it is kept, and its destruction.

An enrollment's biometric data is its footage, portrait photo and voice sample (the uploads and their
stored files), the analysis its job stored (face landmarks and mouth shapes per frame), and the face
and voice templates other apps derive from those files and cache (the impersonation scanner's
gallery, which registers a handler here). Destroying it removes all of these and keeps the
enrollment's row as a record without biometric content, since scripts and videos refer to it; the
ledger says what was destroyed, by whom and why, never what it contained.

Retention (BIPA 740 ILCS 14/15(a) asks for a published schedule and destruction when the purpose
ends or three years after the person's last interaction, whichever comes first; docs/biometric-data.md): the data is kept
until `BIOMETRIC_RETENTION_DAYS` after its last use (enrollment, sign-off or a render made with it)
or `BIOMETRIC_CONSENT_END_GRACE_DAYS` after the clinician's last likeness consent ended with no other
in force or pending, whichever comes first. `biometrics_expire` (a daily beat task and the
`biometrics_expire` management command) destroys what is due.

Videos already made stay what they are: outputs governed by the likeness consent. Deleting the
enrollment stops renders that are running or queued and refuses new ones; withdrawing published
videos is what revoking the consent does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from avatars import policy
from avatars.errors import AvatarErrorCode
from avatars.models import (
    Enrollment,
    EnrollmentDeletionReason,
    EnrollmentKind,
    EnrollmentStatus,
    Script,
    Video,
    VideoStatus,
)
from avatars.services._common import get_for_update, refuse, staff_only
from consent.ledger import ledger_append
from consent.models import LikenessConsent, LikenessStatus
from core.jobs import job_outputs_discard
from core.models import MediaJob, Upload, User
from core.services import job_request_cancel

logger = logging.getLogger(__name__)

#: The enrollment's uploads that hold biometric data, with the words people read for each.
BIOMETRIC_UPLOADS = (
    ("footage", "enrollment footage"),
    ("photo", "portrait photo"),
    ("voice", "voice sample"),
)
ANALYSIS = "stored face and mouth analysis"
TEMPLATES = "face and voice templates made from them"

# Called after the deletion is committed with the SHA-256 of each destroyed upload, so that an app
# that caches templates derived from a file (keyed by its hash) forgets them.
EnrollmentDeletedHandler = Callable[[list[str]], None]

_deletion_handlers: list[EnrollmentDeletedHandler] = []


def enrollment_deletion_handler_register(handler: EnrollmentDeletedHandler) -> None:
    """Register a handler that forgets what an app derived from destroyed enrollment files."""
    if handler not in _deletion_handlers:
        _deletion_handlers.append(handler)


@dataclass(frozen=True)
class DeletionPreview:
    """What deleting an enrollment destroys and what it changes, for the confirmation page."""

    enrollment: Enrollment
    destroyed: list[str]
    renders_stopped: int
    scripts_blocked: int
    videos_published: int
    on_behalf: bool


def _usable(enrollment: Enrollment) -> None:
    if enrollment.kind == EnrollmentKind.STOCK:
        raise refuse(
            "The stock presenter holds no one's biometric data; there is nothing to delete.",
            AvatarErrorCode.ENROLLMENT_INVALID_TRANSITION,
            409,
        )
    if enrollment.status == EnrollmentStatus.DELETED:
        raise refuse(
            "This enrollment is already deleted.", AvatarErrorCode.ENROLLMENT_INVALID_TRANSITION, 409
        )


def _destroyed_parts(enrollment: Enrollment) -> list[str]:
    parts = [words for field, words in BIOMETRIC_UPLOADS if getattr(enrollment, f"{field}_id")]
    if enrollment.analysis_key:
        parts.append(ANALYSIS)
    return [*parts, TEMPLATES]


def _renders_running(enrollment: Enrollment) -> list[Any]:
    return list(
        Video.objects.filter(script__enrollment=enrollment, status=VideoStatus.RENDERING).values_list(
            "job_id", flat=True
        )
    )


def enrollment_deletion_preview(*, actor: User, enrollment_id: Any) -> DeletionPreview:
    """What deleting the enrollment would destroy and change; refuses as the deletion would."""
    staff_only(actor)
    try:
        enrollment = Enrollment.objects.select_related("clinician").get(
            clinic_id=actor.member_clinic_id, id=enrollment_id
        )
    except (Enrollment.DoesNotExist, ValueError, TypeError):
        raise refuse("Enrollment not found.", AvatarErrorCode.NOT_FOUND, 404) from None
    policy.require(
        policy.can_delete_enrollment(actor, enrollment),
        "Clinicians delete only their own enrollment; a clinic admin may delete any of the clinic's.",
    )
    _usable(enrollment)
    return DeletionPreview(
        enrollment=enrollment,
        destroyed=_destroyed_parts(enrollment),
        renders_stopped=len(_renders_running(enrollment)),
        scripts_blocked=Script.objects.filter(enrollment=enrollment).count(),
        videos_published=Video.objects.filter(
            script__enrollment=enrollment, status=VideoStatus.PUBLISHED
        ).count(),
        on_behalf=actor.pk != enrollment.clinician_id,
    )


def enrollment_delete(*, actor: User, enrollment_id: Any) -> Enrollment:
    """Destroy an enrollment's biometric data at its clinician's request or, on their behalf (a
    departed clinician, say), a clinic admin's; renders that use it stop and new ones are refused."""
    staff_only(actor)
    with transaction.atomic():
        enrollment = get_for_update(Enrollment, actor, enrollment_id, "Enrollment")
        policy.require(
            policy.can_delete_enrollment(actor, enrollment),
            "Clinicians delete only their own enrollment; a clinic admin may delete any of the clinic's.",
        )
        _usable(enrollment)
        reason = (
            EnrollmentDeletionReason.BY_CLINICIAN
            if actor.pk == enrollment.clinician_id
            else EnrollmentDeletionReason.BY_CLINIC_ADMIN
        )
        _destroy(enrollment, actor=actor, reason=reason)
    return enrollment


def _destroy(enrollment: Enrollment, *, actor: User | None, reason: str) -> None:
    """Inside the caller's transaction (the enrollment row locked): stop its renders and analysis,
    drop every reference to its files, delete their rows, ledger it; the files and cached templates
    go once the transaction has committed (storage is not transactional)."""
    destroyed = _destroyed_parts(enrollment)
    uploads = list(
        Upload.objects.filter(id__in=[getattr(enrollment, f"{field}_id") for field, _ in BIOMETRIC_UPLOADS])
    )
    stopped = _renders_running(enrollment)
    jobs_to_stop = [*stopped]
    if enrollment.job_id is not None:
        jobs_to_stop.append(enrollment.job_id)
    if jobs_to_stop:
        job_request_cancel(job_ids=jobs_to_stop)
    analysis_key = enrollment.analysis_key
    enrollment.footage = enrollment.photo = enrollment.voice = None
    enrollment.analysis_key = ""
    enrollment.advice = ""
    enrollment.status = EnrollmentStatus.DELETED
    enrollment.deleted_at = timezone.now()
    enrollment.deleted_by = actor
    enrollment.deletion_reason = reason
    enrollment.save()
    # The analysis job read the footage and stored its result: neither may outlive the deletion.
    MediaJob.objects.filter(input_upload__in=uploads).update(input_upload=None)
    if enrollment.job_id is not None:
        MediaJob.objects.filter(id=enrollment.job_id).update(result={})
    keys = [upload.storage_key for upload in uploads]
    hashes = [upload.sha256 for upload in uploads]
    Upload.objects.filter(id__in=[upload.id for upload in uploads]).delete()
    ledger_append(
        event_type="enrollment.deleted",
        clinic_id=enrollment.clinic_id,
        object_type="enrollment",
        object_id=enrollment.id,
        actor=actor,
        subject=enrollment.clinician_id,
        data={
            "reason": reason,
            "kind": enrollment.kind,
            "destroyed": destroyed,
            "uploads": [str(upload.id) for upload in uploads],
            "renders_stopped": len(stopped),
        },
    )
    job_id = enrollment.job_id
    transaction.on_commit(lambda: _files_destroy(keys, analysis_key, job_id, hashes))


def _files_destroy(keys: list[str], analysis_key: str, job_id: Any, hashes: list[str]) -> None:
    for key in [*keys, analysis_key]:
        if not key:
            continue
        try:
            default_storage.delete(key)
            folder = key.rsplit("/", 1)[0]
            if key.startswith("uploads/") and not any(default_storage.listdir(folder)):
                default_storage.delete(folder)  # the upload's own folder, named by its id
        except OSError:  # the key (no biometric content) is logged so that an operator removes it
            logger.error("biometric file deletion failed", extra={"key": key}, exc_info=True)
    if job_id is not None:
        job_outputs_discard(job_id=job_id, everything=True)
    for handler in list(_deletion_handlers):
        handler(hashes)


# --- retention --------------------------------------------------------------------------------------


def enrollment_last_use(enrollment: Enrollment) -> datetime:
    """The latest of the enrollment, its sign-off and the renders made with it."""
    latest_render = Video.objects.filter(script__enrollment=enrollment).aggregate(last=Max("created_at"))[
        "last"
    ]
    return max(d for d in (enrollment.created_at, enrollment.signed_off_at, latest_render) if d is not None)


def likeness_consent_ended_at(*, clinician_id: Any) -> datetime | None:
    """When the clinician's last likeness consent ended, if none is in force or pending any more."""
    consents = LikenessConsent.objects.filter(clinician_id=clinician_id)
    if consents.filter(
        status__in=(LikenessStatus.DRAFT, LikenessStatus.AWAITING_VERIFICATION, LikenessStatus.ACTIVE)
    ).exists():
        return None
    ended: datetime | None = consents.aggregate(last=Max("ended_at"))["last"]
    return ended


def enrollment_retention_until(enrollment: Enrollment) -> datetime | None:
    """When the enrollment's biometric data is destroyed at the latest; None when it holds none."""
    if enrollment.kind == EnrollmentKind.STOCK or enrollment.status == EnrollmentStatus.DELETED:
        return None
    until = enrollment_last_use(enrollment) + timedelta(days=settings.BIOMETRIC_RETENTION_DAYS)
    ended = likeness_consent_ended_at(clinician_id=enrollment.clinician_id)
    if ended is not None:
        until = min(until, ended + timedelta(days=settings.BIOMETRIC_CONSENT_END_GRACE_DAYS))
    return until


def biometrics_expire(*, now: datetime | None = None) -> int:
    """Destroy the biometric data of every enrollment past its retention date; returns how many."""
    now = now or timezone.now()
    count = 0
    candidates = (
        Enrollment.objects.exclude(kind=EnrollmentKind.STOCK)
        .exclude(status=EnrollmentStatus.DELETED)
        .values_list("id", flat=True)
    )
    for enrollment_id in candidates:
        with transaction.atomic():
            enrollment = Enrollment.objects.select_for_update().get(id=enrollment_id)
            until = enrollment_retention_until(enrollment)
            if until is not None and until <= now:
                _destroy(enrollment, actor=None, reason=EnrollmentDeletionReason.RETENTION_EXPIRED)
                count += 1
    return count


def retention_schedule() -> dict[str, int]:
    """The retention periods in force, in days, for the published schedule."""
    return {
        "retention_days": settings.BIOMETRIC_RETENTION_DAYS,
        "consent_end_grace_days": settings.BIOMETRIC_CONSENT_END_GRACE_DAYS,
    }
