"""Reads of the studio, scoped to the acting user's clinic and role."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from avatars.models import Enrollment, Publication, Script, Video
from core.errors import not_found
from core.models import Role, User

STUDIO_ROLES = frozenset({Role.CLINICIAN, Role.CLINIC_ADMIN})
OVERSIGHT = frozenset({Role.CLINIC_ADMIN, Role.COMPLIANCE_OFFICER})


def enrollment_list(*, user: User) -> QuerySet[Enrollment]:
    if user.role not in STUDIO_ROLES:
        return Enrollment.objects.none()
    return Enrollment.objects.filter(clinic_id=user.clinic_id).select_related("clinician", "job")


def script_list(*, user: User) -> QuerySet[Script]:
    if user.role not in STUDIO_ROLES:
        return Script.objects.none()
    return Script.objects.filter(clinic_id=user.clinic_id).select_related("clinician", "enrollment")


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
    if user.role == Role.PATIENT:
        return videos.filter(publications__patient=user).distinct()
    return videos


def video_get(*, user: User, video_id: Any) -> Video:
    try:
        return video_list(user=user).get(id=video_id)
    except (Video.DoesNotExist, ValueError, TypeError):
        raise not_found("Video") from None


def patient_publications(*, user: User) -> QuerySet[Publication]:
    """What was shared with a patient, newest first (withdrawn ones stay listed, marked withdrawn)."""
    if user.role != Role.PATIENT:
        return Publication.objects.none()
    return Publication.objects.filter(patient=user, video__clinic_id=user.clinic_id).select_related(
        "video", "video__clinician", "video__script"
    )


def videos_of_likeness(*, clinician: User) -> QuerySet[Video]:
    """Every video ever made with a clinician's likeness (for their own view)."""
    return Video.objects.filter(clinician=clinician).select_related("script", "job").order_by("-created_at")


def enrollments_for_gallery(*, clinic_id: Any) -> QuerySet[Enrollment]:
    """The clinic's ready enrollments, for the impersonation scanner's gallery of known faces and voices.

    Not scoped to an actor: the scan job reads it for the clinic whose member started the scan.
    """
    from avatars.models import EnrollmentKind, EnrollmentStatus

    return (
        Enrollment.objects.filter(clinic_id=clinic_id, status=EnrollmentStatus.READY)
        .exclude(kind=EnrollmentKind.STOCK)
        .select_related("clinician", "footage", "photo", "voice")
        .order_by("created_at")
    )
