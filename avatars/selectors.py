"""Reads of the studio, scoped to the acting user's clinic and role."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from avatars import policy
from avatars.models import (
    Anonymization,
    AnonymizationStatus,
    Enrollment,
    EnrollmentKind,
    EnrollmentStatus,
    Publication,
    Script,
    Video,
    VideoStatus,
)
from consent.selectors import UseScope, clinic_scope_vocabulary, likeness_scope_active
from core.errors import not_found
from core.models import Role, User


def enrollment_list(*, user: User) -> QuerySet[Enrollment]:
    if not policy.can_use_studio(user):
        return Enrollment.objects.none()
    return Enrollment.objects.filter(clinic_id=user.member_clinic_id).select_related("clinician", "job")


def presenter_scopes(*, user: User) -> dict[str, UseScope | None]:
    """Each ready presenter's allowed uses, by enrollment id: what the clinician's active likeness
    consent allows, the clinic's whole vocabulary for the stock presenter (no one's likeness), and
    None for a clinician with no active consent (no script may use their likeness now)."""
    scopes: dict[str, UseScope | None] = {}
    vocabulary: UseScope | None = None
    for enrollment in enrollment_list(user=user).filter(status=EnrollmentStatus.READY):
        if enrollment.kind == EnrollmentKind.STOCK or enrollment.clinician_id is None:
            vocabulary = vocabulary or clinic_scope_vocabulary(clinic_id=enrollment.clinic_id)
            scopes[str(enrollment.id)] = vocabulary
        else:
            scopes[str(enrollment.id)] = likeness_scope_active(clinician_id=enrollment.clinician_id)
    return scopes


def script_list(*, user: User) -> QuerySet[Script]:
    if not policy.can_use_studio(user):
        return Script.objects.none()
    return Script.objects.filter(clinic_id=user.member_clinic_id).select_related("clinician", "enrollment")


def script_get(*, user: User, script_id: Any) -> Script:
    try:
        return script_list(user=user).get(id=script_id)
    except (Script.DoesNotExist, ValueError, TypeError):
        raise not_found("Script") from None


def video_list(*, user: User) -> QuerySet[Video]:
    """Staff see the clinic's videos; patients see the videos published to them (withdrawn ones too,
    so their page can say so)."""
    if not (user.is_authenticated and user.clinic_id):
        return Video.objects.none()
    videos = Video.objects.filter(clinic_id=user.clinic_id).select_related(
        "script", "clinician", "job", "likeness_consent__signature"
    )
    if policy.watches_as_patient(user):
        return videos.filter(publications__patient=user).distinct()
    return videos


def video_get(*, user: User, video_id: Any) -> Video:
    try:
        return video_list(user=user).get(id=video_id)
    except (Video.DoesNotExist, ValueError, TypeError):
        raise not_found("Video") from None


def patient_publications(*, user: User) -> QuerySet[Publication]:
    """What was shared with a patient, newest first (withdrawn ones stay listed, marked withdrawn)."""
    if not policy.watches_as_patient(user):
        return Publication.objects.none()
    return Publication.objects.filter(patient=user, video__clinic_id=user.member_clinic_id).select_related(
        "video", "video__clinician", "video__script"
    )


def videos_of_likeness(*, clinician: User) -> QuerySet[Video]:
    """Every video made with a clinician's likeness (for their own view); a render stopped before it
    produced anything is not one."""
    return (
        Video.objects.filter(clinician=clinician)
        .exclude(status=VideoStatus.FAILED, job__status="cancelled")
        .select_related("script", "job")
        .order_by("-created_at")
    )


def enrollments_for_gallery(*, clinic_id: Any) -> QuerySet[Enrollment]:
    """The clinic's ready enrollments, for the impersonation scanner's gallery of known faces and voices.

    Not scoped to an actor: the scan job reads it for the clinic whose member started the scan.
    """
    return (
        Enrollment.objects.filter(clinic_id=clinic_id, status=EnrollmentStatus.READY)
        .exclude(kind=EnrollmentKind.STOCK)
        .select_related("clinician", "footage", "photo", "voice")
        .order_by("created_at")
    )


def anonymization_list(*, user: User) -> QuerySet[Anonymization]:
    """Anonymizations the user may see (their output and report; the original is a further rule,
    avatars.policy.sees_anonymization_original), newest first."""
    if not getattr(user, "is_authenticated", False) or not user.clinic_id:
        return Anonymization.objects.none()
    records = Anonymization.objects.filter(clinic_id=user.clinic_id).select_related(
        "patient", "job", "created_by", "kept_clinician"
    )
    if user.role in (Role.CLINIC_ADMIN, Role.COMPLIANCE_OFFICER):
        return records
    if user.role == Role.CLINICIAN:
        return records.filter(Q(created_by=user) | Q(status=AnonymizationStatus.PUBLISHED))
    if user.role == Role.PATIENT:
        return records.filter(patient=user)
    return Anonymization.objects.none()


def anonymization_get(*, user: User, anonymization_id: Any) -> Anonymization:
    """One anonymization the user may see, or a 404 ApplicationError."""
    try:
        return anonymization_list(user=user).get(id=anonymization_id)
    except (Anonymization.DoesNotExist, ValueError, TypeError):
        raise not_found("Anonymization") from None
