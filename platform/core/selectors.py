"""Reads, always on behalf of an acting user: nothing leaves a clinic, and roles narrow further.

Views and APIs fetch objects only through these functions.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.errors import not_found
from core.models import Invitation, MediaJob, Role, Upload, User

# Roles that see every job and upload of their clinic; others see only their own.
CLINIC_WIDE_MEDIA_ROLES = frozenset({Role.CLINIC_ADMIN, Role.COMPLIANCE_OFFICER})
UPLOADER_ROLES = frozenset({Role.CLINIC_ADMIN, Role.CLINICIAN})


def _member(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.clinic_id and user.role)


def job_list(*, user: User) -> QuerySet[MediaJob]:
    """Jobs the user may see, newest first."""
    if not _member(user):
        return MediaJob.objects.none()
    jobs = MediaJob.objects.filter(clinic_id=user.member_clinic_id).select_related("input_upload")
    if user.role not in CLINIC_WIDE_MEDIA_ROLES:
        jobs = jobs.filter(owner=user)
    return jobs


def job_get(*, user: User, job_id: uuid.UUID | str) -> MediaJob:
    """One job the user may see, or a 404 ApplicationError."""
    try:
        return job_list(user=user).get(id=job_id)
    except (MediaJob.DoesNotExist, ValueError, TypeError):
        raise not_found("Job") from None


def upload_list(*, user: User) -> QuerySet[Upload]:
    """Uploads the user may see, newest first."""
    if not _member(user):
        return Upload.objects.none()
    uploads = Upload.objects.filter(clinic_id=user.member_clinic_id)
    if user.role not in CLINIC_WIDE_MEDIA_ROLES:
        uploads = uploads.filter(owner=user)
    return uploads


def upload_get(*, user: User, upload_id: uuid.UUID | str) -> Upload:
    """One upload the user may see, or a 404 ApplicationError."""
    try:
        return upload_list(user=user).get(id=upload_id)
    except (Upload.DoesNotExist, ValueError, TypeError):
        raise not_found("Upload") from None


def member_list(*, user: User) -> QuerySet[User]:
    """People of the user's clinic the user may see: patients see only the clinic's staff."""
    if not _member(user):
        return User.objects.none()
    members = User.objects.filter(clinic_id=user.member_clinic_id, is_active=True).order_by(
        "role", "username"
    )
    if user.role == Role.PATIENT:
        members = members.exclude(role=Role.PATIENT)
    return members


def member_deactivated_list(*, user: User) -> QuerySet[User]:
    """Deactivated accounts of the clinic, for its clinic admins."""
    if not _member(user) or user.role != Role.CLINIC_ADMIN:
        return User.objects.none()
    return User.objects.filter(clinic_id=user.member_clinic_id, is_active=False).order_by("username")


def member_second_factor_ids(*, user: User) -> set[int]:
    """Ids of the clinic's members who have a confirmed authenticator, for its clinic admins."""
    if not _member(user) or user.role != Role.CLINIC_ADMIN:
        return set()
    return set(
        TOTPDevice.objects.filter(user__clinic_id=user.member_clinic_id, confirmed=True).values_list(
            "user_id", flat=True
        )
    )


def invitation_list(*, user: User) -> QuerySet[Invitation]:
    """Open invitations of the clinic; only clinic admins manage them."""
    if not _member(user) or user.role != Role.CLINIC_ADMIN:
        return Invitation.objects.none()
    return Invitation.objects.filter(clinic_id=user.member_clinic_id).order_by("-created_at")
