"""Impersonation scanner: scans of suspicious files, their evidence, and the cases opened on them.

Every row carries its clinic; selectors never return another clinic's scans or cases.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class DetectionJobKind(models.TextChoices):
    """The scanner's media job kind, registered with the kernel in detection.registration."""

    SCAN = "scan", "Impersonation scan"


class ScanKind(models.TextChoices):
    VIDEO = "video", "Video"
    IMAGE = "image", "Image"
    AUDIO = "audio", "Audio"


class ScanStatus(models.TextChoices):
    QUEUED = "queued", "Scanning"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class VerdictKindChoice(models.TextChoices):
    """detection.engine.VerdictKind, spelled the same, as stored choices."""

    AUTHORIZED = "authorized", "Authorized"
    CONSENT_WITHDRAWN = "consent withdrawn", "Consent withdrawn"
    PROVENANCE_TAMPERED = "provenance tampered", "Provenance tampered"
    SUSPECTED_DEEPFAKE = "suspected unauthorized deepfake", "Suspected unauthorized deepfake"
    CLINICIAN_UNVERIFIED = "clinician depicted, origin unverified", "Clinician depicted, origin unverified"
    NO_CLINICIAN = "no enrolled clinician found", "No enrolled clinician found"


#: Verdicts that alert the clinic's compliance officers.
ALERTING_VERDICTS = frozenset(
    {
        VerdictKindChoice.SUSPECTED_DEEPFAKE,
        VerdictKindChoice.CONSENT_WITHDRAWN,
        VerdictKindChoice.PROVENANCE_TAMPERED,
    }
)


class Scan(models.Model):
    """One scanned file (a batch is several scans sharing `batch_id`) and its verdict."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="scans")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    upload = models.ForeignKey("core.Upload", on_delete=models.PROTECT, related_name="+")
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=8, choices=ScanKind.choices)
    batch_id = models.UUIDField(null=True, blank=True, db_index=True)
    job = models.ForeignKey(
        "core.MediaJob", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=8, choices=ScanStatus.choices, default=ScanStatus.QUEUED)
    verdict_kind = models.CharField(max_length=40, choices=VerdictKindChoice.choices, blank=True)
    headline = models.CharField(max_length=255, blank=True)
    matched_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # {analyzer: {"score", "threshold", "flagged", "skipped", "accuracy", "limits"}}
    scores = models.JSONField(default=dict, blank=True)
    # {analyzer: [[seconds, score], ...]} for the score-over-time plot
    timeline = models.JSONField(default=dict, blank=True)
    explanation = models.JSONField(default=list, blank=True)  # plain-language lines
    duration_seconds = models.FloatField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["clinic", "-created_at"])]

    def __str__(self) -> str:
        return f"Scan {self.original_name or self.id}"

    @property
    def alerting(self) -> bool:
        return self.verdict_kind in ALERTING_VERDICTS


class ScanEvidence(models.Model):
    """One piece of evidence of a scan: where in the media, what it shows, optionally a heatmap."""

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="evidence")
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="+")
    analyzer = models.CharField(max_length=32)
    note = models.TextField()
    start_seconds = models.FloatField(null=True, blank=True)
    end_seconds = models.FloatField(null=True, blank=True)
    frame_index = models.IntegerField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    heatmap_key = models.CharField(max_length=300, blank=True)  # PNG under the job's outputs

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.analyzer}: {self.note[:60]}"


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    UNDER_REVIEW = "under_review", "Under review"
    CLOSED = "closed", "Closed"


class CaseOutcome(models.TextChoices):
    TAKEDOWN_REQUESTED = "takedown_requested", "Takedown requested"
    REMOVED = "removed", "Content removed"
    AUTHORIZED_USE = "authorized_use", "Authorized use after review"
    FALSE_POSITIVE = "false_positive", "False positive"
    NO_ACTION = "no_action", "No action"


class ImpersonationCase(models.Model):
    """A compliance case on a scan: open → under review → closed with an outcome, in the ledger."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey("core.Clinic", on_delete=models.PROTECT, related_name="impersonation_cases")
    scan = models.ForeignKey(Scan, on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    outcome = models.CharField(max_length=24, choices=CaseOutcome.choices, blank=True)
    notes = models.TextField(blank=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The takedown notice: the platform it is addressed to and where the content is.
    takedown_platform = models.CharField(max_length=120, blank=True)
    takedown_url = models.URLField(max_length=500, blank=True)
    takedown_recorded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Case {self.id} ({self.status})"
