"""Writes and workflows of the shared kernel: clinics, invitations, second factor, uploads and jobs."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import timedelta
from typing import Any

import kombu.exceptions
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from core.errors import ApplicationError, CoreErrorCode, not_found
from core.job_kinds import job_failure_record, job_kind_get
from core.models import Clinic, Invitation, JobKind, JobStatus, MediaJob, Role, Upload, User
from core.progress import job_broadcast
from core.selectors import UPLOADER_ROLES, job_get
from core.uploads import Scratch, upload_check, upload_rate_limit, upload_record

logger = logging.getLogger(__name__)


# --- clinics and people ------------------------------------------------------------------------


def clinic_create(*, name: str, slug: str, contact_email: str, contact_phone: str = "") -> Clinic:
    """Create a tenant."""
    return Clinic.objects.create(
        name=name, slug=slug, contact_email=contact_email, contact_phone=contact_phone
    )


def clinic_member_create(
    *, clinic: Clinic, username: str, password: str, role: str, email: str = "", display_name: str = ""
) -> User:
    """Create a member directly (seeding and operators); invitations are the normal path."""
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", code=CoreErrorCode.INVALID_INPUT)
    user = User(username=username, email=email, clinic=clinic, role=role, display_name=display_name)
    user.set_password(password)
    user.save()
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_create(*, actor: User, email: str, role: str) -> tuple[Invitation, str]:
    """Invite a person into the actor's clinic; returns the invitation and its one-time token."""
    if actor.role != Role.CLINIC_ADMIN:
        raise ApplicationError(
            "Only clinic admins can invite people.", code=CoreErrorCode.PERMISSION_DENIED, status=403
        )
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", code=CoreErrorCode.INVALID_INPUT)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        clinic_id=actor.member_clinic_id,
        email=email,
        role=role,
        token_hash=_token_hash(token),
        invited_by=actor,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_VALID_DAYS),
    )
    return invitation, token


def invitation_revoke(*, actor: User, invitation_id: uuid.UUID | str) -> None:
    """Withdraw an unused invitation (clinic admins only; the role is checked before anything is written)."""
    if actor.role != Role.CLINIC_ADMIN:
        raise ApplicationError(
            "Only clinic admins can withdraw invitations.", code=CoreErrorCode.PERMISSION_DENIED, status=403
        )
    try:
        invitation_uuid = uuid.UUID(str(invitation_id))
    except ValueError:
        raise not_found("Invitation") from None
    # One conditional UPDATE: atomic on its own, and a used or withdrawn invitation stays as it is.
    updated = Invitation.objects.filter(
        id=invitation_uuid,
        clinic_id=actor.member_clinic_id,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
    ).update(revoked_at=timezone.now())
    if not updated:
        raise ApplicationError(
            "Invitation not found or already used.", code=CoreErrorCode.NOT_FOUND, status=404
        )


def invitation_find(*, token: str) -> Invitation:
    """The open invitation a token belongs to, or a clear refusal."""
    invitation = Invitation.objects.select_related("clinic").filter(token_hash=_token_hash(token)).first()
    if invitation is None or invitation.revoked_at is not None:
        raise ApplicationError("This invitation link is not valid.", code=CoreErrorCode.INVITATION_INVALID)
    if invitation.accepted_at is not None:
        raise ApplicationError(
            "This invitation link has already been used.", code=CoreErrorCode.INVITATION_INVALID
        )
    if invitation.expires_at <= timezone.now():
        raise ApplicationError(
            "This invitation link has expired; ask the clinic for a new one.",
            code=CoreErrorCode.INVITATION_INVALID,
        )
    return invitation


def invitation_accept(*, token: str, username: str, password: str, display_name: str) -> User:
    """Create the invited user; the conditional update makes the link single-use under races."""
    invitation = invitation_find(token=token)
    candidate = User(username=username, email=invitation.email, display_name=display_name)
    try:
        password_validation.validate_password(password, candidate)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), code=CoreErrorCode.INVALID_INPUT) from exc
    try:
        with transaction.atomic():
            claimed = Invitation.objects.filter(id=invitation.id, accepted_at__isnull=True).update(
                accepted_at=timezone.now()
            )
            if not claimed:
                raise ApplicationError(
                    "This invitation link has already been used.", code=CoreErrorCode.INVITATION_INVALID
                )
            user = clinic_member_create(
                clinic=invitation.clinic,
                username=username,
                password=password,
                role=invitation.role,
                email=invitation.email,
                display_name=display_name,
            )
            Invitation.objects.filter(id=invitation.id).update(accepted_user=user)
    except IntegrityError as exc:
        raise ApplicationError(
            "That username is taken; please choose another.", code=CoreErrorCode.INVALID_INPUT
        ) from exc
    return user


# --- second factor -----------------------------------------------------------------------------


