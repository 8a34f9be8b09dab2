"""Shared kernel models: the clinic (tenant), its users and their roles, invitations, uploads and jobs."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils import timezone

from core.job_kinds import JOB_KINDS


class Clinic(models.Model):
    """A tenant. Every other object belongs to exactly one clinic."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    contact_email = models.EmailField(help_text="Where patients reach a human at the clinic.")
    contact_phone = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    CLINIC_ADMIN = "clinic_admin", "Clinic admin"
    CLINICIAN = "clinician", "Clinician"
    PATIENT = "patient", "Patient"
    COMPLIANCE_OFFICER = "compliance_officer", "Compliance officer"


# Roles that must pass a TOTP second factor before they can do anything.
PRIVILEGED_ROLES = frozenset({Role.CLINIC_ADMIN, Role.COMPLIANCE_OFFICER})


class User(AbstractUser):
    """A person in one clinic with one role. Platform operators (superusers) have no clinic."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, null=True, blank=True, related_name="users")
    role = models.CharField(max_length=32, choices=Role.choices, blank=True)
    display_name = models.CharField(max_length=200, blank=True, help_text="Printed name used on signatures.")
    # Set on the request's user by django_otp's OTPMiddleware: has this session passed its second factor?
    is_verified: Callable[[], bool]

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(clinic__isnull=True, role="")
                | models.Q(clinic__isnull=False) & ~models.Q(role=""),
                name="user_clinic_and_role_together",
            )
        ]

    @property
    def is_privileged(self) -> bool:
        return self.role in PRIVILEGED_ROLES

    @property
    def printed_name(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def member_clinic_id(self) -> uuid.UUID:
        """The clinic of a member (anyone with a role: the constraint above ties the two together).

        Clinic-scoped code reads this rather than `clinic_id`, so an operator who reaches it is
        refused instead of filtering by, or writing, a null clinic.
        """
        if self.clinic_id is None:
            raise PermissionDenied("Only a member of a clinic can do this.")
        return self.clinic_id

    @property
    def member_clinic(self) -> Clinic:
        """The member's clinic (see member_clinic_id)."""
        if self.clinic is None:
            raise PermissionDenied("Only a member of a clinic can do this.")
        return self.clinic


class Invitation(models.Model):
    """A single-use, expiring link by which a clinic admin brings a person into the clinic."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=32, choices=Role.choices)
    # Only the hash of the token is kept, so a database leak does not leak usable links.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Invitation {self.id} ({self.role})"


class UploadKind(models.TextChoices):
    VIDEO = "video", "Video"
    IMAGE = "image", "Image"
    AUDIO = "audio", "Audio"


class Upload(models.Model):
    """A validated media file. Rows exist only for files that passed every check in core.uploads."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="uploads")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="uploads")
    kind = models.CharField(max_length=16, choices=UploadKind.choices)
    purpose = models.CharField(max_length=40, default="general")
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    container = models.CharField(max_length=40)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_key = models.CharField(max_length=500, unique=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    has_audio = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Upload {self.id}"


class JobKind(models.TextChoices):
    """The kernel's own job kinds. Apps register theirs (core.job_kinds), so MediaJob.kind has no choices."""

    VIDEO_PROXY = "video_proxy", "Browser-playable proxy"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class MediaJobQuerySet(models.QuerySet["MediaJob"]):
    def held_by(self, job: MediaJob) -> MediaJobQuerySet:
        """The job's row while `job`'s attempt still holds it; a superseded attempt matches nothing.

        Every write a worker makes to its job goes through this filter (fencing).
        """
        return self.filter(id=job.id, status=JobStatus.RUNNING, attempts=job.attempts)


class MediaJob(models.Model):
    """One background media job (proxy, render, anonymize, scan) and its live progress.

    Workers claim a job with a conditional UPDATE (see core.services.job_claim), so a message
    delivered twice runs once; a job whose worker died is claimable again once its heartbeat is
    older than the lease. Each claim is a new attempt, and `attempts` is its claim token: every
    later write of the job is conditional on it, so an attempt that lost the job writes nothing.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="jobs")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs")
    # A kind registered by the app that owns it (core.job_kinds.job_kind_register); job_create checks it.
    kind = models.CharField(max_length=32)
    queue = models.CharField(max_length=16, default="default")
    input_upload = models.ForeignKey(
        Upload, on_delete=models.PROTECT, null=True, blank=True, related_name="jobs"
    )
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    stage = models.CharField(max_length=64, default="queued")
    percent = models.FloatField(default=0.0)
    eta_seconds = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    # The number of the attempt that holds the job (its claim token, see above).
    attempts = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    result = models.JSONField(default=dict, blank=True)
    # Side effects recorded once per job by the first attempt that got there (e.g. the ledger entry a
    # render is signed under), reused by later attempts instead of repeated (core.jobs.job_checkpoint).
    checkpoints = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Running: the last sign of life of the attempt's worker. Queued: when its message was last sent.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = MediaJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["clinic", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} job {self.id}"

    @property
    def kind_label(self) -> str:
        """The label the kind's app registered; the kind itself if no installed app registers it now."""
        spec = JOB_KINDS.get(self.kind)
        return spec.label if spec is not None else self.kind

    @property
    def cancel_consequence(self) -> str:
        """What cancelling this job means, as its kind's app words it (empty if it says nothing)."""
        spec = JOB_KINDS.get(self.kind)
        return spec.cancel_consequence if spec is not None else ""

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def stalled_seconds(self) -> int | None:
        """Seconds since the last heartbeat of a running job that has none within its lease, else None.

        Such a job's worker is gone (or cut off); it will be run again or, out of attempts, failed.
        """
        if self.status != JobStatus.RUNNING or self.heartbeat_at is None:
            return None
        silent = (timezone.now() - self.heartbeat_at).total_seconds()
        return int(silent) if silent > settings.JOB_LEASE_SECONDS else None

    @property
    def websocket_path(self) -> str:
        return f"/ws/jobs/{self.id}/"