def totp_device_get_or_create(*, user: User) -> TOTPDevice:
    """The user's TOTP device, created unconfirmed (shown as a QR code) if there is none."""
    device = TOTPDevice.objects.filter(user=user).order_by("-confirmed", "id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def totp_device_confirm(*, user: User, code: str) -> TOTPDevice:
    """Confirm a new device with a first valid code."""
    device = totp_device_get_or_create(user=user)
    if not device.verify_token(code.strip()):
        raise ApplicationError(
            "That code is not valid. Check the time on your phone and try again.",
            code=CoreErrorCode.SECOND_FACTOR_INVALID,
        )
    if not device.confirmed:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    return device


def totp_verify(*, user: User, code: str) -> TOTPDevice:
    """Check a code against the user's confirmed devices."""
    if not code.strip():
        raise ApplicationError(
            "This account needs the 6-digit code from its authenticator app.",
            code=CoreErrorCode.SECOND_FACTOR_INVALID,
        )
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        if device.verify_token(code.strip()):
            return device
    raise ApplicationError("That code is not valid.", code=CoreErrorCode.SECOND_FACTOR_INVALID)


# --- account self-service ----------------------------------------------------------------------


def _admin_required(actor: User, action: str) -> None:
    # Checked before any read or write, so a refused actor learns nothing and changes nothing.
    if actor.role != Role.CLINIC_ADMIN:
        raise ApplicationError(
            f"Only clinic admins can {action}.", code=CoreErrorCode.PERMISSION_DENIED, status=403
        )


def _clinic_member(*, actor: User, member_id: int | str, lock: bool = False) -> User:
    """A member of the actor's clinic; a member of another clinic is the same 404 as nobody."""
    try:
        pk = int(member_id)
    except (TypeError, ValueError):
        raise not_found("Member") from None
    members = User.objects.filter(clinic_id=actor.member_clinic_id)
    member = (members.select_for_update() if lock else members).filter(pk=pk).first()
    if member is None:
        raise not_found("Member")
    return member


def member_second_factor_reset(*, actor: User, member_id: int | str) -> User:
    """Remove a member's authenticator devices (a lost phone); they enrol a new one at next sign-in.

    A session the member has open loses its verified second factor with the device, so it is sent
    to the enrolment page too.
    """
    _admin_required(actor, "reset a second factor")
    member = _clinic_member(actor=actor, member_id=member_id)
    if member.pk == actor.pk:
        raise ApplicationError(
            "You cannot reset your own second factor; ask another clinic admin.",
            code=CoreErrorCode.PERMISSION_DENIED,
            status=403,
        )
    removed, _ = TOTPDevice.objects.filter(user=member).delete()
    logger.info(
        "account.second_factor_reset",
        extra={"actor_id": actor.pk, "member_id": member.pk, "devices_removed": removed},
    )
    return member


def member_deactivate(*, actor: User, member_id: int | str) -> User:
    """Close a member's account: no sign-in, no session, no API token. The records they made stay.

    An admin cannot close their own account, nor the clinic's last active admin account (the clinic
    would have nobody left to manage it). The clinic's active admins are locked first, so two admins
    closing each other's accounts at the same moment cannot both succeed.
    """
    _admin_required(actor, "deactivate members")
    with transaction.atomic():
        active_admins = list(
            User.objects.select_for_update()
            .filter(clinic_id=actor.member_clinic_id, role=Role.CLINIC_ADMIN, is_active=True)
            .values_list("pk", flat=True)
        )
        member = _clinic_member(actor=actor, member_id=member_id, lock=True)
        if member.pk == actor.pk:
            raise ApplicationError(
                "You cannot deactivate your own account.", code=CoreErrorCode.PERMISSION_DENIED, status=403
            )
        if not member.is_active:
            raise ApplicationError(
                "This account is already deactivated.", code=CoreErrorCode.INVALID_INPUT, status=409
            )
        if member.pk in active_admins and len(active_admins) <= 1:
            raise ApplicationError(
                "The clinic's last active admin cannot be deactivated.",
                code=CoreErrorCode.PERMISSION_DENIED,
                status=409,
            )
        member.is_active = False
        member.save(update_fields=["is_active"])
        Token.objects.filter(user=member).delete()
    logger.info("account.deactivated", extra={"actor_id": actor.pk, "member_id": member.pk})
    return member


def password_reset_completed(*, user: User) -> None:
    """After a password reset: API tokens made with the old password stop working.

    Browser sessions end on their own (Django ties them to the password hash). The second factor is
    left as it is: a reset proves control of the mailbox, not of the authenticator.
    """
    Token.objects.filter(user=user).delete()
    logger.info("account.password_reset_completed", extra={"user_id": user.pk})


# --- jobs --------------------------------------------------------------------------------------


def job_create(
    *, actor: User, kind: str, input_upload: Upload | None = None, params: dict[str, Any] | None = None
) -> MediaJob:
    """Record a job of a registered kind and enqueue its task once the transaction commits.

    A kind no installed app registers is a programming error (LookupError), refused before any write.
    """
    spec = job_kind_get(kind)
    job = MediaJob.objects.create(
        clinic_id=actor.member_clinic_id,
        owner=actor,
        kind=spec.kind,
        queue=spec.queue,
        input_upload=input_upload,
        params=params or {},
    )
    transaction.on_commit(lambda: _job_send(spec.task, job))
    return job


def _job_send(task: Any, job: MediaJob) -> None:
    # The row is committed first and is the record of the job: when the broker cannot take the
    # message, the job stays queued (nothing half-made) and jobs_requeue_stalled sends it later.
    try:
        task.apply_async(args=[str(job.id)], queue=job.queue)
    except kombu.exceptions.OperationalError:
        logger.warning("job.send_failed", extra={"job_id": str(job.id)}, exc_info=True)


def video_proxy_start(*, actor: User, file: UploadedFile) -> MediaJob:
    """Validate an uploaded video, record it and queue its browser-playable proxy."""
    if actor.role not in UPLOADER_ROLES:
        raise ApplicationError(
            "Your role cannot upload videos.", code=CoreErrorCode.PERMISSION_DENIED, status=403
        )
    upload_rate_limit(actor=actor)
    with Scratch() as scratch:
        checked = upload_check(file=file, kinds={"video"}, scratch=scratch)
        return upload_record(
            actor=actor,
            checked=checked,
            purpose="video",
            then=lambda upload: job_create(actor=actor, kind=JobKind.VIDEO_PROXY, input_upload=upload),
        )


def job_claim(*, job_id: uuid.UUID | str) -> MediaJob | None:
    """Take a job for this worker as a new attempt, or return None if another delivery has it.

    One conditional UPDATE decides: a queued job, or a running one whose heartbeat is older than the
    lease because its worker died. A second delivery of the same message therefore does nothing. The
    returned row's `attempts` is this attempt's claim token; every later write must carry it.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.JOB_LEASE_SECONDS)
    claimed = (
        MediaJob.objects.filter(id=job_id, attempts__lt=settings.JOB_MAX_ATTEMPTS, cancel_requested=False)
        .filter(Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale))
        .update(
            status=JobStatus.RUNNING,
            stage="starting",
            attempts=F("attempts") + 1,
            started_at=now,
            heartbeat_at=now,
            eta_seconds=None,
        )
    )
    if not claimed:
        return None
    return MediaJob.objects.get(id=job_id)


def job_succeed(*, job: MediaJob, result: dict[str, Any]) -> bool:
    """Mark the attempt's job done; False if the attempt no longer holds it or a cancel was asked."""
    now = timezone.now()
    done = (
        MediaJob.objects.held_by(job)
        .filter(cancel_requested=False)
        .update(
            status=JobStatus.SUCCEEDED,
            stage="done",
            percent=100.0,
            eta_seconds=0,
            result=result,
            finished_at=now,
            heartbeat_at=now,
        )
    )
    return bool(done)


def job_fail(*, job: MediaJob, code: str, message: str) -> bool:
    """Record a failure with a message a person can act on; False if the attempt lost the job."""
    return bool(
        MediaJob.objects.held_by(job).update(
            status=JobStatus.FAILED,
            stage="failed",
            error_code=code[:64],
            error_message=message,
            eta_seconds=None,
            finished_at=timezone.now(),
        )
    )


def job_mark_cancelled(*, job: MediaJob) -> bool:
    """Finish a job whose cancel was requested (called by the worker when it notices).

    False when the attempt no longer holds the job: it was superseded, not cancelled.
    """
    return bool(
        MediaJob.objects.held_by(job).update(
            status=JobStatus.CANCELLED, stage="cancelled", eta_seconds=None, finished_at=timezone.now()
        )
    )


def job_cancel(*, actor: User, job_id: uuid.UUID | str) -> MediaJob:
    """Cancel a queued job at once, or ask a running one to stop at its next progress report."""
    job = job_get(user=actor, job_id=job_id)
    if actor.role == Role.PATIENT or (actor.role == Role.COMPLIANCE_OFFICER and job.owner_id != actor.pk):
        raise ApplicationError(
            "You cannot cancel this job.", code=CoreErrorCode.PERMISSION_DENIED, status=403
        )
    job_request_cancel(job_ids=[job.id])
    job.refresh_from_db()
    if job.status not in (JobStatus.CANCELLED, JobStatus.RUNNING):
        raise ApplicationError(
            f"The job has already {job.status}.", code=CoreErrorCode.JOB_NOT_CANCELLABLE, status=409
        )
    return job


def job_request_cancel(*, job_ids: list[uuid.UUID]) -> int:
    """Cancel jobs without an actor (consent revocation uses this); returns how many were stopped.

    A queued job ends at once, with its kind's failure hook in the same transaction (a render's video
    then reads "cancelled" instead of waiting forever); a running one stops at its next report.
    """
    now = timezone.now()
    with transaction.atomic():
        waiting = list(
            MediaJob.objects.select_for_update().filter(id__in=job_ids, status=JobStatus.QUEUED)
        )
        queued = MediaJob.objects.filter(id__in=[job.id for job in waiting]).update(
            status=JobStatus.CANCELLED, stage="cancelled", cancel_requested=True, finished_at=now
        )
        for job in waiting:
            job_failure_record(job, "cancelled")
    running = MediaJob.objects.filter(id__in=job_ids, status=JobStatus.RUNNING).update(
        cancel_requested=True, stage="cancelling"
    )
    for job_id in job_ids:
        job_broadcast(job_id=job_id)
    return queued + running
